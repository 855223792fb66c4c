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


COLORS = ("red", "green", "blue")


def mixed_csv(path, n: int = 400, seed: int = 0, missing: float = 0.05, outliers: int = 0) -> list[int]:
    """Write a CSV of mixed columns: numeric ``width`` and ``height`` that depend on a text column
    ``color`` (3 categories), a ``size`` column (small / large, from height), and an integer-coded
    ``grade`` 1..3 (from width); a share ``missing`` of cells is empty, NA or ?. The last
    ``outliers`` rows break the pattern (a color with the others' sizes); returns their row numbers."""
    rng = np.random.default_rng(seed)
    color = rng.integers(0, 3, size=n)
    width = np.array([10.0, 20.0, 30.0])[color] + rng.normal(0, 1.0, n)
    height = np.array([5.0, 1.0, 3.0])[color] * 100 + rng.normal(0, 10.0, n)
    if outliers:
        width[-outliers:] = np.array([10.0, 20.0, 30.0])[(color[-outliers:] + 1) % 3]
        height[-outliers:] = np.array([5.0, 1.0, 3.0])[(color[-outliers:] + 2) % 3] * 100
    size = np.where(height > 200, "large", "small")
    grade = np.digitize(width, [15, 25]) + 1
    lines = ["width,color,height,size,grade"]
    blanks = ("", "NA", "?")
    for i in range(n):
        cells = [f"{width[i]:.3f}", COLORS[color[i]], f"{height[i]:.2f}", size[i], str(grade[i])]
        for j in range(len(cells)):
            if i < n - outliers and rng.random() < missing:
                cells[j] = blanks[rng.integers(0, 3)]
        lines.append(",".join(cells))
    path.write_text("\n".join(lines) + "\n")
    return list(range(n - outliers, n))
