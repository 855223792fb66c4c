"""Checking and describing raw values: finiteness, float32 conversion, value ranges, label ids.

Shared by every loader so that a NaN, an overflow or a label column reads the same way whether it
came from a CSV, an array file or an IDX file.
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Real

import numpy as np


def check_test_fraction(test_fraction: float, where: str) -> None:
    """Raise ``ValueError`` unless ``0 < test_fraction < 1``."""
    if isinstance(test_fraction, bool) or not isinstance(test_fraction, Real) or not 0 < test_fraction < 1:
        raise ValueError(
            f"{where}: test_fraction={test_fraction!r} is not allowed; allowed: a number strictly between "
            "0 and 1"
        )


def check_finite(
    x: np.ndarray,
    where: str,
    *,
    columns: Sequence[str] | None = None,
    row_numbers: np.ndarray | None = None,
    row_word: str = "row",
    allow_nan: bool = False,
) -> None:
    """Raise ``ValueError`` naming the first row (and column) of ``x`` (N, ...) holding NaN or inf
    (only inf with ``allow_nan``, where NaN marks a missing value).

    ``row_numbers`` maps array rows to the numbers a user sees (CSV lines); without it rows are
    counted from 0 as numpy does.
    """
    if x.dtype.kind in "fc" and (bad := _first_non_finite(x, allow_nan)) is not None:
        place = _place(bad, where, columns, row_numbers, row_word)
        allowed = "finite numbers or missing values" if allow_nan else "finite numbers (no NaN or infinity)"
        raise ValueError(f"{place} has {x.reshape(len(x), -1)[bad]}; only {allowed} are allowed")


def as_float32(
    x: np.ndarray,
    where: str,
    *,
    columns: Sequence[str] | None = None,
    row_numbers: np.ndarray | None = None,
    row_word: str = "row",
    allow_nan: bool = False,
) -> np.ndarray:
    """``x`` (N, ...) as float32 after :func:`check_finite`; values beyond float32's range are an error."""
    check_finite(x, where, columns=columns, row_numbers=row_numbers, row_word=row_word, allow_nan=allow_nan)
    with np.errstate(over="ignore"):  # overflow becomes inf, reported below with the original value
        out = x.astype(np.float32)
    if x.dtype.kind == "f" and (bad := _first_non_finite(out, allow_nan)) is not None:
        place = _place(bad, where, columns, row_numbers, row_word)
        limit = float(np.finfo(np.float32).max)
        raise ValueError(
            f"{place} has {x.reshape(len(x), -1)[bad]}, too large for float32; allowed: |value| <= "
            f"{limit:.3g}"
        )
    return out


def _first_non_finite(x: np.ndarray, allow_nan: bool = False) -> tuple[int, int] | None:
    """(row, flat column) of the first NaN or inf (only inf with ``allow_nan``) in ``x`` (N, ...),
    or ``None``."""
    flat = x.reshape(len(x), -1)
    bad = np.isinf(flat) if allow_nan else ~np.isfinite(flat)
    bad_rows = bad.any(axis=1)
    if not bad_rows.any():
        return None
    i = int(np.argmax(bad_rows))
    return i, int(np.argmax(bad[i]))


def _place(bad: tuple[int, int], where: str, columns, row_numbers, row_word: str) -> str:
    i, j = bad
    row = f"{row_word} {row_numbers[i]}" if row_numbers is not None else f"{row_word} {i} (counting from 0)"
    col = f" column {columns[j]!r}" if columns is not None else ""
    return f"{where}: {row}{col}"


def image_value_range(x: np.ndarray) -> tuple[float, float]:
    """(lo, hi) for image array ``x``: (0, 255) for uint8, (0, 1) for data already inside [0, 1]."""
    if x.dtype == np.uint8:
        return (0.0, 255.0)
    if x.dtype == np.bool_:
        return (0.0, 1.0)
    lo, hi = float(x.min()), float(x.max())
    if x.dtype.kind == "f" and lo >= 0.0 and hi <= 1.0:
        return (0.0, 1.0)
    return (lo, hi)


def observed_range(x: np.ndarray) -> tuple[float, float]:
    """(min, max) over all entries of ``x`` but missing ones (NaN); (0, 0) when all are missing."""
    if x.size == 0 or np.isnan(x).all():
        return (0.0, 0.0)
    return (float(np.nanmin(x)), float(np.nanmax(x)))


def encode_labels(values: np.ndarray, where: str) -> tuple[np.ndarray, tuple[str, ...]]:
    """Map raw labels (N,) to int64 ids (N,) and class names; id ``i`` means ``classes[i]``.

    Numbers sort numerically (integral values are named without a decimal point, so 3.0 is
    ``"3"``); strings that all parse as numbers are treated as numbers; other strings sort as text.
    """
    values = np.asarray(values)
    if values.ndim != 1:
        raise ValueError(f"{where}: labels must be 1-D (one per row), got shape {values.shape}")
    kind = values.dtype.kind
    if kind in "US":
        text = values.astype(str)
        uniq, inverse = np.unique(text, return_inverse=True)
        try:
            numbers = np.array([float(s) for s in uniq])
        except ValueError:
            return inverse.astype(np.int64), tuple(str(s) for s in uniq)
        # Several spellings of one number ("1", "1.0") become one class below.
        values = numbers[inverse]
        kind = "f"
    if kind == "b":
        values = values.astype(np.int64)
        kind = "i"
    if kind not in "iuf":
        raise ValueError(
            f"{where}: labels of dtype {values.dtype} are not supported; allowed: integers, floats or strings"
        )
    if kind == "f" and not np.isfinite(values).all():
        i = int(np.argmax(~np.isfinite(values)))
        raise ValueError(f"{where}: label {i} (counting from 0) is {values[i]}; labels must be finite")
    uniq = np.unique(values)
    ids = np.searchsorted(uniq, values).astype(np.int64)
    names = tuple(str(int(v)) if float(v).is_integer() else str(v) for v in uniq)
    return ids, names
