"""Writing model outputs in the data's own format, chosen by the file suffix the user asked for:
``.png`` (a grid of images, or piano rolls of music), ``.mid`` (music: the examples one after
another, a bar of rest between them), ``.npy`` (the array as it is) or ``.csv`` (tables, with the
original column names; codes, with columns z0, z1, ...). Used by the CLI, which picks the paths.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vaelab import plots
from vaelab.data import DataInfo
from vaelab.data.columns import decode_cell
from vaelab.data.tokens import REST
from vaelab.files import atomic_path

SUFFIXES = (".png", ".npy", ".csv", ".mid")
OUTPUT_FOR_KIND = {"image": ".png or .npy", "table": ".csv or .npy", "sequence": ".mid, .png or .npy"}


def check_suffix(path: str | os.PathLike[str], allowed: Sequence[str] = SUFFIXES) -> Path:
    """Return ``path`` as a Path if its suffix is allowed, else a one-line ``ValueError``."""
    path = Path(path)
    if path.suffix.lower() not in allowed:
        raise ValueError(f"--out {path}: unknown file type {path.suffix or '(none)'!r}; "
                         f"allowed: {', '.join(allowed)}")
    return path


# which kinds of data each output type holds, and how to name them in an error
OUTPUT_KINDS = {".png": ("image", "sequence"), ".csv": ("table",), ".mid": ("sequence",)}
KIND_NAMES = {"image": "image", "table": "table", "sequence": "music"}


def check_output(path: str | os.PathLike[str], kind: str) -> Path:
    """``path`` as a Path if its suffix is allowed for data of ``kind``, else a one-line
    ``ValueError`` naming what the data allow."""
    path = check_suffix(path)
    suffix = path.suffix.lower()
    if suffix in OUTPUT_KINDS and kind not in OUTPUT_KINDS[suffix]:
        needs = " or ".join(KIND_NAMES[k] for k in OUTPUT_KINDS[suffix])
        raise ValueError(f"--out {path}: {suffix[1:].upper()} output needs {needs} data; this run holds "
                         f"{KIND_NAMES.get(kind, kind)} data, use {OUTPUT_FOR_KIND.get(kind, '.npy')}")
    return path


def save_figure(fig: Any, path: str | os.PathLike[str], dpi: int = 100) -> Path:
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format=path.suffix.lstrip(".") or "png")
    return path


def write_csv(path: str | os.PathLike[str], rows: np.ndarray, columns: Sequence[str],
              labels: np.ndarray | None = None, label_name: str = "label",
              categories: Sequence[Sequence[str]] | None = None) -> Path:
    """Rows (N, D) under a header of ``columns`` (plus a label column when ``labels`` is given).

    ``categories`` (one entry per column, ``()`` for numeric ones) writes the codes of categorical
    columns as their category names; a missing value (NaN) is an empty cell."""
    rows = np.asarray(rows).reshape(len(rows), -1)
    if rows.shape[1] != len(columns):
        raise ValueError(f"{rows.shape[1]} values per row but {len(columns)} column names")
    names = list(categories) if categories is not None else [()] * len(columns)
    if len(names) != len(columns):
        raise ValueError(f"{len(names)} category lists for {len(columns)} columns")

    def cell(v: float, cats: Sequence[str]) -> str:
        shown = decode_cell(v, cats)
        return shown if isinstance(shown, str) else f"{shown:.6g}"

    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow([*columns, *([label_name] if labels is not None else [])])
        for i, row in enumerate(rows):
            cells = [cell(float(v), c) for v, c in zip(row, names, strict=True)]
            writer.writerow(cells if labels is None else [*cells, labels[i]])
    return path


def write_npy(path: str | os.PathLike[str], array: np.ndarray) -> Path:
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.save(f, array)
    return path


def write_data(path: str | os.PathLike[str], x: np.ndarray, info: DataInfo,
               title: str | None = None, titles: Sequence[str] | None = None,
               ncols: int | None = None) -> Path:
    """Write examples ``x`` (N, *shape) in data units as a PNG grid, .npy, CSV or MIDI.

    PNG needs images (a grid) or music (piano rolls, captioned with ``titles``); CSV needs tables
    (its header is the data's column names); MIDI needs music (the examples in turn). ``ncols``
    sets the piano rolls per row (2 shows pairs side by side).
    """
    path = check_output(path, str(info.kind))
    suffix, kind = path.suffix.lower(), info.kind
    if suffix == ".npy":
        return write_npy(path, x)
    if suffix == ".png" and kind == "image":
        return save_figure(plots.image_grid(x, tuple(info.value_range), title=title), path)
    if suffix == ".png":
        fig = plots.piano_rolls(x, tuple(info.pitch_range), titles=titles, voices=info.voices,
                                      steps_per_bar=4 * int(info.steps_per_quarter), ncols=ncols,
                                      title=title)
        return save_figure(fig, path)
    if suffix == ".mid":
        return write_music(path, x, info)
    columns = info.columns or [f"x{i}" for i in range(int(np.prod(x.shape[1:])))]
    return write_csv(path, x, columns, categories=info.categories)


def in_turn(tokens: np.ndarray, gap: int) -> np.ndarray:
    """Examples (N, T) or (N, V, T) one after another with ``gap`` rest steps between them:
    (V, N*T + (N-1)*gap), voices kept apart."""
    x = np.asarray(tokens)
    x = x[:, None] if x.ndim == 2 else x
    n, v, _ = x.shape
    rest = np.full((v, gap), REST, dtype=x.dtype)
    parts = [p for i in range(n) for p in ((x[i],) if i == 0 else (rest, x[i]))]
    return np.concatenate(parts, axis=1)


def write_music(path: str | os.PathLike[str], x: np.ndarray, info: DataInfo) -> Path:
    """Token examples (N, T) or (N, V, T) as one MIDI file, one track per voice, the examples in
    turn with a bar of rest between them."""
    from vaelab.data.midi import write_midi  # mido: the music extra

    steps_per_bar = 4 * int(info.steps_per_quarter)
    joined = in_turn(np.rint(x).astype(np.int64), steps_per_bar)
    voices = list(info.voices)
    return write_midi(Path(path), joined if len(voices) > 1 else joined[0], tuple(info.pitch_range),
                      steps_per_quarter=int(info.steps_per_quarter), names=voices)


def write_codes(path: str | os.PathLike[str], z: np.ndarray, labels: np.ndarray | None = None,
                classes: Sequence[str] | None = None) -> Path:
    """Latent codes (N, Z) as .npy, or as CSV with columns z0..z{Z-1} and the label if known."""
    path = check_suffix(path, (".npy", ".csv"))
    if path.suffix.lower() == ".npy":
        return write_npy(path, z)
    names = None
    if labels is not None:
        names = np.asarray([classes[i] for i in labels] if classes else labels)
    return write_csv(path, z, [f"z{i}" for i in range(z.shape[1])], labels=names)


def read_codes(path: str | os.PathLike[str], latent_dim: int) -> np.ndarray:
    """Latent codes (N, Z) from .npy or from the z0..z{Z-1} columns of a CSV."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"--latents {path} does not exist")
    if path.suffix.lower() == ".npy":
        try:
            z = np.load(path, allow_pickle=False)
        except ValueError as err:
            raise ValueError(f"{path} is not a plain numeric .npy file ({err})") from None
    elif path.suffix.lower() == ".csv":
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
        if not rows:
            raise ValueError(f"{path} is empty")
        header = rows[0]
        cols = [header.index(f"z{i}") for i in range(latent_dim) if f"z{i}" in header]
        if len(cols) != latent_dim:
            raise ValueError(f"{path} needs columns z0..z{latent_dim - 1}; header has {header}")
        try:
            z = np.array([[float(r[c]) for c in cols] for r in rows[1:]], dtype=np.float32)
        except (ValueError, IndexError) as err:
            raise ValueError(f"{path}: a z column holds a non-number ({err})") from None
    else:
        raise ValueError(f"--latents {path}: allowed file types are .npy and .csv")
    if z.ndim != 2 or z.shape[1] != latent_dim or not np.issubdtype(z.dtype, np.number):
        raise ValueError(f"{path} holds an array of shape {z.shape}; the model needs "
                         f"(N, {latent_dim}) latent codes")
    if not np.isfinite(z).all():
        raise ValueError(f"{path} contains NaN or infinite values")
    return z.astype(np.float32)


def interleave(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Examples a0, b0, a1, b1, ...: (2N, *shape) from two arrays (N, *shape)."""
    return np.stack([a, b], axis=1).reshape(-1, *a.shape[1:])
