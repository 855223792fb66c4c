"""vaelab._batching: rows a batch at a time (batches, map_batches), and the codes computed with them."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import SHAPE, embed

from vaelab import latent
from vaelab._batching import batches, map_batches


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


def test_batches_slice_rows_and_labels_in_order_on_the_device() -> None:
    x, y = np.arange(10.0).reshape(5, 2), np.arange(5)
    got = list(batches(x[::-1], y, batch_size=2))  # a reversed view is copied, not rejected
    assert [len(xb) for xb, _ in got] == [2, 2, 1]
    assert torch.cat([xb for xb, _ in got]).tolist() == x[::-1].tolist()
    assert torch.cat([yb for _, yb in got]).dtype == torch.int64
    with pytest.raises(ValueError, match="batch_size=0 is not allowed"):
        list(batches(x, batch_size=0))


def test_map_batches_gives_the_same_result_for_any_batch_size() -> None:
    x = np.random.default_rng(0).normal(size=(7, 3))
    one = map_batches(lambda xb: xb.sum(1), x, batch_size=7)
    for size in (1, 2, 3):
        assert torch.equal(map_batches(lambda xb: xb.sum(1), x, batch_size=size), one)
    pairs = map_batches(lambda xb, yb: xb[:, 0] + yb, x, np.arange(7), batch_size=3)
    assert pairs.shape == (7,)
    assert map_batches(lambda xb: xb, np.zeros((0, 3)), empty=(3,)).shape == (0, 3)
    with pytest.raises(ValueError, match="x has 0 rows"):
        map_batches(lambda xb: xb, np.zeros((0, 3)))
