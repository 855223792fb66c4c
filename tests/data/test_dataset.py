"""vaelab.data.dataset: DataInfo and Dataset, their checks and splits, and condition columns read into y."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers import TINY

import vaelab
from vaelab.config import ModelConfig
from vaelab.data import DataInfo, Dataset

pytestmark = pytest.mark.usefixtures("isolated_env", "one_thread")


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


def write_csv(path, n: int = 20) -> np.ndarray:
    """A CSV with columns f0, a, f1, b; returns its values (n, 4) in file order."""
    rows = np.column_stack([np.arange(n), 100 + np.arange(n), 2 * np.arange(n), -np.arange(n)]) + 0.5
    lines = ["f0,a,f1,b", *(",".join(f"{v:g}" for v in row) for row in rows)]
    path.write_text("\n".join(lines) + "\n")
    return rows.astype(np.float32)


def test_flat_table_rows_are_read_as_images():
    info = DataInfo("flat", "flat.npy", "table", (12,), (0, 9), columns=tuple(f"x{i}" for i in range(12)),
                    classes=("a", "b"))
    x = np.arange(10 * 12, dtype=np.float32).reshape(10, 12)
    flat = Dataset.from_arrays(info, x, np.arange(10) % 2, test_fraction=0.3)
    images = flat.as_images((3, 2, 2))
    assert images.info.kind == "image" and images.info.shape == (3, 2, 2) and images.info.columns is None
    assert images.info.classes == ("a", "b") and images.info.value_range == (0.0, 9.0)
    all_x, all_y = images.split("all")
    np.testing.assert_array_equal(all_x, x.reshape(10, 3, 2, 2))  # the file's order, reshaped row by row
    np.testing.assert_array_equal(all_y, np.arange(10) % 2)
    np.testing.assert_array_equal(images.x_test, flat.x_test.reshape(-1, 3, 2, 2))
    with pytest.raises(ValueError, match=r"flat.npy: rows of shape \(12,\) \(table\) cannot be read as "
                                         r"images of shape \(1, 3, 3\); allowed: numeric table rows of 9 "):
        flat.as_images((1, 3, 3))


def test_load_dataset_splits_off_condition_columns(tmp_path) -> None:
    rows = write_csv(tmp_path / "t.csv")
    data = vaelab.load_dataset(str(tmp_path / "t.csv"), condition_columns=["b", "a"])
    assert data.info.columns == ("f0", "f1") and data.info.shape == (2,)
    assert data.info.condition_columns == ("b", "a") and data.info.classes is None
    assert data.y_train.dtype == np.float32 and data.y_train.shape == (len(data.x_train), 2)
    x, y = data.split("all")
    # Rows come back in file order; the conditions in the order named, and x without them.
    assert np.array_equal(x, rows[:, [0, 2]])
    assert np.array_equal(y, rows[:, [3, 1]])
    net = vaelab.build_model(ModelConfig(model="cvae", **TINY), data)
    assert net.config.condition == "columns" and net.config.n_conditions == 2


def test_load_dataset_condition_column_errors(tmp_path) -> None:
    write_csv(tmp_path / "t.csv")
    path = str(tmp_path / "t.csv")
    with pytest.raises(ValueError, match="give a label column or condition columns, not both"):
        vaelab.load_dataset(path, label_column="f0", condition_columns=["a"])
    with pytest.raises(ValueError, match="condition column\\(s\\) 'zz' not found; columns: f0, a, f1, b"):
        vaelab.load_dataset(path, condition_columns=["a", "zz"])
