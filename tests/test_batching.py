"""vaelab._batching: codes (latent.codes) are the embeddings, computed in batches with their labels."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vaelab import latent

from helpers import SHAPE, embed


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
