"""vaelab.data.builtin: the built-in datasets, the download, the cache and their error messages."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import numpy as np
import pytest
from helpers import write_split

from vaelab import registry
from vaelab.data import builtin, load_dataset, read_idx, write_idx
from vaelab.data.idx import SPLIT_FILES

pytestmark = pytest.mark.usefixtures("isolated_env")


FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")


def idx_sha256(path: Path) -> str:
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    return hashlib.sha256(raw).hexdigest()


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
