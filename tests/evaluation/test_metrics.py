"""vaelab.evaluation.metrics: likelihoods against closed forms, KL per dimension, active units."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from helpers import embed, image_data, tiny
from torch import nn
from torch.distributions import Normal, kl_divergence

import vaelab
from vaelab import latent
from vaelab.config import ModelConfig
from vaelab.data import DataInfo, Dataset
from vaelab.evaluation import metrics

pytestmark = pytest.mark.usefixtures("one_thread")


D, Z, SIGMA = 5, 2, 0.5


def ppca(n: int = 300, seed: int = 0):
    """A linear-Gaussian VAE x = mu + W z + sigma * e with orthogonal columns in W, its exact
    posterior encoder, data drawn from it, and the exact log p(x) of every row.

    With W = U diag(s) (U orthonormal), the posterior is diagonal: N(diag(s / (s^2 + sigma^2)) U^T
    (x - mu), diag(sigma^2 / (s^2 + sigma^2))) (Tipping & Bishop 1999, sec. 3.2)."""
    g = torch.Generator().manual_seed(seed)
    u, _ = torch.linalg.qr(torch.randn(D, Z, generator=g))
    s = torch.tensor([2.0, 1.0])
    w = u * s  # (D, Z)
    mu = torch.randn(D, generator=g)
    x = mu + torch.randn(n, Z, generator=g) @ w.T + SIGMA * torch.randn(n, D, generator=g)
    info = DataInfo("ppca", "test", "table", (D,), (float(x.min()), float(x.max())),
                    columns=tuple(f"c{i}" for i in range(D)))
    data = Dataset.from_arrays(info, x.numpy().astype(np.float32), test_fraction=0.5)
    model = vaelab.build_model(ModelConfig(arch="mlp", likelihood="gaussian", scale="fixed",
                                           sigma=SIGMA, latent_dim=Z, hidden=(4,)), data)
    with torch.no_grad():
        model.scaler.shift.copy_(mu.reshape(1, D))
        model.scaler.scale.fill_(1.0)
        model.decoder = nn.Linear(Z, D)
        model.decoder.weight.copy_(w)
        model.decoder.bias.zero_()
        model.encoder = nn.Linear(D, 2 * Z)
        model.encoder.weight.zero_()
        model.encoder.weight[:Z] = (s / (s**2 + SIGMA**2))[:, None] * u.T
        model.encoder.bias.zero_()
        model.encoder.bias[Z:] = torch.log(SIGMA**2 / (s**2 + SIGMA**2))
    exact = torch.distributions.MultivariateNormal(mu, w @ w.T + SIGMA**2 * torch.eye(D))
    x_test = torch.as_tensor(data.x_test)
    return model, data.x_test, exact.log_prob(x_test).double().numpy()


def test_exact_posterior_makes_elbo_and_iwae_equal_log_px() -> None:
    model, x, log_px = ppca()
    # with q(z|x) = p(z|x) every importance weight p(x, z) / q(z|x) equals p(x): no gap, no variance
    np.testing.assert_allclose(metrics.log_likelihood(model, x, k=50), log_px, atol=1e-4)
    # and so does their mean: the -ELBO that bounds() takes from the same draws is exact as well
    np.testing.assert_allclose(-metrics.bounds(model, x, k=5).neg_elbo, log_px, atol=1e-4)
    # the one-sample ELBO (closed-form KL) equals log p(x) only in expectation: within 4 standard errors
    gap = -metrics.elbo(model, x).neg_elbo - log_px
    assert abs(gap.mean()) < 4 * metrics.standard_error(gap)


def perturbed_ppca():
    model, x, log_px = ppca()
    with torch.no_grad():  # a worse proposal: shrunken means, doubled variances
        model.encoder.weight[:Z] *= 0.9
        model.encoder.bias[Z:] += math.log(2.0)
    return model, x, log_px


def test_iwae_with_large_k_recovers_the_exact_log_likelihood_and_elbo_stays_below() -> None:
    model, x, log_px = perturbed_ppca()
    # the one-sample ELBO is noisy: average it over seeds to see the gap KL(q || p(z|x)) > 0
    elbo = np.mean([-metrics.elbo(model, x, seed=s).neg_elbo.mean() for s in range(10)])
    assert elbo < log_px.mean() - 0.05
    iwae = metrics.log_likelihood(model, x, k=5000, rows_per_pass=4096)
    assert abs(iwae.mean() - log_px.mean()) < 0.005
    np.testing.assert_allclose(iwae, log_px, atol=0.06)


def test_iwae_estimate_tightens_as_k_grows_and_stays_a_lower_bound() -> None:
    model, x, log_px = perturbed_ppca()
    means = [metrics.log_likelihood(model, x, k=k, seed=1).mean() for k in (1, 10, 100, 1000)]
    assert all(a < b for a, b in zip(means[:-1], means[1:], strict=True)), means
    assert means[-1] <= log_px.mean() + 0.01  # a lower bound, up to Monte Carlo error
    nll = -metrics.log_likelihood(model, x, k=100).mean()
    assert nll <= metrics.elbo(model, x).neg_elbo.mean()


def test_iwae_does_not_depend_on_how_the_samples_are_chunked() -> None:
    model, x, _ = perturbed_ppca()
    a = metrics.log_likelihood(model, x, k=64, rows_per_pass=64)
    b = metrics.log_likelihood(model, x, k=64, rows_per_pass=100_000)
    # different chunking draws different samples; the estimates agree to Monte Carlo error
    assert abs(a.mean() - b.mean()) < 0.02
    np.testing.assert_array_equal(a, metrics.log_likelihood(model, x, k=64, rows_per_pass=64))


def test_bounds_from_shared_draws_keep_the_nll_below_the_neg_elbo_on_every_row(tiny_mixed) -> None:
    # Issue 17: on the 6 test rows of a 30-row mixed table, a -ELBO from one draw of its own fell
    # below the NLL for 3 of these 10 seeds (k = 20); from the same draws it cannot, row by row
    model, data = tiny_mixed
    x = metrics.prepared(model, data.x_test)
    assert len(x) == 6 and np.isnan(data.x_train).any()  # tiny, and with blank cells
    for seed in range(10):
        b = metrics.bounds(model, x, k=20, seed=seed)
        assert (b.nll < b.neg_elbo).all(), seed  # strictly: q(z|x) is not the exact posterior
        assert np.isfinite(b.rec).all() and np.isfinite(b.kl).all()
    # with one draw, the importance-weighted bound is the ELBO of that very draw
    one = metrics.bounds(model, x, k=1, seed=3)
    np.testing.assert_allclose(one.nll, one.neg_elbo, rtol=1e-12)


def test_standard_error_is_the_spread_of_the_mean() -> None:
    assert metrics.standard_error(np.array([1.0, 2.0, 3.0, 4.0])) == pytest.approx(math.sqrt(5 / 3) / 2)
    assert metrics.standard_error(np.full(9, 7.0)) == 0.0
    assert metrics.standard_error(np.array([2.0])) is None  # one row has no spread to measure


@pytest.fixture(scope="module")
def binary_vae():
    data = image_data(shape=(1, 6, 6), n=80)
    model = vaelab.build_model(ModelConfig(arch="mlp", binarize="dynamic", latent_dim=3, hidden=(16,)),
                               data)
    vaelab.fit(model, data.x_train, config=vaelab.TrainConfig(epochs=3, batch_size=16, device="cpu"))
    return model.eval(), data


def test_prepared_binarizes_once_with_a_seed(binary_vae) -> None:
    model, data = binary_vae
    a, b = metrics.prepared(model, data.x_test), metrics.prepared(model, data.x_test)
    np.testing.assert_array_equal(a, b)
    assert set(np.unique(a)) <= {0.0, 255.0}
    assert not np.array_equal(a, metrics.prepared(model, data.x_test, seed=1))
    assert metrics.is_exact_likelihood(model, a)
    assert not metrics.is_exact_likelihood(model, data.x_test)  # grey levels: a cross-entropy


def test_nll_is_below_neg_elbo_for_a_trained_bernoulli_vae(binary_vae) -> None:
    model, data = binary_vae
    x = metrics.prepared(model, data.x_test)
    terms = metrics.elbo(model, x)
    np.testing.assert_allclose(terms.neg_elbo, terms.rec + terms.kl)
    assert (terms.kl > 0).all()
    nll = -metrics.log_likelihood(model, x, k=200)
    assert nll.mean() < terms.neg_elbo.mean()
    assert metrics.bits_per_dim(nll.mean(), 36) == pytest.approx(nll.mean() / (36 * math.log(2)))


def test_reconstruction_error_matches_the_likelihood_at_the_code(binary_vae) -> None:
    model, data = binary_vae
    x = metrics.prepared(model, data.x_test)
    with torch.no_grad():
        t = torch.as_tensor(x)
        want = -model.decode(model.embed(t)).log_prob(t).double().numpy()
    np.testing.assert_allclose(metrics.reconstruction_error(model, x, batch_size=7), want, rtol=1e-6)


def test_probe_accuracy_on_separable_codes() -> None:
    # class 1 differs from class 0 by +3 in every column: a linear probe separates them
    rng = np.random.default_rng(0)
    y = np.arange(200) % 2
    x = (rng.normal(size=(200, D)) + 3.0 * y[:, None]).astype(np.float32)
    info = DataInfo("sep", "test", "table", (D,), (float(x.min()), float(x.max())),
                    columns=tuple("abcde"), classes=("no", "yes"))
    data = Dataset.from_arrays(info, x, y, test_fraction=0.5)
    model = vaelab.build_model(ModelConfig(model="ae", latent_dim=D, hidden=(8,)), data)
    with torch.no_grad():
        model.encoder = nn.Identity()  # codes = standardized inputs
    acc = metrics.probe_accuracy(model, data.x_train, data.y_train, data.x_test, data.y_test)
    assert acc > 0.95
    with pytest.raises(ValueError, match="single class"):
        metrics.probe_accuracy(model, data.x_train, np.zeros(100, int), data.x_test, data.y_test)
    with pytest.raises(ValueError, match="one label per row"):
        metrics.probe_accuracy(model, data.x_train, data.y_train[:5], data.x_test, data.y_test)


def test_metrics_refuse_bad_input(binary_vae) -> None:
    model, data = binary_vae
    with pytest.raises(ValueError, match=r"k=0 is not allowed; it must be an integer >= 1"):
        metrics.log_likelihood(model, data.x_test, k=0)
    with pytest.raises(ValueError, match="has shape"):
        metrics.elbo(model, data.x_test[:, :, :3])
    with pytest.raises(ValueError, match="0 rows"):
        metrics.log_likelihood(model, data.x_test[:0])
    with pytest.raises(ValueError, match=r"allowed: \(20,\) labels or \(20, A\) conditions, one row per"):
        metrics.elbo(model, data.x_test, y=np.zeros(3, int))
    ae = vaelab.build_model(ModelConfig(model="ae", arch="mlp", latent_dim=3, hidden=(8,)), data)
    with pytest.raises(ValueError, match="no posterior"):
        metrics.log_likelihood(ae, data.x_test, k=2)
    assert metrics.reconstruction_error(ae, data.x_test).shape == (len(data.x_test),)


def test_kl_per_dimension_agrees_with_torch_distributions(vae, digits) -> None:
    x = digits.x_test
    kl = latent.kl_per_dimension(vae, x, batch_size=50)
    q = vae.encode(torch.from_numpy(x))
    expected = kl_divergence(Normal(q.mean, q.std), Normal(0.0, 1.0)).mean(0).detach().numpy()
    assert kl.shape == (8,)
    np.testing.assert_allclose(kl, expected, rtol=1e-4, atol=1e-6)
    ae, data = tiny("ae")
    with pytest.raises(ValueError, match=r"AE has no posterior q\(z\|x\).*use a VAE"):
        latent.kl_per_dimension(ae, data.x_train)


def test_active_units_counts_variance_of_posterior_means(vae, digits) -> None:
    model, data = tiny(arch="mlp", latent_dim=4)
    with torch.no_grad():
        head = model.encoder.net[-1][-1]  # last Linear: rows 0..3 are the means, 4..7 log-variances
        head.weight[1].zero_()  # the mean of dimension 1 no longer depends on x: a dead unit
    x = data.x_train
    variance = embed(model, x).var(0)
    assert variance[1] == 0 and (variance[[0, 2, 3]] > 0).all()
    assert latent.active_units(model, x, threshold=0.0) == 3
    x = digits.x_test
    variance = embed(vae, x).double().var(0, unbiased=False)
    for threshold in (0.01, 0.1, 0.5):
        assert latent.active_units(vae, x, threshold=threshold) == int((variance > threshold).sum())
    with pytest.raises(ValueError, match=r"x has 1 row\(s\); at least 2 are needed"):
        latent.active_units(vae, x[:1])
    with pytest.raises(ValueError, match="threshold=-1 is not allowed; it must be a number >= 0"):
        latent.active_units(vae, x, threshold=-1)
