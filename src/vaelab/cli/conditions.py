"""The labels and condition values a conditional run is given on the command line: ``--label``
(a class by name or id, several, or ``all``) and ``--condition COL=V,...``. Shared by ``sample``,
``decode`` and ``restyle``."""

from __future__ import annotations

import argparse
import math

import numpy as np

import vaelab
from vaelab.cli.common import class_id

ALL = "all"


def classes(model: vaelab.Autoencoder) -> list[str]:
    names = model.data_info.classes
    return list(names) if names else [str(i) for i in range(model.config.n_conditions)]


def label_id(text: str, model: vaelab.Autoencoder, flag: str = "--label") -> int:
    """A label given as a class name, or as an id unless the names are numbers -> its id; anything
    else is an error listing the known labels."""
    return class_id(text, classes(model), flag)


def label_list(text: str, model: vaelab.Autoencoder, flag: str) -> list[int]:
    """``all`` or comma-separated labels (names or ids) -> ids."""
    if text.strip() == ALL:
        return list(range(len(classes(model))))
    ids = [label_id(t, model, flag) for t in text.split(",") if t.strip()]
    if not ids:
        raise ValueError(f"{flag}: give labels separated by commas, or all")
    return ids


def condition_row(text: str, model: vaelab.Autoencoder) -> np.ndarray:
    """``"col=value,..."`` naming every condition column of the model -> (A,) float32."""
    names = list(model.data_info.condition_columns or [])
    given: dict[str, float] = {}
    for part in (p for p in text.split(",") if p.strip()):
        name, sep, value = part.partition("=")
        name = name.strip()
        if not sep or name not in names:
            raise ValueError(f"--condition {part.strip()!r}: give COLUMN=VALUE pairs for the condition "
                             f"columns {', '.join(names)}")
        try:
            given[name] = float(value)
        except ValueError:
            raise ValueError(f"--condition {name}={value.strip()!r}: the value must be a number") from None
        if not math.isfinite(given[name]):
            raise ValueError(f"--condition {name}: the value must be finite")
    missing = [n for n in names if n not in given]
    if missing:
        raise ValueError(f"--condition lacks {', '.join(missing)}; give a value for every condition column: "
                         f"{', '.join(names)}")
    return np.array([given[n] for n in names], dtype=np.float32)


def sample_conditions(args: argparse.Namespace, model: vaelab.Autoencoder, many: bool = True
                      ) -> tuple[list[np.ndarray | None], list[str]]:
    """What ``vaelab sample`` draws for: one y (n,) or (n, A) per group of ``args.n`` samples, with
    each group's name; a single unconditional group ``[None]`` for other models. ``many=False``
    allows a single label only (``decode``)."""
    label, cond = args.label, args.condition
    kind = model.config.condition if model.conditional else "none"
    if kind == "none":
        if label is not None or cond is not None:
            flag = "--label" if label is not None else "--condition"
            raise ValueError(f"{flag} applies to conditional models (--model cvae); {args.run} holds a "
                             f"{model.config.model}")
        return [None], [""]
    if kind == "label":
        if cond is not None:
            raise ValueError(f"{args.run} is conditioned on class labels; use --label, not --condition")
        more = ", or --label all for each class in turn" if many else ""
        if label is None:
            raise ValueError(f"{args.run} is a conditional model: give --label, one of "
                             f"{', '.join(classes(model))}{more}")
        ids = label_list(label, model, "--label") if many else [label_id(label, model)]
        return [np.full(args.n, k, dtype=np.int64) for k in ids], [classes(model)[k] for k in ids]
    if label is not None:
        raise ValueError(f"{args.run} is conditioned on the columns "
                         f"{', '.join(model.data_info.condition_columns or [])}; use --condition "
                         "COLUMN=VALUE,...")
    if cond is None:
        raise ValueError(f"{args.run} is a conditional model: give --condition with a value for each of "
                         f"{', '.join(model.data_info.condition_columns or [])}")
    row = condition_row(cond, model)
    return [np.tile(row, (args.n, 1))], [cond]
