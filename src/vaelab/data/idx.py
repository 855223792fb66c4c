"""The IDX format of MNIST (LeCun et al., http://yann.lecun.com/exdb/mnist/): read, write, load as data.

An IDX file is a 4-byte magic number (two zero bytes, a type code, the number of dimensions), one
big-endian uint32 per dimension, then the values in C order, big-endian. Files ending in ``.gz``
are gzip-compressed. A directory holding the four files of MNIST's official split loads as one
dataset with that split.
"""

from __future__ import annotations

import gzip
import math
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from vaelab.data.arrays import dataset_from_array, one_line, to_examples
from vaelab.data.dataset import DataInfo, Dataset
from vaelab.data.values import as_float32, encode_labels, image_value_range, observed_range

# IDX type code -> big-endian numpy dtype.
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
# The four files of an MNIST-style split, by role.
SPLIT_FILES: dict[str, str] = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
IDX_PATTERNS = ("*-ubyte", "*.idx", "*-ubyte.gz", "*.idx.gz")


def is_idx_name(path: str | os.PathLike) -> bool:
    """Whether a file name looks like an IDX file (``*-ubyte``, ``*.idx``, optionally ``.gz``)."""
    name = Path(path).name.lower().removesuffix(".gz")
    return name.endswith("-ubyte") or name.endswith(".idx")


def read_idx_bytes(path: str | os.PathLike) -> bytes:
    """The raw (decompressed) bytes of an IDX file; names ending in ``.gz`` are gunzipped."""
    path = Path(path)
    if path.suffix.lower() != ".gz":
        return path.read_bytes()
    try:
        with gzip.open(path, "rb") as f:
            return f.read()
    except (gzip.BadGzipFile, EOFError, zlib.error) as e:
        raise ValueError(
            f"{path}: cannot decompress the gzip file ({one_line(e)}); it is damaged or not gzip"
        ) from None


