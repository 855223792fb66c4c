"""numpy arrays as datasets: ``.npy`` and ``.npz`` files, and the shape rules shared with IDX files.

One array of N examples becomes a table when it is (N, D) and images when it is (N, H, W),
(N, C, H, W) or channels-last (N, H, W, C), with C in {1, 3, 4}.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from vaelab.data.dataset import DataInfo, Dataset, split_indices
from vaelab.data.values import as_float32, encode_labels, image_value_range, observed_range

CHANNELS = (1, 3, 4)
LAYOUTS = "(N, D) table, (N, H, W), (N, C, H, W) or (N, H, W, C) images with C in 1, 3, 4"
X_KEYS = ("x", "X", "data", "arr_0")
Y_KEYS = ("y", "labels")
SPLIT_KEYS = ("x_train", "x_test", "y_train", "y_test")


def one_line(error: BaseException) -> str:
    """An exception's message squeezed onto one line, for embedding in our own messages."""
    return " ".join(str(error).split()) or type(error).__name__


def to_examples(x: np.ndarray, where: str) -> tuple[np.ndarray, str]:
    """Reshape raw array ``x`` to (N, D) for a table or (N, C, H, W) for images; return it and the kind.

    The dtype is kept, so the caller can still tell 8-bit images (value range 0..255) apart.
    """
    if x.dtype.kind not in "biuf":
        raise ValueError(
            f"{where}: arrays of dtype {x.dtype} are not supported; allowed: numeric (bool, int, float)"
        )
    if x.ndim == 2:
        return x, "table"
    if x.ndim == 3:
        return x[:, None], "image"  # (N, H, W) -> (N, 1, H, W)
    if x.ndim == 4:
        if x.shape[1] in CHANNELS:
            return x, "image"
        # Channels-last only when H and W are clearly spatial, so (N, 3, 32, 32) is never misread.
        if x.shape[3] in CHANNELS and x.shape[1] > 4 and x.shape[2] > 4:
            return x.transpose(0, 3, 1, 2), "image"  # (N, H, W, C) -> (N, C, H, W)
    raise ValueError(f"{where}: array of shape {x.shape} is not supported; allowed: {LAYOUTS}")


def column_names(d: int) -> tuple[str, ...]:
    """Default table column names ``x0 .. x{d-1}``."""
    return tuple(f"x{i}" for i in range(d))


def dataset_from_array(
    x: np.ndarray,
    y: np.ndarray | None,
    *,
    name: str,
    source: str,
    where: str,
    test_fraction: float,
    seed: int,
) -> Dataset:
    """Turn one raw array ``x`` (see :func:`to_examples`) and raw labels ``y`` (N,) into a seeded split.

    ``split("all")`` returns the rows in the array's order. Tables get their value range from the
    training rows only; images from every row.
    """
    if len(x) == 0:
        raise ValueError(f"{where}: has no rows; at least 2 are needed")
    examples, kind = to_examples(x, where)
    data = as_float32(examples, where, columns=column_names(examples.shape[1]) if kind == "table" else None)
    ids, classes = None, None
    if y is not None:
        if len(y) != len(x):
            raise ValueError(f"{where}: {len(y)} labels for {len(x)} rows; the counts must match")
        ids, classes = encode_labels(y, where)
    train, test = split_indices(len(data), ids, test_fraction, seed, where)
    if kind == "table":
        columns = column_names(data.shape[1])
        value_range = observed_range(data[train])
    else:
        columns, value_range = None, image_value_range(examples)
    info = DataInfo(name, source, kind, data.shape[1:], value_range, columns=columns, classes=classes)
    return Dataset.from_indices(info, data, ids, train, test)


def load_npy(path: Path, *, source: str, test_fraction: float, seed: int) -> Dataset:
    """Load a ``.npy`` file holding one array of examples (no labels) with a seeded split."""
    x = _load(path)
    if not isinstance(x, np.ndarray):
        x.close()
        raise ValueError(f"{path}: is an .npz archive, not a .npy array; rename it to .npz")
    if x.ndim == 0:
        raise ValueError(f"{path}: holds a scalar, not an array of examples; allowed: {LAYOUTS}")
    return dataset_from_array(
        x, None, name=path.stem, source=source, where=str(path), test_fraction=test_fraction, seed=seed
    )


