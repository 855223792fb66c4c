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
from typing import Any

import numpy as np

from vaelab.data.arrays import one_line
from vaelab.data.columns import frame_columns, is_missing, is_number, parse_column
from vaelab.data.dataset import DataInfo, Dataset, split_indices
from vaelab.data.values import as_float32, encode_labels, observed_range


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
    condition_columns: Sequence[str] | None = None, categorical_columns: Sequence[str] | None = None,
    schema: DataInfo | None = None,
) -> Dataset:
    """Load a CSV table (N, D) with named columns; ``label_column`` names the class column, and
    ``condition_columns`` the numeric columns that become a conditional model's conditions
    (``y``, float32 (N, A)) instead of features.

    Feature columns are numeric or categorical (:mod:`vaelab.data.columns`): a column with text
    cells, or one named in ``categorical_columns``, holds category codes and its category names go
    to ``info.categories``; missing cells (empty, NA, ?, ...) are NaN. ``schema`` (the
    :class:`DataInfo` a model was trained on) reads the model's feature columns by name, in its
    order, with its categories; other columns of the file are ignored.

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
    if header and all(is_number(h) for h in header):
        raise ValueError(
            f"{path}: needs a header row with column names; line 1 is all numbers "
            f"({', '.join(header[:3])}, ...)"
        )
    if not rows:
        raise ValueError(f"{path}: has a header but no data rows; at least 2 are needed")
    pick = _Columns(header, str(path), label_column, condition_columns, categorical_columns, schema)
    index = [header.index(c) for c in pick.features]
    x, categories = _feature_columns(path, rows, index, pick.features, lines, pick.categorical, pick.known)
    labels = None
    if label_column is not None:
        j = header.index(label_column)
        labels = [row[j].strip() for row in rows]
        empty = next((i for i, value in enumerate(labels) if not value), None)
        if empty is not None:  # only a truly empty cell: "NA" or "none" may well be class names
            raise ValueError(f"{path}: label column {label_column!r} line {lines[empty]} is empty; every row "
                             "needs a label")
    conditions = None
    if pick.conditions:
        conditions = _numeric_columns(path, rows, [header.index(c) for c in pick.conditions], pick.conditions,
                                      lines)
    return _table(path.stem, source, x, categories, pick, labels, conditions, test_fraction, seed)


def load_frame(frame: Any, *, source: str = "DataFrame", label_column: str | None = None,
               condition_columns: Sequence[str] | None = None,
               categorical_columns: Sequence[str] | None = None, schema: DataInfo | None = None,
               test_fraction: float = 0.2, seed: int = 0) -> Dataset:
    """A pandas DataFrame as a table dataset, with the rules of :func:`load_csv`: numeric dtypes
    are numeric columns, text, ``category`` and bool columns are categorical, NaN/None are
    missing cells. Row numbers in errors count like the lines of the frame written as a CSV."""
    header = [str(c) for c in frame.columns]
    if list(frame.columns) != header:
        raise ValueError(f"{source}: column names must be strings, got {list(frame.columns)[:5]}")
    if len(frame) == 0:
        raise ValueError(f"{source}: has no rows; at least 2 are needed")
    pick = _Columns(header, source, label_column, condition_columns, categorical_columns, schema)
    x, categories = frame_columns(frame, pick.features, source, categorical=pick.categorical,
                                  known=pick.known)
    x = as_float32(x, source, columns=pick.features, row_numbers=np.arange(2, len(frame) + 2),
                   row_word="line", allow_nan=True)
    labels = None
    if label_column is not None:
        col = frame[label_column]
        if col.isna().any():
            line = int(np.argmax(col.isna())) + 2
            raise ValueError(f"{source}: label column {label_column!r} line {line} is missing; every row "
                             "needs a label")
        labels = [str(v) if not isinstance(v, int | float) else v for v in col.tolist()]
    conditions = None
    if pick.conditions:
        conditions = as_float32(frame[list(pick.conditions)].to_numpy(dtype=np.float64, na_value=np.nan),
                                source, columns=pick.conditions, row_numbers=np.arange(2, len(frame) + 2),
                                row_word="line")
    return _table("frame", source, x, categories, pick, labels, conditions, test_fraction, seed)


class _Columns:
    """Which columns of a table (header ``header``) are features, label and conditions, checked:
    ``features`` (names, the schema's order when a trained model's ``schema`` is given),
    ``conditions``, ``categorical`` (forced names) and ``known`` (the schema's categories)."""

    def __init__(self, header: list[str], where: str, label_column: str | None,
                 condition_columns: Sequence[str] | None, categorical_columns: Sequence[str] | None,
                 schema: DataInfo | None) -> None:
        for j, name in enumerate(header):
            if not name:
                raise ValueError(f"{where}: column {j + 1} has an empty name in the header (line 1); every "
                                 "column needs a name")
        duplicates = sorted({h for h in header if header.count(h) > 1})
        if duplicates:
            raise ValueError(f"{where}: column name(s) {', '.join(map(repr, duplicates))} appear more than "
                             "once in the header; names must be unique")
        if label_column is not None and label_column not in header:
            raise ValueError(f"{where}: label column {label_column!r} not found; columns: "
                             f"{', '.join(header)}")
        self.conditions = tuple(condition_columns) if condition_columns else ()
        if self.conditions and label_column is not None:
            raise ValueError(f"{where}: give a label column or condition columns, not both; a conditional "
                             "model conditions on the class label or on attribute columns")
        unknown = [c for c in self.conditions if c not in header]
        if unknown:
            raise ValueError(f"{where}: condition column(s) {', '.join(map(repr, unknown))} not found; "
                             f"columns: {', '.join(header)}")
        skip = {label_column, *self.conditions}
        self.features = tuple(c for c in header if c not in skip)
        self.known: dict[str, tuple[str, ...]] = {}
        if schema is not None and schema.columns is not None:
            lacking = [c for c in schema.columns if c not in header]
            if lacking:
                raise ValueError(f"{where}: lacks column(s) {', '.join(map(repr, lacking))} that the model "
                                 f"was trained on; it needs {', '.join(schema.columns)}")
            self.features = tuple(schema.columns)
            if schema.categories is not None:
                self.known = {c: k for c, k in zip(schema.columns, schema.categories, strict=True) if k}
        if not self.features:
            raise ValueError(f"{where}: has no feature columns besides the label or condition columns; at "
                             "least 1 is needed")
        self.categorical = tuple(categorical_columns or ())
        unknown = [c for c in self.categorical if c not in self.features]
        if unknown:
            raise ValueError(f"{where}: categorical column(s) {', '.join(map(repr, unknown))} are not "
                             f"feature columns; feature columns: {', '.join(self.features)}")
        self.label_column = label_column


def _table(name: str, source: str, x: np.ndarray, categories: tuple[tuple[str, ...], ...], pick: _Columns,
           labels: list | None, conditions: np.ndarray | None, test_fraction: float, seed: int) -> Dataset:
    """The dataset of parsed feature values ``x`` (N, D), with class ids from ``labels`` or the
    ``conditions`` (N, A) as ``y``, split by seed (stratified by class)."""
    ids, classes = None, None
    if labels is not None:
        ids, classes = encode_labels(np.array(labels), f"{source}: label column {pick.label_column!r}")
    train, test = split_indices(len(x), ids, test_fraction, seed, source)
    numeric = [j for j, c in enumerate(categories) if not c] or slice(None)
    info = DataInfo(
        name, source, "table", (len(pick.features),), observed_range(x[train][:, numeric]),
        columns=pick.features, classes=classes, label_column=pick.label_column,
        condition_columns=pick.conditions or None, categories=categories if any(categories) else None,
    )  # fmt: skip
    return Dataset.from_indices(info, x, ids if conditions is None else conditions, train, test)


def _pick(rows: list[list[str]], index: list[int]) -> Sequence[Sequence[str]]:
    """The cells of columns ``index`` of every row, (N, len(index))."""
    if len(index) == len(rows[0]) and index == list(range(len(index))):
        return rows
    # itemgetter picks the cells in C; a nested comprehension is several times slower.
    pick = itemgetter(*index)
    return list(map(pick, rows)) if len(index) > 1 else [[pick(row)] for row in rows]


def _feature_columns(path: Path, rows: list[list[str]], index: list[int], names: tuple[str, ...],
                     lines: list[int], categorical: Sequence[str], known: dict[str, tuple[str, ...]]
                     ) -> tuple[np.ndarray, tuple[tuple[str, ...], ...]]:
    """The feature columns as float32 (N, D), numbers or category codes with NaN for missing cells,
    and each column's category names (``()`` for numeric ones); see :mod:`vaelab.data.columns`."""
    cells = _pick(rows, index)
    x = None
    if not categorical and not known:
        try:  # the common case, all numbers, in one call
            x = np.array(cells, dtype=np.float64)
        except ValueError:
            pass
    if x is not None:
        categories: tuple[tuple[str, ...], ...] = ((),) * len(names)
    else:
        parsed = [parse_column(column, name, str(path), lines, categorical=name in categorical,
                               known=known.get(name) or None)
                  for column, name in zip(zip(*cells, strict=True), names, strict=True)]
        x = np.stack([v for v, _ in parsed], axis=1)
        categories = tuple(c for _, c in parsed)
    return as_float32(x, str(path), columns=names, row_numbers=np.asarray(lines), row_word="line",
                      allow_nan=True), categories


def _numeric_columns(path: Path, rows: list[list[str]], index: list[int], names: tuple[str, ...],
                     lines: list[int]) -> np.ndarray:
    """The cells of columns ``index`` (named ``names``) of every row as float32 (N, len(index)); a
    cell that is not a finite number (missing ones included) is an error naming its line and column."""
    cells = _pick(rows, index)
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
            if is_number(value):
                continue
            where = f"{path}: column {columns[j]!r} line {lines[i]}"
            if is_missing(value):
                raise ValueError(f"{where} is missing ({value!r}); condition columns need a value in every "
                                 "row")
            raise ValueError(f"{where} has {value!r}, which is not a number; condition columns must be "
                             "numeric")
