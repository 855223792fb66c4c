"""Name -> implementation tables: the one place where a string from a config or the CLI becomes code.

Each table is a plain dict. Modules fill them with :func:`register` where the implementation is
defined, so adding a model or a dataset touches one file. Look names up with :func:`lookup`, which
turns an unknown name into a one-line error listing the known ones.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, TypeVar

from vaelab._checks import invalid

T = TypeVar("T")

MODELS: dict[str, Any] = {}
ENCODERS: dict[str, Any] = {}
DECODERS: dict[str, Any] = {}
LIKELIHOODS: dict[str, Any] = {}
DATASETS: dict[str, Any] = {}

#: the module whose import fills each table: imported by the first look-up, so that a config can be
#: checked before anything else of vaelab was imported (the package root imports lazily)
_FILLED_BY = {id(MODELS): "vaelab.models", id(ENCODERS): "vaelab.nn", id(DECODERS): "vaelab.nn",
              id(LIKELIHOODS): "vaelab.distributions", id(DATASETS): "vaelab.data"}

def filled(table: dict[str, Any]) -> dict[str, Any]:
    """``table`` after the module that registers its entries has been imported."""
    module = _FILLED_BY.get(id(table))
    if module is not None:
        importlib.import_module(module)
    return table


def register(table: dict[str, Any], name: str) -> Callable[[T], T]:
    """Decorator that stores the decorated object in ``table`` under ``name``."""

    def add(obj: T) -> T:
        if name in table:
            raise KeyError(f"{name!r} is registered twice")
        table[name] = obj
        return obj

    return add


def lookup(table: dict[str, Any], name: str, what: str) -> Any:
    """Return ``table[name]``; an unknown name raises ``ValueError`` listing the allowed ones, in the
    message format of :mod:`vaelab._checks` with ``what`` as the parameter's name."""
    try:
        return filled(table)[name]
    except KeyError:
        known = ", ".join(sorted(table)) or "(none registered)"
        raise invalid(what, name, f"choose from: {known}") from None
