"""vaelab.latent: sampling, post-hoc GMM sampler, interpolation, attribute vectors, traversals,
KL per dimension, active units and nearest training examples."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
from safetensors.numpy import load_file, save_file
from torch.distributions import Normal, kl_divergence

import vaelab
from vaelab import latent
from vaelab.config import ModelConfig
from vaelab.latent import GMMSampler

from helpers import image_data, table_data

SHAPE = (1, 8, 8)


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def tiny(model: str = "vae", latent_dim: int = 3, arch: str = "conv"):
    data = image_data()
    net = vaelab.build_model(ModelConfig(model=model, arch=arch, latent_dim=latent_dim, hidden=(16,),
                                         channels=4), data, seed=0)
    return net.eval(), data


@pytest.fixture(scope="module")
def digits():
    return vaelab.load_dataset("digits")


@pytest.fixture(scope="module")
def vae(digits):
    """A VAE trained long enough that its latent dimensions differ in use (KL 0.01 .. 0.7 nats)."""
    net = vaelab.build_model(ModelConfig(latent_dim=8, arch="mlp", hidden=(128,)), digits, seed=0)
    vaelab.fit(net, digits.x_train,
               config=vaelab.TrainConfig(epochs=10, batch_size=64, lr=1e-2, device="cpu"))
    return net.eval()


def embed(model, x) -> torch.Tensor:
    with torch.no_grad():
        return model.embed(torch.as_tensor(np.asarray(x)))


# -- codes and sampling ------------------------------------------------------------------------


def test_codes_are_the_embeddings_computed_in_batches(vae, digits, monkeypatch) -> None:
    x = digits.x_test[:100]
    z = latent.codes(vae, x, batch_size=7)
    assert isinstance(z, np.ndarray) and z.dtype == np.float32 and z.shape == (100, 8)
    np.testing.assert_allclose(z, embed(vae, x).numpy(), atol=1e-5)
    np.testing.assert_array_equal(latent.codes(vae, torch.from_numpy(x), batch_size=7), z)
    # Labels travel with their rows, batch by batch.
    seen = []
    original = vae.embed
    monkeypatch.setattr(vae, "embed", lambda xb, yb=None: seen.append(yb) or original(xb, yb))
    latent.codes(vae, x, y=np.arange(100), batch_size=30)
    assert [len(s) for s in seen] == [30, 30, 30, 10]
    assert torch.cat(seen).tolist() == list(range(100))


def test_codes_rejects_rows_of_the_wrong_shape(vae) -> None:
    with pytest.raises(ValueError, match=r"x has shape \(4, 64\); allowed: \(N, 1, 8, 8\)"):
        latent.codes(vae, np.zeros((4, 64)))
    with pytest.raises(ValueError, match="batch_size=0 is not allowed; it must be an integer >= 1"):
        latent.codes(vae, np.zeros((4, *SHAPE)), batch_size=0)


def test_prior_samples_are_reproducible_and_temperature_scales_the_codes(monkeypatch) -> None:
    model, _ = tiny()
    drawn = []
    decode = model.decode
    monkeypatch.setattr(model, "decode", lambda z, y=None: drawn.append(z.clone()) or decode(z, y))
    a = latent.sample(model, 2000, generator=gen(0))
    assert a.shape == (2000, *SHAPE) and 0 <= a.min() and a.max() <= 255
    assert torch.equal(a, latent.sample(model, 2000, generator=gen(0)))
    assert not torch.equal(a, latent.sample(model, 2000, generator=gen(1)))
    z1 = drawn[0]
    # z ~ N(0, I) at temperature 1 ...
    assert z1.mean(0).abs().max() < 0.1 and (z1.std(0) - 1).abs().max() < 0.06
    # ... and the same draws scaled by T at temperature T.
    drawn.clear()
    latent.sample(model, 2000, temperature=0.5, generator=gen(0))
    assert torch.equal(drawn[0], 0.5 * z1)
    # Decoding in batches changes nothing.
    assert torch.allclose(latent.sample(model, 10, generator=gen(2), batch_size=3),
                          latent.sample(model, 10, generator=gen(2)), atol=1e-4)


def test_sample_rejects_bad_arguments() -> None:
    model, data = tiny()
    for t in (0, -1.0, float("nan")):
        with pytest.raises(ValueError, match=rf"temperature={t!r} is not allowed; it must be a finite "):
            latent.sample(model, 4, temperature=t)
    with pytest.raises(ValueError, match="n=0 is not allowed; it must be an integer >= 1"):
        latent.sample(model, 0)
    with pytest.raises(ValueError, match="sampler='gmm' is not allowed; use 'prior' or a GMMSampler"):
        latent.sample(model, 4, sampler="gmm")
    ae, _ = tiny("ae")
    with pytest.raises(ValueError, match=r"an AE has no prior over its codes.*fit_gmm"):
        latent.sample(ae, 4)
    wide = latent.fit_gmm(tiny(latent_dim=5)[0], data.x_train, n_components=2)
    with pytest.raises(ValueError, match="draws codes of size 5; the model's latent_dim is 3"):
        latent.sample(model, 4, sampler=wide)


# -- the post-hoc GMM sampler ----------------------------------------------------------------


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
    with pytest.raises(ValueError, match="unknown covariance_type 'banana'; choose from: diag, full, "
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


# -- interpolation -----------------------------------------------------------------------------


def test_interpolation_endpoints_are_the_inputs_reconstructions(vae, digits) -> None:
    a, b = digits.x_test[0], digits.x_test[1]
    out = latent.interpolate(vae, a, b, steps=6)
    assert out.decoded.shape == (6, *SHAPE) and out.codes.shape == (6, 8)
    assert torch.allclose(out.codes[[0, -1]], embed(vae, digits.x_test[:2]), atol=1e-5)
    recon = vae.reconstruct(torch.from_numpy(digits.x_test[:2]))
    assert torch.allclose(out.decoded[[0, -1]], recon, atol=1e-4)
    same = latent.interpolate(vae, a[None], torch.from_numpy(b), steps=6)  # (1, *shape) and tensors
    assert torch.allclose(same.codes, out.codes)


def test_interpolation_between_codes_keeps_them_exactly(vae) -> None:
    za, zb = torch.randn(8, generator=gen(0)), torch.randn(8, generator=gen(1))
    for method in ("slerp", "lerp"):
        out = latent.interpolate(vae, za, zb, steps=5, method=method)
        assert torch.equal(out.codes[0], za) and torch.equal(out.codes[-1], zb)
        assert torch.allclose(out.decoded, vae.decode(out.codes).mean, atol=1e-5)
    path = latent.interpolate(vae, za, zb, steps=5, method="lerp").codes
    assert torch.allclose(path[2], (za + zb) / 2, atol=1e-6)
    assert torch.allclose(path.diff(dim=0), ((zb - za) / 4).expand(4, 8), atol=1e-6)


def test_slerp_moves_along_the_great_circle_with_linear_norm() -> None:
    a, b = torch.tensor([3.0, 0.0, 0.0]), torch.tensor([0.0, 1.0, 1.0])
    t = torch.linspace(0, 1, 9)
    z = latent.slerp(a, b, t)
    assert torch.allclose(z.norm(dim=1), (1 - t) * 3 + t * 2**0.5, atol=1e-6)
    # The angle from a grows linearly to the angle between a and b (here 90 degrees).
    angle = torch.arccos((z @ a) / (z.norm(dim=1) * 3).clamp_min(1e-12))
    assert torch.allclose(angle, t * torch.pi / 2, atol=1e-5)
    assert torch.allclose(z[:, 1], z[:, 2])  # stays in the plane of a and b
    assert (latent.lerp(a, b, t)[1:-1].norm(dim=1) < z[1:-1].norm(dim=1) - 1e-3).all()
    for parallel in (2.5 * a, -a, torch.zeros(3)):  # no unique great circle: falls back to lerp
        assert torch.allclose(latent.slerp(a, parallel, t), latent.lerp(a, parallel, t), atol=1e-6)


def test_interpolate_rejects_bad_arguments(vae, digits) -> None:
    a, b = digits.x_test[0], digits.x_test[1]
    with pytest.raises(ValueError, match=r"steps=1 is not allowed; it must be an integer >= 2 \(the "):
        latent.interpolate(vae, a, b, steps=1)
    with pytest.raises(ValueError, match="unknown interpolation method 'cubic'; choose from: lerp, slerp"):
        latent.interpolate(vae, a, b, method="cubic")
    with pytest.raises(ValueError, match=r"b has shape \(2, 1, 8, 8\); allowed: one input of shape "
                                         r"\(1, 8, 8\) or \(1, 1, 8, 8\), or a code of shape \(8,\)"):
        latent.interpolate(vae, a, digits.x_test[:2])


# -- attribute vectors -------------------------------------------------------------------------


def test_attribute_vector_is_the_difference_of_mean_codes(vae, digits) -> None:
    x, y = digits.x_train, digits.y_train
    v = latent.attribute_vector(vae, x[y == 0], x[y != 0], batch_size=13)
    expected = embed(vae, x[y == 0]).mean(0) - embed(vae, x[y != 0]).mean(0)
    assert v.shape == (8,) and torch.allclose(v, expected, atol=1e-5)
    assert torch.allclose(latent.attribute_vector(vae, x[y != 0], x[y == 0]), -v, atol=1e-6)
    assert latent.attribute_vector(vae, x, x).abs().max() == 0


def test_label_attribute_compares_a_class_with_another_or_the_rest(vae, digits) -> None:
    x, y = digits.x_train, digits.y_train
    rest = latent.label_attribute(vae, x, y, label=3)
    assert torch.allclose(rest, latent.attribute_vector(vae, x[y == 3], x[y != 3]), atol=1e-6)
    versus = latent.label_attribute(vae, torch.from_numpy(x), torch.from_numpy(y), label=3, versus=5)
    assert torch.allclose(versus, latent.attribute_vector(vae, x[y == 3], x[y == 5]), atol=1e-6)
    assert not torch.allclose(rest, versus, atol=1e-3)


def test_attribute_vectors_reject_bad_arguments(vae, digits) -> None:
    x, y = digits.x_train, digits.y_train
    with pytest.raises(ValueError, match="label=11 is not among the labels present: 0, 1, 2, .*, 8, 9$"):
        latent.label_attribute(vae, x, y, label=11)
    with pytest.raises(ValueError, match="versus=12 is not among the labels present"):
        latent.label_attribute(vae, x, y, label=1, versus=12)
    with pytest.raises(ValueError, match="versus=1 equals label"):
        latent.label_attribute(vae, x, y, label=1, versus=1)
    with pytest.raises(ValueError, match=r"y has shape \(5,\); allowed: \(1437,\), one label per row"):
        latent.label_attribute(vae, x, y[:5], label=1)
    with pytest.raises(ValueError, match="with_attr has 0 rows; it needs at least 1"):
        latent.attribute_vector(vae, x[:0], x)
    with pytest.raises(ValueError, match="without_attr has 0 rows"):
        latent.attribute_vector(vae, x, x[:0])
    ones = np.ones(len(x), dtype=np.int64)
    with pytest.raises(ValueError, match="without_attr has 0 rows"):  # every row has the label
        latent.label_attribute(vae, x, ones, label=1)


def test_apply_vector_shifts_codes_by_each_strength(vae, digits) -> None:
    x = digits.x_test[:4]
    v = latent.label_attribute(vae, digits.x_train, digits.y_train, label=0)
    out = latent.apply_vector(vae, x, v)
    assert out.shape == (4, 5, *SHAPE)
    assert torch.allclose(out[:, 2], vae.reconstruct(torch.from_numpy(x)), atol=1e-5)  # strength 0
    assert torch.allclose(out[:, 4], vae.decode(embed(vae, x) + 2 * v).mean, atol=1e-5)
    assert not torch.allclose(out[:, 0], out[:, 4], atol=1e-2)
    assert latent.apply_vector(vae, x, v, strengths=[0.5], batch_size=3).shape == (4, 1, *SHAPE)
    with pytest.raises(ValueError, match=r"v has shape \(9,\); allowed: \(8,\), one latent vector"):
        latent.apply_vector(vae, x, torch.zeros(9))
    with pytest.raises(ValueError, match=r"strengths=\(\) is not allowed; give a non-empty list"):
        latent.apply_vector(vae, x, v, strengths=())


# -- traversals, KL per dimension, active units ------------------------------------------------


def test_traverse_replaces_one_coordinate_at_a_time(vae, digits) -> None:
    x = digits.x_test[0]
    t = latent.traverse(vae, x, dims=[2, 5], values=[-1.0, 0.0, 2.0])
    assert t.images.shape == (2, 3, *SHAPE) and t.dims == [2, 5] and t.codes.shape == (2, 3, 8)
    z0 = embed(vae, x[None])[0]
    for i, d in enumerate(t.dims):
        assert t.codes[i, :, d].tolist() == [-1.0, 0.0, 2.0]
        others = [j for j in range(8) if j != d]
        assert torch.equal(t.codes[i][:, others], z0[others].expand(3, 7))
    assert torch.allclose(t.images, vae.decode(t.codes.reshape(6, 8)).mean.reshape(2, 3, *SHAPE), atol=1e-5)


def test_traverse_picks_the_most_active_dimensions(vae, digits) -> None:
    ref = digits.x_test
    t = latent.traverse(vae, ref[0], reference=ref)
    kl = latent.kl_per_dimension(vae, ref)
    assert t.dims == np.argsort(-kl)[:5].tolist() and t.dims != [0, 1, 2, 3, 4]
    assert np.all(np.diff(kl[t.dims]) <= 0)  # sorted by KL, descending
    assert torch.equal(t.values, torch.linspace(-3, 3, 7)) and t.images.shape == (5, 7, *SHAPE)
    assert latent.traverse(vae, ref[0]).dims == [0, 1, 2, 3, 4]  # no reference
    assert latent.traverse(vae, ref[0], n_dims=20).dims == list(range(8))
    ae, data = tiny("ae", latent_dim=6)
    variance = latent.codes(ae, data.x_train).var(0)
    assert latent.traverse(ae, data.x_train[0], n_dims=6, reference=data.x_train).dims == \
        np.argsort(-variance).tolist()


def test_traverse_rejects_bad_arguments(vae, digits) -> None:
    x = digits.x_test[0]
    for dims in ([8], [-1], []):
        with pytest.raises(ValueError, match=r"dims=\[.*\] is not allowed; give at least one latent "
                                             r"dimension in 0..7"):
            latent.traverse(vae, x, dims=dims)
    with pytest.raises(ValueError, match=r"values has shape \(2, 2\); allowed: \(V,\) with V >= 1"):
        latent.traverse(vae, x, values=np.zeros((2, 2)))
    with pytest.raises(ValueError, match="n_dims=0 is not allowed"):
        latent.traverse(vae, x, n_dims=0)
    with pytest.raises(ValueError, match=r"reference has shape \(3, 64\)"):
        latent.traverse(vae, x, reference=np.zeros((3, 64)))


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


# -- nearest training examples -----------------------------------------------------------------


@pytest.mark.parametrize("space", ["data", "latent"])
def test_nearest_training_examples_finds_copies_and_true_neighbours(vae, digits, space) -> None:
    train = digits.x_train
    idx, dist = latent.nearest_training_examples(vae, train[[5, 100, 7]], train, k=3, space=space)
    assert idx.shape == dist.shape == (3, 3) and idx.dtype == np.int64
    # Distance 0 up to rounding (codes of a batch of 3 and of 1024 may differ in the last bit).
    assert np.all(dist[:, 0] < 1e-5) and np.array_equal(train[idx[:, 0]], train[[5, 100, 7]])
    # Against brute force on other queries (given as a tensor, like generated samples).
    queries = torch.from_numpy(digits.x_test[:20])
    idx, dist = latent.nearest_training_examples(vae, queries, train, k=4, space=space)
    points = (lambda a: a.reshape(len(a), -1)) if space == "data" else (lambda a: latent.codes(vae, a))
    full = np.linalg.norm(points(queries.numpy())[:, None] - points(train)[None], axis=-1)
    np.testing.assert_allclose(dist, np.sort(full, axis=1)[:, :4], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(np.take_along_axis(full, idx, axis=1), dist, rtol=1e-4, atol=1e-4)


def test_nearest_training_examples_rejects_bad_arguments(vae, digits) -> None:
    q, train = digits.x_test[:2], digits.x_train[:10]
    with pytest.raises(ValueError, match=r"k=11 is not allowed; it must be an integer from 1 to 10 "
                                         r"\(the number of rows of train_x\)"):
        latent.nearest_training_examples(vae, q, train, k=11)
    with pytest.raises(ValueError, match="k=0 is not allowed"):
        latent.nearest_training_examples(vae, q, train, k=0)
    with pytest.raises(ValueError, match="space='pixels' is not allowed; choose from: data, latent"):
        latent.nearest_training_examples(vae, q, train, space="pixels")
    with pytest.raises(ValueError, match=r"queries has shape \(8, 8\)"):
        latent.nearest_training_examples(vae, q[0, 0], train)


def test_attribute_vector_recovers_a_known_latent_direction(monkeypatch) -> None:
    """Synthetic codes: rows with the attribute are shifted by 1.5 along a known unit direction u;
    the attribute vector must point along u (cosine > 0.9) despite the per-row spread."""
    data = table_data(d=6, n=40)
    model = vaelab.build_model(ModelConfig(model="ae", latent_dim=6, hidden=(8,)), data, seed=0)
    monkeypatch.setattr(model, "embed", lambda x, y=None: x)  # codes = inputs: a known latent space
    rng = np.random.default_rng(0)
    u = rng.normal(size=6)
    u /= np.linalg.norm(u)
    without = rng.normal(size=(200, 6)).astype(np.float32)
    with_attr = (rng.normal(size=(200, 6)) + 1.5 * u).astype(np.float32)
    v = latent.attribute_vector(model, with_attr, without).double().numpy()
    cosine = v @ u / np.linalg.norm(v)
    assert cosine > 0.9, cosine
    assert np.linalg.norm(v) == pytest.approx(1.5, abs=0.3)
