"""vaelab.data.tabular: CSV files with label columns, and every CSV error naming file, line and column."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vaelab.data import load_dataset

pytestmark = pytest.mark.usefixtures("isolated_env")


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
