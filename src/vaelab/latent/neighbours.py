"""The memorization check: the training rows nearest to each generated sample."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from torch import Tensor

from vaelab._batching import BATCH, Array
from vaelab._checks import check_int, check_rows
from vaelab.latent.codes import codes
from vaelab.models import Autoencoder


class Neighbours(NamedTuple):
    """indices : (n, k) int64 rows of the training data, nearest first; distances : (n, k)."""

    indices: np.ndarray
    distances: np.ndarray


SPACES = ("data", "latent")


def nearest_training_examples(model: Autoencoder, queries: Array, train_x: Array, k: int = 3,
                              space: str = "data", batch_size: int = BATCH) -> Neighbours:
    """The ``k`` (1 to N) rows of ``train_x`` (N, *shape) nearest to each of ``queries`` (n, *shape),
    e.g. generated samples, by Euclidean distance in data space (flattened) or in latent space
    (codes), using scikit-learn's ``NearestNeighbors``. A sample at distance ~0 is a copy.

    >>> idx, dist = nearest_training_examples(model, sample(model, 16), data.x_train, k=3)
    """
    queries = check_rows(queries, model.config.input_shape, "queries")
    train_x = check_rows(train_x, model.config.input_shape, "train_x")
    if space not in SPACES:
        raise ValueError(f"space={space!r} is not allowed; choose from: {', '.join(SPACES)}")
    check_int(k, "k", 1, len(train_x), " (the number of rows of train_x)")
    from sklearn.neighbors import NearestNeighbors  # imported here: slow to import, rarely needed

    def points(a: Array) -> np.ndarray:  # (rows, features) for the index
        if space == "latent":
            return codes(model, a, batch_size=batch_size)
        a = a.detach().cpu().numpy() if isinstance(a, Tensor) else a
        return a.reshape(len(a), -1)

    distances, indices = NearestNeighbors(n_neighbors=k).fit(points(train_x)).kneighbors(points(queries))
    return Neighbours(indices.astype(np.int64), distances)
