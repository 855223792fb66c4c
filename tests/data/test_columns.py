"""vaelab.data.columns: how CSV and DataFrame columns are typed, and new data read by a run's columns."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import mixed_csv

import vaelab

pytestmark = pytest.mark.usefixtures("one_thread")


def write(tmp_path, text: str):
    path = tmp_path / "t.csv"
    path.write_text(text)
    return path


def test_text_columns_become_categories_and_missing_cells_nan(tmp_path):
    path = write(tmp_path, "a,b,c\n1,x,5\nNA,y,?\n3,,7\n4,x,none\n")
    ds = vaelab.load_dataset(path, test_fraction=0.5)
    assert ds.info.columns == ("a", "b", "c")
    assert ds.info.categories == ((), ("x", "y"), ())
    x = ds.split("all")[0]
    np.testing.assert_array_equal(np.isnan(x), [[0, 0, 0], [1, 0, 1], [0, 1, 0], [0, 0, 1]])
    np.testing.assert_array_equal(x[:, 1], [0, 1, np.nan, 0])
    lo, hi = ds.info.value_range  # of the numeric columns' training cells, codes left out
    assert 1.0 <= lo <= hi <= 7.0


def test_named_numeric_column_is_categorical(tmp_path):
    path = write(tmp_path, "a,grade\n1.5,3\n2.5,1\n3.5,10\n4.5,1.0\n")
    ds = vaelab.load_dataset(path, categorical_columns=["grade"], test_fraction=0.5)
    assert ds.info.categories == ((), ("1", "3", "10"))  # numbers sort as numbers; 1.0 is 1
    np.testing.assert_array_equal(ds.split("all")[0][:, 1], [1, 0, 2, 0])


@pytest.mark.parametrize(("text", "kwargs", "words"), [
    ("a,b\n1,2\n2,3\n3,x\n4,5\n", {}, ("column 'b' line 4 has 'x'", "most of the column is numeric")),
    ("a,b\n1,x\n2,\n", {}, ()),  # fine: x is a category, the other cell missing
    ("a,b\n1,\n2,NA\n", {"categorical_columns": ["b"]}, ("column 'b' has no values",)),
    ("a,b\n1,2\n3,4\n", {"categorical_columns": ["c"]}, ("column(s) 'c' are not feature columns",)),
    ("a,b\n1,2\n3,inf\n", {}, ("line 3 column 'b' has inf",)),
])
def test_column_errors(tmp_path, text, kwargs, words):
    path = write(tmp_path, text)
    if not words:
        vaelab.load_dataset(path, test_fraction=0.5, **kwargs)
        return
    with pytest.raises(ValueError) as err:
        vaelab.load_dataset(path, test_fraction=0.5, **kwargs)
    assert "\n" not in str(err.value)
    for word in words:
        assert word in str(err.value)


def test_identifier_column_is_refused(tmp_path):
    rows = "\n".join(f"{i},id{i}" for i in range(250))
    path = write(tmp_path, "a,name\n" + rows + "\n")
    with pytest.raises(ValueError, match="column 'name' has 250 distinct text values in 250 rows"):
        vaelab.load_dataset(path)


def test_dataframe_reads_like_its_csv(tmp_path):
    pd = pytest.importorskip("pandas")
    path = tmp_path / "m.csv"
    mixed_csv(path, n=60)
    from_csv = vaelab.load_dataset(path, categorical_columns=["grade"])
    frame = pd.read_csv(path, keep_default_na=True, na_values=["?"])
    from_frame = vaelab.load_dataset(frame, categorical_columns=["grade"])
    assert from_frame.info.categories == from_csv.info.categories
    np.testing.assert_array_equal(from_frame.split("all")[0], from_csv.split("all")[0])
    frame["flag"] = frame["width"] > 20  # bools are categories
    frame["color"] = frame["color"].astype("category")
    ds = vaelab.load_dataset(frame)
    assert ds.info.categories[-1] == ("False", "True")


def test_a_run_reads_new_data_by_its_columns_and_categories(tmp_path):
    path = tmp_path / "m.csv"
    mixed_csv(path, n=60)
    schema = vaelab.load_dataset(path).info
    # the new file: other column order, an extra column, only some categories
    new = write(tmp_path, "size,extra,height,color,width,grade\n"
                          "large,9,500,blue,30,3\nsmall,9,100,green,20,2\n")
    ds = vaelab.load_dataset(new, schema=schema, test_fraction=0.5)
    assert ds.info.columns == schema.columns and ds.info.categories == schema.categories
    row = ds.split("all")[0][0]
    assert row[1] == schema.categories[1].index("blue") and row[3] == schema.categories[3].index("large")
    assert row[0] == 30 and row[2] == 500
    bad = write(tmp_path, "size,height,color,width,grade\nlarge,500,purple,30,3\nsmall,100,red,20,2\n")
    with pytest.raises(ValueError, match="column 'color' has category 'purple', which the model was not"):
        vaelab.load_dataset(bad, schema=schema, test_fraction=0.5)
    lacking = write(tmp_path, "size,height,width\nlarge,500,30\nsmall,100,20\n")
    with pytest.raises(ValueError, match="lacks column\\(s\\) 'color', 'grade' that the model was"):
        vaelab.load_dataset(lacking, schema=schema, test_fraction=0.5)
