"""Checking arguments at the library's boundary, with one message format.

A bad value raises ``ValueError("NAME=VALUE is not allowed; WHAT IS ALLOWED")`` (see
:func:`invalid`), optionally after a ``WHERE: `` prefix naming the file or data it came from; a bad
shape raises ``ValueError("NAME has shape SHAPE; allowed: SHAPES")``. The CLI turns ``NAME=`` into
the flag (``--epochs 0 is not allowed; ...``). Plain Python and numpy; no torch, so every layer can
use it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np


def invalid(name: str, value: Any, allowed: str, where: str | None = None) -> ValueError:
    """The error for ``name=value``: ``"[where: ]name=value is not allowed; allowed"``.

    >>> str(invalid("latent_dim", 0, "it must be an integer >= 1"))
    'latent_dim=0 is not allowed; it must be an integer >= 1'
    """
    prefix = f"{where}: " if where else ""
    return ValueError(f"{prefix}{name}={value!r} is not allowed; {allowed}")


def check(ok: bool, name: str, value: Any, allowed: str, where: str | None = None) -> None:
    """Raise :func:`invalid` unless ``ok``."""
    if not ok:
        raise invalid(name, value, allowed, where)


def is_int(value: Any) -> bool:
    """An integer, numpy's included, and not a bool."""
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def check_int(value: Any, name: str, low: int, high: int | None = None, what: str = "") -> int:
    """``value`` as an int if it is an integer from ``low`` to ``high`` (no upper bound for None);
    ``what`` adds a note to the message, e.g. ``" (the number of rows of x)"``."""
    ok = is_int(value) and value >= low and (high is None or value <= high)
    allowed = f"an integer from {low} to {high}" if high is not None else f"an integer >= {low}"
    check(ok, name, value, f"it must be {allowed}{what}")
    return int(value)


def check_number(value: Any, name: str, *, low: float = -math.inf, high: float = math.inf,
                 low_open: bool = False, what: str = "") -> float:
    """``value`` as a float if it is a finite number in [low, high] (``(low, high]`` with
    ``low_open``); bools are not numbers here."""
    ok = isinstance(value, int | float | np.number) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (value > low if low_open else value >= low) and value <= high
    if what:
        allowed = what
    elif math.isinf(low) and math.isinf(high):
        allowed = "it must be a finite number"
    elif math.isinf(high):
        allowed = f"it must be a number {'>' if low_open else '>='} {low:g}"
    else:
        allowed = f"it must be a number in {'(' if low_open else '['}{low:g}, {high:g}]"
    check(ok, name, value, allowed)
    return float(value)


def check_choice(value: Any, name: str, choices: Iterable[str], where: str | None = None) -> str:
    """``value`` if it is one of ``choices``; the message lists them."""
    choices = list(choices)
    check(value in choices, name, value, f"choose from: {', '.join(choices)}", where)
    return value


def check_temperature(temperature: Any) -> float:
    """A sampling temperature: a finite number > 0."""
    return check_number(temperature, "temperature", low=0.0, low_open=True,
                        what="it must be a finite number > 0")


def shape_error(name: str, shape: Sequence[int], allowed: str) -> ValueError:
    """The error for an array of the wrong shape: ``"name has shape (...); allowed: ..."``."""
    return ValueError(f"{name} has shape {tuple(shape)}; allowed: {allowed}")


def check_rows(x: Any, shape: Sequence[int], name: str = "x") -> Any:
    """``x`` (a tensor, or anything numpy reads as float32) if its rows have ``shape``: (N, *shape)."""
    if not hasattr(x, "shape") or not hasattr(x, "detach"):  # not a tensor
        x = np.asarray(x, dtype=np.float32)
    shape = tuple(shape)
    if tuple(x.shape[1:]) != shape or len(x.shape) != len(shape) + 1:
        allowed = f"(N, {', '.join(map(str, shape))}), rows shaped like the model's input"
        raise shape_error(name, x.shape, allowed)
    return x


def check_one(x: Any, shape: Sequence[int], name: str, also: str = "") -> Any:
    """One example given as (*shape) or (1, *shape), an array or a tensor: returned as (1, *shape)."""
    shape = tuple(shape)
    if tuple(x.shape) not in (shape, (1, *shape)):
        raise shape_error(name, x.shape, f"one input of shape {shape} or {(1, *shape)}{also}")
    return x.reshape(1, *shape)


def check_labels(y: Any, n: int) -> Any:
    """Labels (n,) or conditions (n, A), one row per row of x, or None; returned unchanged."""
    if y is not None and (len(y.shape) not in (1, 2) or len(y) != n):
        raise shape_error("y", y.shape, f"({n},) labels or ({n}, A) conditions, one row per row of x")
    return y