def decode_idx(raw: bytes, where: str) -> np.ndarray:
    """Parse IDX bytes into an array in native byte order, shape as the header says."""
    if len(raw) < 4:
        raise ValueError(
            f"{where}: too short for an IDX file: expected at least 4 header bytes, found {len(raw)}"
        )
    if raw[0] != 0 or raw[1] != 0:
        raise ValueError(
            f"{where}: not an IDX file: magic starts with 0x{raw[0]:02x} 0x{raw[1]:02x}; expected 0x00 0x00"
        )
    code, ndim = raw[2], raw[3]
    if code not in IDX_DTYPES:
        allowed = ", ".join(f"0x{c:02X}" for c in IDX_DTYPES)
        raise ValueError(f"{where}: unknown IDX type code 0x{code:02X}; allowed: {allowed}")
    if ndim == 0:
        raise ValueError(f"{where}: IDX header declares 0 dimensions; at least 1 is needed")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(
            f"{where}: truncated IDX header: expected {header} bytes for {ndim} dims, found {len(raw)}"
        )
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = IDX_DTYPES[code]
    expected = header + math.prod(dims) * dtype.itemsize
    if len(raw) != expected:
        raise ValueError(
            f"{where}: IDX size mismatch: header says {dims} of {dtype.name} = {expected} bytes, found "
            f"{len(raw)} (truncated or damaged)"
        )
    flat = np.frombuffer(raw, dtype=dtype, count=math.prod(dims), offset=header)
    return flat.reshape(dims).astype(dtype.newbyteorder("="))  # copy: writable, native order


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (``.gz`` or plain) into a numpy array.

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "a-ubyte.gz"
    >>> write_idx(path, np.arange(6, dtype=np.uint8).reshape(2, 3))
    >>> read_idx(path).shape
    (2, 3)
    """
    return decode_idx(read_idx_bytes(path), str(path))


def write_idx(path: str | os.PathLike, array: np.ndarray) -> None:
    """Write ``array`` as an IDX file, gzip-compressed when ``path`` ends in ``.gz``.

    Allowed dtypes: uint8, int8, int16, int32, float32, float64 (the IDX type codes).
    """
    array = np.asarray(array)
    codes = {dt.newbyteorder("="): code for code, dt in IDX_DTYPES.items()}
    native = array.dtype.newbyteorder("=")
    if native not in codes:
        allowed = ", ".join(dt.newbyteorder("=").name for dt in IDX_DTYPES.values())
        raise ValueError(f"{path}: cannot write dtype {array.dtype} as IDX; allowed: {allowed}")
    if not 1 <= array.ndim <= 255 or max(array.shape) >= 2**32:
        raise ValueError(
            f"{path}: cannot write shape {array.shape} as IDX; allowed: 1 to 255 dims, each < 2**32"
        )
    header = bytes([0, 0, codes[native], array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + array.astype(native.newbyteorder(">")).tobytes()
    path = Path(path)
    if path.suffix.lower() == ".gz":
        # mtime=0 keeps the output byte-identical across runs.
        with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as f:
            f.write(payload)
    else:
        path.write_bytes(payload)


def labels_sibling(path: Path) -> Path | None:
    """The labels file next to an images file (``images`` -> ``labels``, ``idx3`` -> ``idx1``), if any."""
    name = path.name.replace("images", "labels").replace("idx3", "idx1")
    if name == path.name:
        return None
    base = name.removesuffix(".gz")
    for candidate in (path.with_name(base), path.with_name(base + ".gz")):
        if candidate.is_file():
            return candidate
    return None


def load_idx_file(path: Path, *, source: str, test_fraction: float, seed: int) -> Dataset:
    """Load one IDX file (3-D images or a 2-D table) and its sibling labels file, with a seeded split."""
    x = read_idx(path)
    if x.ndim == 1:
        raise ValueError(
            f"{path}: holds 1-D data (labels?); load the images file instead; allowed: 2-D (table) or 3-D "
            "(images)"
        )
    y = None
    if (label_path := labels_sibling(path)) is not None:
        y = read_idx(label_path)
        if y.ndim != 1 or len(y) != len(x):
            raise ValueError(
                f"{label_path}: has labels of shape {y.shape} but {path.name} has {len(x)} rows; the "
                "counts must match"
            )
    name = path.name.removesuffix(".gz").removesuffix(".GZ").removesuffix(".idx")
    return dataset_from_array(
        x, y, name=name, source=source, where=str(path), test_fraction=test_fraction, seed=seed
    )


def find_split_files(directory: Path) -> dict[str, Path]:
    """The MNIST-style files present in ``directory`` by role; plain files win over ``.gz``."""
    found = {}
    for role, name in SPLIT_FILES.items():
        for candidate in (directory / name, directory / f"{name}.gz"):
            if candidate.is_file():
                found[role] = candidate
                break
    return found


def load_idx_dir(directory: Path, *, source: str) -> Dataset:
    """Load a directory holding the four MNIST-style IDX files, keeping their train/test split."""
    files = find_split_files(directory)
    missing = [SPLIT_FILES[r] for r in SPLIT_FILES if r not in files]
    if missing:
        raise FileNotFoundError(
            f"{directory}: missing IDX file(s) {', '.join(missing)} (plain or .gz); all four are needed"
        )
    arrays = {role: read_idx(p) for role, p in files.items()}
    return split_dataset(arrays, files, name=directory.resolve().name, source=source)


def split_dataset(
    arrays: dict[str, np.ndarray],
    files: dict[str, Path],
    *,
    name: str,
    source: str,
    classes: tuple[str, ...] | None = None,
) -> Dataset:
    """Assemble the four decoded arrays of an MNIST-style split (keys of :data:`SPLIT_FILES`).

    With ``classes`` the labels are taken as ids into it (checked); without, they are encoded
    with :func:`~vaelab.data.dataset.encode_labels` across both splits. ``split("all")`` is train
    then test.
    """
    x, labels = {}, {}
    for split in ("train", "test"):
        images, lab = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        where = str(files[f"{split}_images"])
        if images.ndim < 2 or len(images) == 0:
            raise ValueError(f"{where}: has shape {images.shape}; allowed: (N, H, W) images with N >= 1")
        x[split] = to_examples(images, where)
        if lab.ndim != 1 or len(lab) != len(images):
            raise ValueError(
                f"{files[f'{split}_labels']}: has labels of shape {lab.shape} but "
                f"{files[f'{split}_images'].name} has {len(images)} rows; the counts must match"
            )
        labels[split] = lab
    (x_train, kind), (x_test, _) = x["train"], x["test"]
    if x_train.shape[1:] != x_test.shape[1:]:
        raise ValueError(
            f"{files['test_images']}: examples have shape {x_test.shape[1:]} but "
            f"{files['train_images'].name} has {x_train.shape[1:]}; they must match"
        )
    n = len(x_train)
    if classes is None:
        ids, classes = encode_labels(
            np.concatenate([labels["train"], labels["test"]]), str(files["train_labels"])
        )
        y_train, y_test = ids[:n], ids[n:]
    else:
        for split in ("train", "test"):
            lab = labels[split]
            bad = (lab < 0) | (lab >= len(classes))
            if bad.any():
                raise ValueError(
                    f"{files[f'{split}_labels']}: label {lab[bad][0]} at row {int(np.argmax(bad))} is out "
                    f"of range; allowed: 0..{len(classes) - 1}"
                )
        y_train, y_test = labels["train"].astype(np.int64), labels["test"].astype(np.int64)
    data = {s: as_float32(x[s][0], str(files[f"{s}_images"])) for s in ("train", "test")}
    if kind == "table":
        columns, value_range = tuple(f"x{i}" for i in range(x_train.shape[1])), observed_range(data["train"])
    else:
        (lo_a, hi_a), (lo_b, hi_b) = image_value_range(x_train), image_value_range(x_test)
        columns, value_range = None, (min(lo_a, lo_b), max(hi_a, hi_b))
    info = DataInfo(name, source, kind, x_train.shape[1:], value_range, columns=columns, classes=classes)
    return Dataset(info=info, x_train=data["train"], y_train=y_train, x_test=data["test"], y_test=y_test)
