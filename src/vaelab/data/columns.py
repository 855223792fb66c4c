"""Column types of a table: numeric or categorical, with missing cells.

A table's features become one float32 array (N, D), one entry per original column, so that every
output comes back as the original columns:

- a **numeric** column holds its values, NaN where a cell is missing;
- a **categorical** column holds category codes 0..K-1 (its K category names are kept in
  :attr:`vaelab.data.DataInfo.categories`), NaN where a cell is missing.

A column is categorical when one of its cells is text that is not a number, or when the user names
it (integer-coded categories such as a grade 1..5). Missing cells are the spellings in
:data:`MISSING` (any case); the model masks them out of its loss instead of inventing values
(:mod:`vaelab.distributions`).

The same rules serve CSV files (cells as text) and pandas DataFrames (:func:`frame_columns`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from vaelab.data.values import encode_labels

#: spellings of "no value" in a feature cell (compared lower-case, after stripping blanks)
MISSING = frozenset({"", "na", "n/a", "nan", "null", "none", "?", "-"})
#: a text column with more distinct values than this (and than half its rows) is an identifier or
#: free text, not categories
MAX_CATEGORIES = 200


def is_missing(text: str) -> bool:
    return text.strip().lower() in MISSING


def parse_column(cells: Sequence[str], name: str, where: str, lines: Sequence[int], *,
                 categorical: bool = False, known: Sequence[str] | None = None
                 ) -> tuple[np.ndarray, tuple[str, ...]]:
    """One column's text cells -> (values float64 (N,), category names).

    Numeric columns give their values and ``()``; categorical ones (text cells, or ``categorical``
    true, or ``known`` categories given) give codes into the category names. ``known`` maps onto a
    trained model's categories: a category outside them is an error. Missing cells are NaN.
    ``lines`` are the rows' line numbers for the errors (``where`` names the file)."""
    missing = np.fromiter((is_missing(c) for c in cells), dtype=bool, count=len(cells))
    present = [c.strip() for c, m in zip(cells, missing, strict=True) if not m]
    if not categorical and known is None:
        numbers = _numbers(present)
        if numbers is not None:
            out = np.full(len(cells), np.nan)
            out[~missing] = numbers
            return out, ()
        _reject_typo(present, cells, missing, name, where, lines)
    return _codes(present, missing, name, where, len(cells), known)


def _numbers(cells: Sequence[str]) -> np.ndarray | None:
    try:
        x = np.array(cells, dtype=np.float64)
    except ValueError:
        return None
    return x


def _reject_typo(present: list[str], cells: Sequence[str], missing: np.ndarray, name: str,
                 where: str, lines: Sequence[int]) -> None:
    """A column of numbers with a few text cells is a typo, not categories: name the first one."""
    distinct = set(present)
    numeric = sum(is_number(v) for v in distinct)
    if numeric <= len(distinct) / 2:
        return
    for i, cell in enumerate(cells):
        if not missing[i] and not is_number(cell):
            raise ValueError(
                f"{where}: column {name!r} line {lines[i]} has {cell!r}, which is not a number, but most of "
                "the column is numeric; fix the cell, or name the column as categorical to read it as "
                "categories"
            )


def is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _codes(present: list[str], missing: np.ndarray, name: str, where: str, n: int,
           known: Sequence[str] | None) -> tuple[np.ndarray, tuple[str, ...]]:
    out = np.full(n, np.nan)
    if known is not None:
        index = {c: i for i, c in enumerate(known)}
        bad = next((c for c in present if c not in index), None)
        if bad is not None:
            raise ValueError(f"{where}: column {name!r} has category {bad!r}, which the model was not "
                             f"trained on; known: {', '.join(known)}")
        out[~missing] = [index[c] for c in present]
        return out, tuple(known)
    if not present:
        raise ValueError(f"{where}: categorical column {name!r} has no values, only missing cells; drop it")
    ids, names = encode_labels(np.array(present), f"{where}: column {name!r}")
    if len(names) > MAX_CATEGORIES and len(names) > len(present) / 2:
        raise ValueError(
            f"{where}: column {name!r} has {len(names)} distinct text values in {len(present)} rows, which "
            f"looks like an identifier or free text; drop it (a categorical column has at most "
            f"{MAX_CATEGORIES} categories, or repeats its values)"
        )
    out[~missing] = ids
    return out, names


def check_categories(categories: Sequence[Sequence[str]], kind: str, columns: Sequence[str] | None,
                     where: str) -> tuple[tuple[str, ...], ...]:
    """``categories`` as tuples, checked: one sequence of unique names per table column, ``()``
    for numeric columns, at least one categorical column."""
    cats = tuple(tuple(c) if isinstance(c, list | tuple) else c for c in categories)
    if kind != "table" or columns is None or len(cats) != len(columns):
        raise ValueError(f"{where}: categories need table data with columns, one entry per column")
    for name, names in zip(columns, cats, strict=True):
        if not isinstance(names, tuple) or not all(isinstance(c, str) for c in names) \
                or len(set(names)) != len(names):
            raise ValueError(f"{where}: the categories of column {name!r} must be unique strings, got "
                             f"{names!r}")
    if not any(cats):
        raise ValueError(f"{where}: categories name no categorical column; give None for all-numeric tables")
    return cats


def decode_cell(value: float, categories: Sequence[str]) -> str | float:
    """How a cell reads back: ``""`` when missing (NaN), the category name of a code (rounded and
    clamped to the known codes) in a categorical column, else the number itself."""
    if math.isnan(value):
        return ""
    if categories:
        return categories[min(max(int(round(value)), 0), len(categories) - 1)]
    return value


def frame_columns(frame: Any, names: Sequence[str], where: str, *, categorical: Sequence[str] = (),
                  known: dict[str, Sequence[str]] | None = None
                  ) -> tuple[np.ndarray, tuple[tuple[str, ...], ...]]:
    """Columns ``names`` of a pandas DataFrame -> (float32 (N, D) values or codes, categories per
    column, ``()`` for numeric). Numeric dtypes stay numbers (NaN and None missing); other dtypes
    (text, ``category``, bool) are read as text cells with :func:`parse_column`."""
    import pandas as pd  # only needed when a DataFrame is given

    lines = np.arange(2, len(frame) + 2)  # as the CSV of the frame would number its rows
    values, categories = [], []
    known = known or {}
    for name in names:
        col = frame[name]
        if name not in categorical and name not in known and pd.api.types.is_numeric_dtype(col) \
                and not pd.api.types.is_bool_dtype(col):
            values.append(col.to_numpy(dtype=np.float64, na_value=np.nan))
            categories.append(())
            continue
        cells = ["" if pd.isna(v) else str(v) for v in col.tolist()]
        if isinstance(col.dtype, pd.CategoricalDtype) and name not in known:
            v, c = parse_column(cells, name, where, lines, known=[str(c) for c in col.cat.categories])
        else:  # text (object or string dtype) is typed like a CSV column; bools are categories
            forced = name in categorical or pd.api.types.is_bool_dtype(col)
            v, c = parse_column(cells, name, where, lines, categorical=forced, known=known.get(name))
        values.append(v)
        categories.append(c)
    x = np.stack(values, axis=1) if values else np.zeros((len(frame), 0))
    return x, tuple(categories)
