"""Small synthetic data sets for the model and training tests."""

from __future__ import annotations

import numpy as np

from vaelab.data import DataInfo, Dataset


def image_data(shape: tuple[int, ...] = (1, 8, 8), n: int = 64, hi: float = 255.0,
               seed: int = 0) -> Dataset:
    """Random images with integer grey levels in [0, hi], labels 0..3."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, int(hi) + 1, size=(n, *shape)).astype(np.float32)
    y = np.arange(n) % 4
    info = DataInfo(name="toy-images", source="test", kind="image", shape=shape,
                    value_range=(0.0, hi), classes=("a", "b", "c", "d"))
    return Dataset.from_arrays(info, x, y, test_fraction=0.25, seed=0)


def table_data(d: int = 5, n: int = 80, seed: int = 0, conditions: int = 0) -> Dataset:
    """Correlated Gaussian columns with very different scales (to exercise the scaler); with
    ``conditions`` > 0, that many extra attribute columns (a0, a1, ...) as the conditions y."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 2))
    x = (z @ rng.normal(size=(2, d)) + 0.1 * rng.normal(size=(n, d))) * np.logspace(0, 3, d)
    x = x.astype(np.float32)
    y = None
    names = None
    if conditions:
        y = (z[:, :1] * 10 + 50 + rng.normal(size=(n, conditions))).astype(np.float32)  # (N, A)
        names = tuple(f"a{i}" for i in range(conditions))
    info = DataInfo(name="toy-table", source="test", kind="table", shape=(d,),
                    value_range=(float(x.min()), float(x.max())),
                    columns=tuple(f"c{i}" for i in range(d)), condition_columns=names)
    return Dataset.from_arrays(info, x, y, test_fraction=0.25, seed=0)
