"""vaelab.latent.attributes: attribute vectors from examples or labels, and shifting codes along them."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import SHAPE, embed, table_data

import vaelab
from vaelab import latent
from vaelab.config import ModelConfig


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
