"""Tests for vaelab.data: built-in datasets, every file kind, the download path and every error message."""

from __future__ import annotations

import ast
import gzip
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from vaelab import registry
from vaelab.data import DataInfo, Dataset, builtin, load_dataset, read_idx, write_idx
from vaelab.data.idx import SPLIT_FILES, decode_idx
from vaelab.data.values import encode_labels

DATA_PACKAGE = Path(builtin.__file__).parent
FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch, tmp_path):
    """No test sees the user's data dir, cache or the network; the system dir is an empty folder."""
    monkeypatch.delenv("VAELAB_DATA", raising=False)
    monkeypatch.setenv("VAELAB_CACHE", str(tmp_path / "cache"))
    empty = tmp_path / "system-empty"
    empty.mkdir()
    monkeypatch.setitem(builtin.SYSTEM_DIRS, "fashion-mnist", ("dataset-fashion-mnist", empty))
    unreachable = (tmp_path / "no-server").as_uri() + "/"
    monkeypatch.setitem(builtin.URLS, "mnist", (unreachable,))
    monkeypatch.setitem(builtin.URLS, "fashion-mnist", (unreachable,))


def write_split(
    directory: Path, *, gz: bool, n_train: int = 12, n_test: int = 5, size: int = 4, seed: int = 0
):
    """Write a tiny MNIST-style set; return the four arrays by file name."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, size, size), dtype=np.uint8),
        "train-labels-idx1-ubyte": (np.arange(n_train) % 10).astype(np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, size, size), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": (np.arange(n_test) % 10).astype(np.uint8),
    }
    for name, array in arrays.items():
        write_idx(directory / (name + (".gz" if gz else "")), array)
    return arrays


def idx_sha256(path: Path) -> str:
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    return hashlib.sha256(raw).hexdigest()


# ---------------------------------------------------------------- built-ins


def test_registry_holds_the_builtin_names():
    assert {"digits", "mnist", "fashion-mnist"} <= set(registry.DATASETS)


def test_digits_shapes_range_classes_and_fixed_split():
    ds = load_dataset("digits")
    assert ds.x_train.shape == (1437, 1, 8, 8) and ds.x_test.shape == (360, 1, 8, 8)
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int64
    assert ds.info.value_range == (0.0, 16.0) and ds.x_train.min() == 0 and ds.x_train.max() == 16
    assert ds.info.classes == tuple(str(i) for i in range(10))
    assert set(np.unique(ds.y_test)) == set(range(10))  # stratified: every class is tested
    again = load_dataset("digits", seed=123)  # fixed benchmark split: the seed does not move it
    np.testing.assert_array_equal(ds.x_test, again.x_test)
    np.testing.assert_array_equal(ds.y_train, again.y_train)
    x_all, y_all = ds.split("all")
    assert len(x_all) == len(y_all) == 1797
    np.testing.assert_array_equal(x_all[:1437], ds.x_train)  # built-ins: train then test


@pytest.fixture(scope="module")
def fashion():
    if not FASHION_DIR.is_dir():
        pytest.skip(f"{FASHION_DIR} missing: install the Debian package dataset-fashion-mnist")
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("VAELAB_DATA", raising=False)
        return load_dataset("fashion-mnist", download=False)


def test_fashion_mnist_loads_from_the_debian_dir(fashion):
    assert fashion.x_train.shape == (60000, 1, 28, 28) and fashion.x_test.shape == (10000, 1, 28, 28)
    assert fashion.info.shape == (1, 28, 28) and fashion.info.value_range == (0.0, 255.0)
    assert set(np.unique(fashion.y_train)) == set(range(10)) == set(np.unique(fashion.y_test))
    assert fashion.info.classes[0] == "T-shirt/top" and fashion.info.classes[9] == "Ankle boot"
    assert fashion.x_train.max() == 255 and fashion.x_train.min() == 0
    assert fashion.info.to_dict()["source"] == "fashion-mnist"


def test_mnist_from_data_dir_subfolder_skips_the_checksum(tmp_path):
    # A deliberately modified MNIST-format set: hashes differ from the official ones, no error.
    arrays = write_split(tmp_path / "data" / "mnist", gz=True)
    ds = load_dataset("mnist", data_dir=tmp_path / "data")
    assert ds.x_train.shape == (12, 1, 4, 4) and ds.x_test.shape == (5, 1, 4, 4)
    np.testing.assert_array_equal(ds.x_train[:, 0], arrays["train-images-idx3-ubyte"])
    np.testing.assert_array_equal(ds.y_test, arrays["t10k-labels-idx1-ubyte"])
    assert ds.info.classes == tuple(str(i) for i in range(10)) and ds.info.name == "mnist"


def test_mnist_from_vaelab_data_env(tmp_path, monkeypatch):
    arrays = write_split(tmp_path / "env", gz=False)
    monkeypatch.setenv("VAELAB_DATA", str(tmp_path / "env"))
    ds = load_dataset("mnist")
    np.testing.assert_array_equal(ds.x_test[:, 0], arrays["t10k-images-idx3-ubyte"])
    assert ds.y_train.dtype == np.int64 and len(ds.split("all")[0]) == 17


def test_user_dir_with_some_mnist_files_names_the_missing_ones(tmp_path):
    write_split(tmp_path, gz=False)
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(FileNotFoundError, match=r"t10k-labels-idx1-ubyte.*all four are needed"):
        load_dataset("mnist", data_dir=tmp_path)


def test_missing_data_dir_is_an_error_not_a_fallthrough(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match=r"mnist: data_dir .*typo is not a directory"):
        load_dataset("mnist", data_dir=tmp_path / "typo")
    monkeypatch.setenv("VAELAB_DATA", str(tmp_path / "typo"))
    with pytest.raises(FileNotFoundError, match=r"mnist: \$VAELAB_DATA .*typo is not a directory"):
        load_dataset("mnist")


def test_mnist_labels_out_of_range_are_rejected(tmp_path):
    write_split(tmp_path, gz=False)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.array([0, 1, 12, 3, 4], dtype=np.uint8))
    with pytest.raises(
        ValueError, match=r"t10k-labels-idx1-ubyte: label 12 at row 2 is out of range; allowed: 0\.\.9"
    ):
        load_dataset("mnist", data_dir=tmp_path)


def serve(tmp_path: Path, monkeypatch, *, good: bool = True) -> Path:
    """Write the four .gz files into a file:// 'server' and point the mnist tables at them."""
    server = tmp_path / "server"
    write_split(server, gz=True, seed=1)
    for name in SPLIT_FILES.values():
        digest = idx_sha256(server / f"{name}.gz")
        monkeypatch.setitem(builtin.SHA256["mnist"], name, digest)
    if not good:
        monkeypatch.setitem(builtin.SHA256["mnist"], "t10k-images-idx3-ubyte", "0" * 64)
    monkeypatch.setitem(builtin.URLS, "mnist", ((tmp_path / "down").as_uri() + "/", server.as_uri() + "/"))
    return server


