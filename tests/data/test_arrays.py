"""vaelab.data.arrays: .npy and .npz files, their splits and their errors."""

from __future__ import annotations

import numpy as np
import pytest

from vaelab.data import load_dataset

pytestmark = pytest.mark.usefixtures("isolated_env")


def test_npz_with_fixed_split_and_string_labels(tmp_path):
    x_train, x_test = np.arange(12.0).reshape(6, 2), -np.arange(4.0).reshape(2, 2)
    path = tmp_path / "s.npz"
    np.savez(
        path, x_train=x_train, x_test=x_test, y_train=np.array(list("abcabc")), y_test=np.array(["c", "d"])
    )
    ds = load_dataset(path)
    np.testing.assert_array_equal(ds.x_train, x_train)
    np.testing.assert_array_equal(ds.x_test, x_test)
    assert ds.info.classes == ("a", "b", "c", "d") and ds.y_test.tolist() == [2, 3]
    assert ds.info.columns == ("x0", "x1") and ds.info.value_range == (0.0, 11.0)


def test_npz_with_one_array_is_split_and_keeps_order(tmp_path):
    x = np.random.default_rng(0).random((30, 1, 4, 4)).astype(np.float32)
    y = np.repeat([7, 8, 9], 10)
    np.savez(tmp_path / "one.npz", data=x, labels=y)
    ds = load_dataset(tmp_path / "one.npz", test_fraction=0.3, seed=5)
    assert (
        ds.info.kind == "image" and ds.info.value_range == (0.0, 1.0) and ds.info.classes == ("7", "8", "9")
    )
    assert len(ds.x_test) == 9 and sorted(np.bincount(ds.y_test)) == [3, 3, 3]  # stratified
    x_all, y_all = ds.split("all")
    np.testing.assert_array_equal(x_all, x)
    np.testing.assert_array_equal(y_all, y - 7)
    other = load_dataset(tmp_path / "one.npz", test_fraction=0.3, seed=6)
    assert not np.array_equal(ds.x_test, other.x_test)


def test_npz_errors(tmp_path):
    np.savez(tmp_path / "k.npz", images=np.zeros((4, 2)))
    with pytest.raises(
        ValueError, match=r"k.npz: has keys images; allowed: x_train \+ x_test .* one of x, X, data, arr_0"
    ):
        load_dataset(tmp_path / "k.npz")
    np.savez(tmp_path / "c.npz", x=np.zeros((4, 2)), y=np.zeros(3))
    with pytest.raises(ValueError, match=r"c.npz: 'y' has \(3,\) labels but 'x' has 4 rows"):
        load_dataset(tmp_path / "c.npz")
    np.savez(tmp_path / "h.npz", x_train=np.zeros((4, 2)), x_test=np.zeros((2, 3)))
    with pytest.raises(
        ValueError, match=r"h.npz: x_train examples have shape \(2,\) but x_test examples have \(3,\)"
    ):
        load_dataset(tmp_path / "h.npz")


def test_npy_channels_last_uint8_images(tmp_path):
    x = np.random.default_rng(0).integers(0, 256, (10, 6, 5, 3), dtype=np.uint8)
    np.save(tmp_path / "rgb.npy", x)
    ds = load_dataset(tmp_path / "rgb.npy")
    assert ds.info.shape == (3, 6, 5) and ds.info.value_range == (0.0, 255.0) and ds.y_train is None
    np.testing.assert_array_equal(ds.split("all")[0], x.transpose(0, 3, 1, 2))
    assert len(ds.x_train) == 8 and len(ds.x_test) == 2


def test_npy_table_and_range(tmp_path):
    x = np.linspace(-3, 5, 40).reshape(20, 2)
    np.save(tmp_path / "t.npy", x)
    ds = load_dataset(tmp_path / "t.npy")
    assert ds.info.kind == "table" and ds.info.columns == ("x0", "x1")
    assert ds.info.value_range == (float(ds.x_train.min()), float(ds.x_train.max()))


def test_npy_errors(tmp_path):
    np.save(tmp_path / "v.npy", np.zeros(5))
    with pytest.raises(
        ValueError, match=r"v.npy: array of shape \(5,\) is not supported; allowed: \(N, D\) table"
    ):
        load_dataset(tmp_path / "v.npy")
    bad = np.zeros((6, 3))
    bad[4, 2] = np.inf
    np.save(tmp_path / "f.npy", bad)
    with pytest.raises(
        ValueError, match=r"f.npy: row 4 \(counting from 0\) column 'x2' has inf; only finite numbers"
    ):
        load_dataset(tmp_path / "f.npy")
    np.save(tmp_path / "one.npy", np.zeros((1, 3)))
    with pytest.raises(ValueError, match=r"one.npy: has 1 row\(s\); at least 2 are needed"):
        load_dataset(tmp_path / "one.npy")
    np.save(tmp_path / "o.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match=r"o.npy: holds Python objects; only numeric arrays are allowed"):
        load_dataset(tmp_path / "o.npy")
