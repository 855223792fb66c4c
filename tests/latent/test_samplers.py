"""vaelab.latent.samplers: the post-hoc GMM sampler: its fit, its draws, its arrays and its errors."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
from helpers import SHAPE, gen, tiny
from safetensors.numpy import load_file, save_file

from vaelab import latent
from vaelab.latent import GMMSampler


def test_gmm_reproduces_the_moments_of_the_training_codes(vae, digits) -> None:
    z_train = latent.codes(vae, digits.x_train).astype(np.float64)
    gmm = latent.fit_gmm(vae, digits.x_train, n_components=10)
    assert gmm.weights.shape == (10,) and gmm.means.shape == (10, 8) and gmm.covariances.shape == (10, 8, 8)
    # At an EM fixed point the mixture's mean is the data mean (and its covariance the data's).
    mixture_mean = gmm.weights @ gmm.means / gmm.weights.sum()
    np.testing.assert_allclose(mixture_mean, z_train.mean(0), atol=1e-5)
    z = gmm.sample(5000, generator=gen(0)).numpy()
    assert z.shape == (5000, 8) and z.dtype == np.float32
    scale = z_train.std(0).max()
    assert np.abs(z.mean(0) - mixture_mean).max() < 0.06 * scale
    cov_train = np.cov(z_train, rowvar=False, bias=True)
    assert np.abs(np.cov(z, rowvar=False) - cov_train).max() < 0.1 * np.diag(cov_train).max()


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_one_component_gmm_is_the_gaussian_fit_of_the_codes(vae, digits, covariance_type) -> None:
    z = latent.codes(vae, digits.x_train).astype(np.float64)
    cov = np.cov(z, rowvar=False, bias=True) + 1e-6 * np.eye(8)  # sklearn's reg_covar
    expected = {"full": cov, "tied": cov, "diag": np.diag(np.diag(cov)),
                "spherical": np.diag(cov).mean() * np.eye(8)}[covariance_type]
    gmm = latent.fit_gmm(vae, digits.x_train, n_components=1, covariance_type=covariance_type)
    np.testing.assert_allclose(gmm.means[0], z.mean(0), atol=1e-6)
    np.testing.assert_allclose(gmm.covariances[0], expected, rtol=1e-5, atol=1e-8)


def test_gmm_sampler_draws_from_its_mixture_without_sklearn(monkeypatch) -> None:
    cov = np.array([[[4.0, 1.5], [1.5, 1.0]], [[1.0, 0.0], [0.0, 9.0]]])
    gmm = GMMSampler(np.array([1.0, 3.0]), np.array([[-20.0, 0.0], [20.0, 0.0]]), cov)
    for name in ("sklearn", "sklearn.mixture"):  # sampling must not import scikit-learn
        monkeypatch.setitem(sys.modules, name, None)
    z = gmm.sample(20000, generator=gen(0)).double().numpy()
    right = z[:, 0] > 0
    assert abs(right.mean() - 0.75) < 0.015  # weights are normalized
    for k, rows in enumerate((~right, right)):
        np.testing.assert_allclose(np.cov(z[rows], rowvar=False), cov[k], atol=0.2)
    # Temperature scales each draw's offset from its component's mean, nothing else.
    cold = gmm.sample(20000, temperature=0.5, generator=gen(0)).double().numpy()
    means = gmm.means[right.astype(int)]
    np.testing.assert_allclose(cold - means, 0.5 * (z - means), atol=1e-4)


def test_gmm_round_trips_through_plain_arrays_and_lets_an_ae_sample(tmp_path) -> None:
    ae, data = tiny("ae")
    gmm = latent.fit_gmm(ae, data.x_train, n_components=3, seed=1)
    np.savez(tmp_path / "gmm.npz", **gmm.to_arrays())
    save_file(gmm.to_arrays(), str(tmp_path / "gmm.safetensors"))
    for loaded in (GMMSampler.from_arrays(np.load(tmp_path / "gmm.npz", allow_pickle=False)),
                   GMMSampler.from_arrays(load_file(str(tmp_path / "gmm.safetensors")))):
        for key in GMMSampler.KEYS:
            assert np.array_equal(getattr(loaded, key), getattr(gmm, key))
        assert torch.equal(loaded.sample(50, generator=gen(4)), gmm.sample(50, generator=gen(4)))
    x = latent.sample(ae, 8, sampler=gmm, generator=gen(0))
    assert x.shape == (8, *SHAPE) and 0 <= x.min() and x.max() <= 255
    assert torch.equal(x, latent.sample(ae, 8, sampler=gmm, generator=gen(0)))
    assert not torch.equal(x[0], x[1])


def test_fit_gmm_rejects_bad_arguments() -> None:
    model, data = tiny()
    with pytest.raises(ValueError, match=r"n_components=0 is not allowed; it must be an integer from 1 to "
                                         r"48 \(the number of rows of x\)"):
        latent.fit_gmm(model, data.x_train, n_components=0)
    with pytest.raises(ValueError, match="n_components=49 is not allowed"):
        latent.fit_gmm(model, data.x_train, n_components=49)
    with pytest.raises(ValueError, match="covariance_type='banana' is not allowed; choose from: diag, full, "
                                         "spherical, tied"):
        latent.fit_gmm(model, data.x_train, covariance_type="banana")


def test_gmm_sampler_rejects_bad_arrays() -> None:
    w, m, c = np.ones(2), np.zeros((2, 3)), np.stack([np.eye(3)] * 2)
    with pytest.raises(ValueError, match=r"got keys \['means', 'weights'\]; allowed: exactly weights, means, "
                                         "covariances"):
        GMMSampler.from_arrays({"weights": w, "means": m})
    with pytest.raises(ValueError, match=r"covariances \(2, 2, 2\); allowed: \(K,\), \(K, Z\), \(K, Z, Z\)"):
        GMMSampler(w, m, np.stack([np.eye(2)] * 2))
    with pytest.raises(ValueError, match="weights .* are not allowed; they must be finite, >= 0"):
        GMMSampler(np.array([1.0, -1.0]), m, c)
    with pytest.raises(ValueError, match="covariances symmetric"):
        GMMSampler(w, m, c + np.triu(np.ones((3, 3)), 1))
    with pytest.raises(ValueError, match="every covariance must be positive definite"):
        GMMSampler(w, m, -c)