def test_download_verifies_then_caches_and_falls_back_to_the_mirror(tmp_path, monkeypatch):
    server = serve(tmp_path, monkeypatch)  # the first URL is unreachable: the mirror must be used
    ds = load_dataset("mnist")
    cache = tmp_path / "cache" / "mnist"
    assert sorted(p.name for p in cache.iterdir()) == sorted(f"{n}.gz" for n in SPLIT_FILES.values())
    np.testing.assert_array_equal(ds.x_train[:, 0], read_idx(server / "train-images-idx3-ubyte.gz"))
    monkeypatch.setitem(builtin.URLS, "mnist", ())  # now offline: the verified cache must suffice
    np.testing.assert_array_equal(load_dataset("mnist", download=False).y_test, ds.y_test)


def test_download_with_bad_checksum_raises_and_leaves_no_file(tmp_path, monkeypatch):
    serve(tmp_path, monkeypatch, good=False)
    with pytest.raises(
        ValueError, match=r"t10k-images-idx3-ubyte.gz is damaged \(sha256 [0-9a-f]{64}, expected 0{64}\)"
    ):
        load_dataset("mnist")
    left = sorted(p.name for p in (tmp_path / "cache" / "mnist").iterdir())
    assert "t10k-images-idx3-ubyte.gz" not in left and not any(n.endswith(".part") for n in left)
    assert "train-images-idx3-ubyte.gz" in left  # the good files before it were kept


def test_damaged_cache_file_says_delete_and_retry(tmp_path, monkeypatch):
    serve(tmp_path, monkeypatch)
    load_dataset("mnist")
    target = tmp_path / "cache" / "mnist" / "train-labels-idx1-ubyte.gz"
    write_idx(target, np.zeros(12, dtype=np.uint8))
    with pytest.raises(
        ValueError, match=r"train-labels-idx1-ubyte.gz is damaged \(sha256 .*\); delete it and retry"
    ):
        load_dataset("mnist")


