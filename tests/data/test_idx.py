"""vaelab.data.idx: IDX files and folders read and written, and their errors."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import write_split

from vaelab.data import load_dataset, read_idx, write_idx
from vaelab.data.idx import decode_idx

pytestmark = pytest.mark.usefixtures("isolated_env")


@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "int32", "float32", "float64"])
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_idx_round_trip(tmp_path, dtype, suffix):
    array = (np.arange(24) - 5).reshape(2, 3, 4).astype(dtype)
    path = tmp_path / f"a-ubyte{suffix}"
    write_idx(path, array)
    back = read_idx(path)
    assert back.dtype == np.dtype(dtype) and back.flags.writeable
    np.testing.assert_array_equal(back, array)


def test_idx_file_with_sibling_labels(tmp_path):
    images = np.arange(6 * 5 * 5, dtype=np.uint8).reshape(6, 5, 5)
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", images)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.array([3, 5, 3, 5, 3, 5], dtype=np.uint8))
    ds = load_dataset(tmp_path / "train-images-idx3-ubyte.gz", test_fraction=0.5)
    assert ds.info.shape == (1, 5, 5) and ds.info.classes == ("3", "5") and ds.info.value_range == (0, 255)
    x_all, y_all = ds.split("all")
    np.testing.assert_array_equal(x_all[:, 0], images)
    np.testing.assert_array_equal(y_all, [0, 1, 0, 1, 0, 1])


def test_idx_directory_keeps_the_official_split(tmp_path):
    arrays = write_split(tmp_path / "myset", gz=False)
    ds = load_dataset(tmp_path / "myset")
    assert ds.info.name == "myset" and len(ds.x_train) == 12 and len(ds.x_test) == 5
    np.testing.assert_array_equal(ds.x_test[:, 0], arrays["t10k-images-idx3-ubyte"])


def test_truncated_idx_names_expected_and_actual_bytes(tmp_path):
    path = tmp_path / "x-ubyte"
    write_idx(path, np.zeros((3, 4, 4), dtype=np.uint8))
    path.write_bytes(path.read_bytes()[:-7])
    with pytest.raises(ValueError, match=r"x-ubyte: IDX size mismatch: .* = 64 bytes, found 57"):
        load_dataset(path)


def test_bad_idx_magic_and_type_code():
    with pytest.raises(
        ValueError, match=r"f: not an IDX file: magic starts with 0x89 0x50; expected 0x00 0x00"
    ):
        decode_idx(b"\x89PNG\r\n", "f")
    with pytest.raises(ValueError, match=r"f: unknown IDX type code 0x07; allowed: 0x08, 0x09"):
        decode_idx(b"\x00\x00\x07\x01\x00\x00\x00\x01\x00", "f")


def test_write_idx_rejects_unsupported_dtype(tmp_path):
    with pytest.raises(ValueError, match=r"cannot write dtype int64 as IDX; allowed: uint8, int8"):
        write_idx(tmp_path / "a-ubyte", np.zeros(3, dtype=np.int64))


def test_idx_labels_file_alone_is_rejected(tmp_path):
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(5, dtype=np.uint8))
    with pytest.raises(
        ValueError, match=r"train-labels-idx1-ubyte: holds 1-D data \(labels\?\); load the images file"
    ):
        load_dataset(tmp_path / "train-labels-idx1-ubyte")
