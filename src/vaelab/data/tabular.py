"""CSV files as tables: a header row of column names, numeric columns, an optional label column.

Parsed with the standard library's ``csv`` module, then converted column block by column block
with numpy; only when that fails do we walk the cells to name the first bad one. Errors speak in
file lines as an editor shows them: the header is line 1, the first data row line 2.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from operator import itemgetter
from pathlib import Path

import numpy as np

from vaelab.data.arrays import one_line
from vaelab.data.dataset import DataInfo, Dataset, split_indices
from vaelab.data.values import as_float32, encode_labels, observed_range

# Spellings of "no value" in a feature column that get the missing-value message, not "not a number".
MISSING = frozenset({"", "na", "n/a", "nan", "null", "none", "?", "-"})


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_csv(path: Path) -> tuple[list[str], list[list[str]], list[int]]:
    """Return the header, the data rows (as strings) and each row's line number in the file.

    Blank lines are skipped; a row with a different number of fields than the header is an error.
    """
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:  # -sig: drop Excel's byte-order mark
            reader = csv.reader(f)
            header = next(reader, None)
            if header is None:
                raise ValueError(f"{path}: is empty; a CSV needs a header row and at least 2 data rows")
            header = [h.strip() for h in header]
            rows, lines = [], []
            for row in reader:
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue
                if len(row) != len(header):
                    raise ValueError(
                        f"{path}: line {reader.line_num} has {len(row)} fields but the header has "
                        f"{len(header)}; every row needs one value per column"
                    )
                rows.append(row)
                lines.append(reader.line_num)
    except UnicodeDecodeError as e:
        raise ValueError(f"{path}: is not UTF-8 text ({one_line(e)}); save the CSV as UTF-8") from None
    except csv.Error as e:
        raise ValueError(f"{path}: line {reader.line_num} is not valid CSV ({one_line(e)})") from None
    return header, rows, lines


def load_csv(
    path: Path, *, source: str, label_column: str | None, test_fraction: float, seed: int,
    condition_columns: Sequence[str] | None = None,
) -> Dataset:
    """Load a CSV table (N, D) with named columns; ``label_column`` names the class column, and
    ``condition_columns`` the numeric columns that become a conditional model's conditions
    (``y``, float32 (N, A)) instead of features.

    Class names are the label column's distinct values, numbers sorted numerically, other text
    sorted alphabetically. The split is seeded and stratified; ``split("all")`` keeps file order.

    Examples
    --------
    >>> ds = load_csv(Path("iris.csv"), source="iris.csv", label_column="species",
    ...               test_fraction=0.2, seed=0)  # doctest: +SKIP
    >>> ds.info.columns  # doctest: +SKIP
    ('sepal_length', 'sepal_width', 'petal_length', 'petal_width')
    """
    header, rows, lines = read_csv(path)
    if header and all(_is_number(h) for h in header):
        raise ValueError(
            f"{path}: needs a header row with column names; line 1 is all numbers "
            f"({', '.join(header[:3])}, ...)"
        )
    for j, name in enumerate(header):
        if not name:
            raise ValueError(
                f"{path}: column {j + 1} has an empty name in the header (line 1); every column needs a name"
            )
    duplicates = sorted({h for h in header if header.count(h) > 1})
    if duplicates:
        raise ValueError(
            f"{path}: column name(s) {', '.join(map(repr, duplicates))} appear more than once in the "
            "header; names must be unique"
        )
    if label_column is not None and label_column not in header:
        raise ValueError(f"{path}: label column {label_column!r} not found; columns: {', '.join(header)}")
    if not rows:
        raise ValueError(f"{path}: has a header but no data rows; at least 2 are needed")
    conditions = tuple(condition_columns) if condition_columns else ()
    if conditions and label_column is not None:
        raise ValueError(f"{path}: give a label column or condition columns, not both; a conditional model "
                         "conditions on the class label or on attribute columns")
    unknown = [c for c in conditions if c not in header]
    if unknown:
        raise ValueError(f"{path}: condition column(s) {', '.join(map(repr, unknown))} not found; columns: "
                         f"{', '.join(header)}")

    label_index = header.index(label_column) if label_column is not None else None
    skip = {label_index, *(header.index(c) for c in conditions)}
    feature_index = [j for j in range(len(header)) if j not in skip]
    columns = tuple(header[j] for j in feature_index)
    if not columns:
        raise ValueError(
            f"{path}: has no feature columns besides the label or condition columns; at least 1 is needed"
        )

    x = _numeric_columns(path, rows, feature_index, columns, lines, all_columns=len(header))

    ids, classes = None, None
    if label_index is not None:
        labels = [row[label_index].strip() for row in rows]
        for i, value in enumerate(labels):
            if not value:  # only a truly empty cell: "NA" or "none" may well be class names
                raise ValueError(
                    f"{path}: label column {label_column!r} line {lines[i]} is empty; missing values are not "
                    "supported yet"
                )
        ids, classes = encode_labels(np.array(labels), f"{path}: label column {label_column!r}")

    train, test = split_indices(len(x), ids, test_fraction, seed, str(path))
    y = ids
    if conditions:
        y = _numeric_columns(path, rows, [header.index(c) for c in conditions], conditions, lines)
    info = DataInfo(
        path.stem, source, "table", (len(columns),), observed_range(x[train]),
        columns=columns, classes=classes, label_column=label_column,
        condition_columns=conditions or None,
    )  # fmt: skip
    return Dataset.from_indices(info, x, y, train, test)


def _numeric_columns(path: Path, rows: list[list[str]], index: list[int], names: tuple[str, ...],
                     lines: list[int], all_columns: int = -1) -> np.ndarray:
    """The cells of columns ``index`` (named ``names``) of every row as float32 (N, len(index)); a
    cell that is not a finite number is an error naming its line and column."""
    cells: Sequence[Sequence[str]] = rows
    if len(index) != all_columns:
        # itemgetter picks the cells in C; a nested comprehension is several times slower.
        pick = itemgetter(*index)
        cells = list(map(pick, rows)) if len(index) > 1 else [[pick(row)] for row in rows]
    try:
        x = np.array(cells, dtype=np.float64)
    except ValueError:
        _raise_first_bad_cell(path, cells, names, lines)
        raise  # unreachable: the walk above always finds the cell numpy refused
    return as_float32(x, str(path), columns=names, row_numbers=np.asarray(lines), row_word="line")


def _raise_first_bad_cell(
    path: Path, cells: Sequence[Sequence[str]], columns: tuple[str, ...], lines: list[int]
) -> None:
    """Raise the ``ValueError`` for the first cell that is not a number, naming its line and column."""
    for i, row in enumerate(cells):
        for j, value in enumerate(row):
            if _is_number(value):
                continue
            where = f"{path}: column {columns[j]!r} line {lines[i]}"
            if value.strip().lower() in MISSING:
                raise ValueError(f"{where} is missing ({value!r}); missing values are not supported yet")
            raise ValueError(
                f"{where} has {value!r}, which is not a number; feature columns must be numeric (name a "
                "text column with label_column)"
            )