def test_mnist_offline_error_lists_the_ways_on_one_line(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        load_dataset("mnist")
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith("mnist:")
    assert "--data-dir" in msg and "$VAELAB_DATA" in msg and "download failed" in msg
    assert str(tmp_path / "cache" / "mnist") in msg and "apt-get" not in msg


def test_fashion_offline_error_mentions_the_debian_package(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        load_dataset("fashion-mnist", download=False)
    msg = str(err.value)
    assert msg.startswith("fashion-mnist: dataset files not found") and "downloads are off" in msg
    assert "--data-dir or $VAELAB_DATA, or install them with `apt-get install dataset-fashion-mnist`" in msg
    assert f"or connect to the internet to download them into {tmp_path / 'cache' / 'fashion-mnist'}" in msg


def test_damaged_system_file_says_reinstall(tmp_path, monkeypatch):
    system = tmp_path / "system"
    write_split(system, gz=True)
    monkeypatch.setitem(builtin.SYSTEM_DIRS, "fashion-mnist", ("dataset-fashion-mnist", system))
    with pytest.raises(
        ValueError, match=r"is damaged \(sha256 .*\); reinstall the package dataset-fashion-mnist"
    ):
        load_dataset("fashion-mnist")


# ---------------------------------------------------------------- IDX


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


# ---------------------------------------------------------------- CSV


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_csv_with_string_labels_keeps_file_order(tmp_path):
    rows = [f"{i},{i * 10 + 0.5},{'cat' if i % 3 else 'dog'}" for i in range(20)]
    path = write_csv(tmp_path / "pets.csv", "a,b,kind\n" + "\n".join(rows) + "\n")
    ds = load_dataset(path, label_column="kind", test_fraction=0.25, seed=3)
    info = ds.info
    assert info.kind == "table" and info.shape == (2,) and info.columns == ("a", "b")
    assert info.classes == ("cat", "dog") and info.label_column == "kind" and info.name == "pets"
    assert len(ds.x_train) == 15 and len(ds.x_test) == 5
    x_all, y_all = ds.split("all")
    np.testing.assert_array_equal(x_all[:, 0], np.arange(20))
    np.testing.assert_array_equal(y_all, [1 if i % 3 == 0 else 0 for i in range(20)])
    assert info.value_range == (float(ds.x_train.min()), float(ds.x_train.max()))  # training rows only
    assert not np.array_equal(ds.x_train[:, 0], np.sort(ds.x_train[:, 0]))  # the split is shuffled


def test_csv_numeric_labels_sort_numerically(tmp_path):
    path = write_csv(tmp_path / "n.csv", "x,y\n1,10\n2,9\n3,2\n4,10\n5,9\n6,2\n")
    ds = load_dataset(path, label_column="y", test_fraction=0.5)
    assert ds.info.classes == ("2", "9", "10")
    np.testing.assert_array_equal(ds.split("all")[1], [2, 1, 0, 2, 1, 0])


@pytest.mark.parametrize(
    ("text", "kwargs", "pattern"),
    [
        ("1,2\n3,4\n", {}, r"t.csv: needs a header row with column names; line 1 is all numbers"),
        ("a,b\n1,2\n3,abc\n4,5\n", {}, r"t.csv: column 'b' line 3 has 'abc', which is not a number, but"),
        ("a,b\n1,2\n3,inf\n", {}, r"t.csv: line 3 column 'b' has inf; only finite numbers or missing values"),
        ("a,b\n1,2\n3,4\n5\n", {}, r"t.csv: line 4 has 1 fields but the header has 2"),
        ("a,b\n1,2\n3,4\n", {"label_column": "c"}, r"t.csv: label column 'c' not found; columns: a, b"),
        (
            "a,b\n1,2\n3,1e300\n",
            {},
            r"t.csv: line 3 column 'b' has 1e\+300, too large for float32; allowed: \|value\| <= 3.4e\+38",
        ),
        ("a,a\n1,2\n3,4\n", {}, r"t.csv: column name\(s\) 'a' appear more than once"),
        ("a,b\n1,2\n", {}, r"t.csv: has 1 row\(s\); at least 2 are needed"),
        ("a,b\n", {}, r"t.csv: has a header but no data rows"),
        ("", {}, r"t.csv: is empty"),
        ("a,b\n1,x\n3,\n", {"label_column": "b"}, r"t.csv: label column 'b' line 3 is empty"),
    ],
)
def test_csv_errors_name_file_line_and_column(tmp_path, text, kwargs, pattern):
    path = write_csv(tmp_path / "t.csv", text)
    with pytest.raises(ValueError, match=pattern) as err:
        load_dataset(path, **kwargs)
    assert "\n" not in str(err.value)


# ---------------------------------------------------------------- npy / npz


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


# ---------------------------------------------------------------- image folders


def write_png(path: Path, array: np.ndarray) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def test_image_folder_with_class_subfolders(tmp_path):
    rng = np.random.default_rng(0)
    written = {}
    for cls in ("zebra", "ant"):
        for i in range(3):
            written[(cls, i)] = rng.integers(0, 256, (6, 5), dtype=np.uint8)
            write_png(tmp_path / "pics" / cls / f"{i}.png", written[(cls, i)])
    (tmp_path / "pics" / "ant" / "notes.txt").write_text("not an image")
    ds = load_dataset(tmp_path / "pics", test_fraction=0.5)
    assert ds.info.classes == ("ant", "zebra") and ds.info.shape == (1, 6, 5) and ds.info.name == "pics"
    assert ds.info.value_range == (0.0, 255.0) and len(ds.x_test) == 3
    assert set(ds.y_test.tolist()) == {0, 1}  # stratified: both classes are tested
    x_all, y_all = ds.split("all")
    np.testing.assert_array_equal(y_all, [0, 0, 0, 1, 1, 1])
    np.testing.assert_array_equal(x_all[3, 0], written[("zebra", 0)])


def test_image_folder_resizes_and_goes_rgb_when_any_image_is_colour(tmp_path):
    write_png(tmp_path / "flat" / "a.png", np.full((10, 8), 200, dtype=np.uint8))
    write_png(tmp_path / "flat" / "b.png", np.full((4, 4, 3), [255, 0, 0], dtype=np.uint8))
    ds = load_dataset(tmp_path / "flat", image_size=(3, 5))
    assert ds.info.shape == (3, 3, 5) and ds.y_train is None and ds.info.classes is None
    x_all, _ = ds.split("all")
    np.testing.assert_allclose(x_all[0], 200)  # gray becomes R = G = B
    np.testing.assert_allclose(x_all[1, :, 1, 2], [255, 0, 0])


def test_image_folder_errors(tmp_path):
    write_png(tmp_path / "mixed" / "a.png", np.zeros((4, 4), dtype=np.uint8))
    write_png(tmp_path / "mixed" / "b.png", np.zeros((5, 4), dtype=np.uint8))
    with pytest.raises(
        ValueError,
        match=r"mixed: images differ in size: a.png is 4x4 \(HxW\) but b.png is 5x4; pass image_size",
    ):
        load_dataset(tmp_path / "mixed")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "x.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match=r"broken/x.png: cannot read the image"):
        load_dataset(tmp_path / "broken")
    (tmp_path / "empty").mkdir()
    with pytest.raises(
        ValueError, match=r"empty: holds no images and no class subfolders; allowed image files: .png"
    ):
        load_dataset(tmp_path / "empty")
    with pytest.raises(
        ValueError, match=r"image_size=0 is not allowed; allowed: a positive int or \(height, width\)"
    ):
        load_dataset(tmp_path / "mixed", image_size=0)
    write_png(tmp_path / "both" / "cats" / "a.png", np.zeros((4, 4), dtype=np.uint8))
    write_png(tmp_path / "both" / "stray.png", np.zeros((4, 4), dtype=np.uint8))
    with pytest.raises(
        ValueError, match=r"both: has class subfolders and also loose images such as stray.png"
    ):
        load_dataset(tmp_path / "both")


# ---------------------------------------------------------------- dispatch and shared validation


def test_dispatch_errors(tmp_path):
    with pytest.raises(
        FileNotFoundError,
        match=(
            r"nope.csv: is neither an existing file or folder nor a built-in dataset; built-ins: chorales, "
            r"digits, fashion-mnist, folk, mnist"
        ),
    ):
        load_dataset(tmp_path / "nope.csv")
    (tmp_path / "a.txt").write_text("1")
    with pytest.raises(
        ValueError,
        match=(
            r"a.txt: file type '.txt' is not supported; allowed: .npy, .npz, .csv, IDX .*built-in name "
            r"\(chorales, digits"
        ),
    ):
        load_dataset(tmp_path / "a.txt")
    for fraction in (0, 1, 1.5):
        with pytest.raises(
            ValueError,
            match=r"digits: test_fraction=.* is not allowed; allowed: a number strictly between 0 and 1",
        ):
            load_dataset("digits", test_fraction=fraction)
    with pytest.raises(ValueError, match=r"digits: image_size=8 applies only to image folders"):
        load_dataset("digits", image_size=8)
    np.save(tmp_path / "t.npy", np.zeros((4, 2)))
    with pytest.raises(ValueError, match=r"t.npy: label_column='y' applies only to CSV files"):
        load_dataset(tmp_path / "t.npy", label_column="y")


def test_data_info_round_trips_through_json_and_rejects_unknown_keys():
    info = DataInfo(
        "t", "t.csv", "table", (2,), (0, 3), columns=("a", "b"), classes=("x", "y"), label_column="c"
    )
    back = DataInfo.from_dict(json.loads(json.dumps(info.to_dict())))
    assert back == info and isinstance(back.shape, tuple) and back.value_range == (0.0, 3.0)
    with pytest.raises(ValueError, match=r"DataInfo: unknown key\(s\) 'colour'; allowed: name, source, kind"):
        DataInfo.from_dict({**info.to_dict(), "colour": 1})
    with pytest.raises(ValueError, match=r"DataInfo: missing key\(s\) 'value_range'"):
        DataInfo.from_dict({k: v for k, v in info.to_dict().items() if k != "value_range"})
    with pytest.raises(ValueError, match=r"kind 'audio' is not allowed; allowed: image, table"):
        DataInfo("t", "t", "audio", (2,), (0, 1))


def test_dataset_validates_at_construction():
    info = DataInfo("t", "t", "table", (2,), (0, 1), columns=("a", "b"), classes=("p", "q"))
    x, y = np.zeros((3, 2), np.float32), np.zeros(3, np.int64)
    with pytest.raises(ValueError, match=r"t: x_train must be a float32 numpy array, got float64"):
        Dataset(info, x.astype(np.float64), y, x, y)
    with pytest.raises(ValueError, match=r"t: x_test has shape \(3, 3\); allowed: \(N, 2\)"):
        Dataset(info, x, y, np.zeros((3, 3), np.float32), y)
    with pytest.raises(ValueError, match=r"t: y_train has 2 labels but x_train has 3 rows"):
        Dataset(info, x, y[:2], x, y)
    with pytest.raises(ValueError, match=r"t: y_test has label id 5; allowed: 0\.\.1"):
        Dataset(info, x, y, x, np.array([0, 5, 1]))
    ds = Dataset(info, x, y, x, y)
    with pytest.raises(ValueError, match=r"t: unknown split 'val'; allowed: train, test, all"):
        ds.split("val")


def test_from_arrays_is_seeded_stratified_and_remembers_order():
    info = DataInfo("t", "t", "table", (1,), (0, 99), columns=("a",), classes=("a", "b"))
    x = np.arange(100, dtype=np.float32)[:, None]
    y = (np.arange(100) < 10).astype(np.int64)  # a rare class of 10 rows
    a = Dataset.from_arrays(info, x, y, test_fraction=0.2, seed=1)
    b = Dataset.from_arrays(info, x, y, test_fraction=0.2, seed=1)
    np.testing.assert_array_equal(a.x_test, b.x_test)
    assert (a.y_test == 1).sum() == 2 and (a.y_train == 1).sum() == 8
    np.testing.assert_array_equal(a.split("all")[0], x)
    with pytest.raises(ValueError, match=r"t: test_fraction=0.9 leaves no training rows out of 2"):
        Dataset.from_arrays(info, x[:2], None, test_fraction=0.9)


def test_encode_labels_merges_spellings_of_one_number():
    ids, classes = encode_labels(np.array(["1", "1.0", "0.5", "2"]), "w")
    assert classes == ("0.5", "1", "2") and ids.tolist() == [1, 1, 0, 2]


def test_data_package_imports_only_numpy_sklearn_pillow_stdlib_and_registry():
    # music21 and mido are the optional music extra, imported inside the functions that need them;
    # pandas only when a DataFrame is given (the caller has it then)
    allowed_roots = {"numpy", "sklearn", "PIL", "vaelab", "__future__", "music21", "mido", "pandas"}
    import sys

    for path in DATA_PACKAGE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module] + (
                    [f"{node.module}.{a.name}" for a in node.names] if node.module == "vaelab" else []
                )
            for name in names:
                root = name.split(".")[0]
                assert root in allowed_roots or root in sys.stdlib_module_names, f"{path.name} imports {name}"
                if root == "vaelab" and name != "vaelab":
                    # torch-free modules only: the data layer sits below the models
                    torch_free = ("vaelab.data", "vaelab.registry", "vaelab.config", "vaelab.files")
                    assert name.startswith(torch_free), f"{path.name} imports {name}"
        assert len(path.read_text().splitlines()) < 400, f"{path.name} is over 400 lines"
