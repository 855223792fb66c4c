"""vaelab.latent.neighbours: nearest training examples in data or latent space."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vaelab import latent


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