def load_npz(path: Path, *, source: str, test_fraction: float, seed: int) -> Dataset:
    """Load a ``.npz`` file: either ``x_train``/``x_test`` (+ ``y_train``/``y_test``), which fix the
    split, or one array under ``x``/``X``/``data``/``arr_0`` (+ ``y``/``labels``), split at random.
    """
    npz = _load(path)
    if not isinstance(npz, np.lib.npyio.NpzFile):
        raise ValueError(f"{path}: is a plain .npy array, not an .npz archive; rename it to .npy")
    with npz:
        keys = list(npz.files)
        found = ", ".join(keys) or "(none)"
        x_names, y_names = ", ".join(X_KEYS), ", ".join(Y_KEYS)
        allowed = f"x_train + x_test (+ y_train + y_test), or one of {x_names} (+ one of {y_names})"
        if "x_train" in keys or "x_test" in keys:
            if not {"x_train", "x_test"} <= set(keys) or not set(keys) <= set(SPLIT_KEYS):
                raise ValueError(f"{path}: has keys {found}; allowed: {allowed}")
            if ("y_train" in keys) != ("y_test" in keys):
                raise ValueError(f"{path}: has keys {found}; give both y_train and y_test or neither")
            arrays = {k: _member(npz, k, path) for k in keys}
            return _fixed_split(path, source, arrays)
        x_keys = [k for k in keys if k in X_KEYS]
        y_keys = [k for k in keys if k in Y_KEYS]
        if len(x_keys) != 1 or len(y_keys) > 1 or len(keys) != len(x_keys) + len(y_keys):
            raise ValueError(f"{path}: has keys {found}; allowed: {allowed}")
        x = _member(npz, x_keys[0], path)
        y = _member(npz, y_keys[0], path) if y_keys else None
    if x.ndim == 0:
        raise ValueError(f"{path}: {x_keys[0]!r} holds a scalar; allowed: {LAYOUTS}")
    if y is not None and (y.ndim != 1 or len(y) != len(x)):
        raise ValueError(
            f"{path}: {y_keys[0]!r} has {y.shape} labels but {x_keys[0]!r} has {len(x)} rows; the counts "
            "must match"
        )
    return dataset_from_array(
        x, y, name=path.stem, source=source, where=str(path), test_fraction=test_fraction, seed=seed
    )


def _fixed_split(path: Path, source: str, arrays: dict[str, np.ndarray]) -> Dataset:
    """Dataset from an npz whose ``x_train``/``x_test`` (+ labels) already define the split."""
    parts = {}
    for split in ("train", "test"):
        x = arrays[f"x_{split}"]
        where = f"{path}: x_{split}"
        if x.ndim == 0 or len(x) == 0:
            raise ValueError(f"{where} has no rows; each split needs at least 1")
        parts[split] = to_examples(x, where)
        if (y := arrays.get(f"y_{split}")) is not None and (y.ndim != 1 or len(y) != len(x)):
            raise ValueError(
                f"{path}: y_{split} has {y.shape} labels but x_{split} has {len(x)} rows; the counts must "
                "match"
            )
    (x_train, kind), (x_test, kind_test) = parts["train"], parts["test"]
    if kind != kind_test or x_train.shape[1:] != x_test.shape[1:]:
        raise ValueError(
            f"{path}: x_train examples have shape {x_train.shape[1:]} but x_test examples have "
            f"{x_test.shape[1:]}; they must match"
        )
    ids = classes = None
    if "y_train" in arrays:
        # Encode both splits together so a label id means the same class on both sides.
        ids, classes = encode_labels(np.concatenate([arrays["y_train"], arrays["y_test"]]), str(path))
    columns = column_names(x_train.shape[1]) if kind == "table" else None
    data = {s: as_float32(parts[s][0], f"{path}: x_{s}", columns=columns) for s in ("train", "test")}
    if kind == "table":
        value_range = observed_range(data["train"])
    else:
        (lo_a, hi_a), (lo_b, hi_b) = image_value_range(x_train), image_value_range(x_test)
        value_range = (min(lo_a, lo_b), max(hi_a, hi_b))
    info = DataInfo(path.stem, source, kind, x_train.shape[1:], value_range, columns=columns, classes=classes)
    n = len(x_train)
    return Dataset(
        info=info,
        x_train=data["train"],
        y_train=None if ids is None else ids[:n],
        x_test=data["test"],
        y_test=None if ids is None else ids[n:],
    )


def _load(path: Path) -> np.ndarray | np.lib.npyio.NpzFile:
    """``np.load`` without pickles, its errors turned into one-line ``ValueError``s naming the file."""
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
        raise _read_error(path, None, e) from None


def _member(npz: np.lib.npyio.NpzFile, key: str, path: Path) -> np.ndarray:
    """``npz[key]``, with the same error handling as :func:`_load`."""
    try:
        return npz[key]
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
        raise _read_error(path, key, e) from None


def _read_error(path: Path, key: str | None, error: BaseException) -> ValueError:
    what = f"{key!r} in " if key else ""
    if "allow_pickle" in str(error):
        return ValueError(
            f"{path}: {what}holds Python objects; only numeric arrays are allowed (save without pickling)"
        )
    return ValueError(f"{path}: cannot read {what}the file ({one_line(error)})")
