"""vaelab.latent.traversal: traversals of one latent coordinate at a time, on the most used dimensions."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import SHAPE, embed, tiny

from vaelab import latent


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
