"""Writing model outputs in the data's own format, chosen by the file suffix the user asked for:
``.png`` (a grid of images, or piano rolls of music), ``.mid`` (music: the examples one after
another, a bar of rest between them), ``.npy`` (the array as it is) or ``.csv`` (tables, with the
original column names; codes, with columns z0, z1, ...). Used by the CLI, which picks the paths.

How big an output may get is checked here too, before any work (:func:`check_output_size`): an
estimate in bytes against a limit, and the number of pictures one PNG can show. Outputs of many
examples are written as they are made, a chunk at a time (:func:`write_chunks`).
"""

from __future__ import annotations

import csv
import math
import os
import re
from collections.abc import Iterable, Sequence
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
    header = [*columns, *([label_name] if labels is not None else [])]
    return _write_csv_chunks(path, [(rows, labels)], header, columns, categories)


def _write_csv_chunks(path: str | os.PathLike[str],
                      chunks: Iterable[tuple[np.ndarray, np.ndarray | None]], header: Sequence[str],
                      columns: Sequence[str], categories: Sequence[Sequence[str]] | None) -> Path:
    """One CSV from chunks of rows (m, ...) read as (m, D), each with its labels (m,) or None."""
    names = list(categories) if categories is not None else [()] * len(columns)
    if len(names) != len(columns):
        raise ValueError(f"{len(names)} category lists for {len(columns)} columns")

    def cell(v: float, cats: Sequence[str]) -> str:
        shown = decode_cell(v, cats)
        return shown if isinstance(shown, str) else f"{shown:.6g}"

    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        for rows, labels in chunks:
            rows = np.asarray(rows).reshape(len(rows), -1)  # (m, D)
            if rows.shape[1] != len(columns):
                raise ValueError(f"{rows.shape[1]} values per row but {len(columns)} column names")
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
    return write_csv(path, x, _columns(info), categories=info.categories)


def _columns(info: DataInfo) -> list[str]:
    """The CSV header of examples: a table's column names, else x0, x1, ... per value."""
    return list(info.columns or [f"x{i}" for i in range(math.prod(info.shape))])


def write_chunks(path: str | os.PathLike[str], chunks: Iterable[np.ndarray], n: int, info: DataInfo,
                 title: str | None = None) -> Path:
    """Write ``n`` examples that arrive in chunks (m, *shape), in data units, as :func:`write_data`
    does, atomically. A .npy (the header of the whole array, then the rows chunk by chunk) and a CSV
    (rows appended) hold one chunk in memory at a time; a PNG or MIDI file, which needs every example
    at once, joins them first (:func:`check_output_size` keeps those small).

    >>> write_chunks("x.npy", (np.zeros((2, 3)) for _ in range(5)), 10, info)  # doctest: +SKIP
    """
    from numpy.lib import format as npy

    path = check_output(path, str(info.kind))
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _write_csv_chunks(path, ((chunk, None) for chunk in chunks), _columns(info), _columns(info),
                                 info.categories)
    if suffix != ".npy":
        return write_data(path, np.concatenate(list(chunks)), info, title=title)
    # Plain writes, not numpy's open_memmap: the pages of a memory map count in the process's resident
    # memory until they are written back (+250 MB for 1M digit samples), sequential writes do not.
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        dtype, done = None, 0
        for chunk in chunks:
            if dtype is None:  # the header of the whole array (n, *shape), in the first chunk's dtype
                dtype = chunk.dtype
                npy.write_array_header_1_0(f, {"descr": npy.dtype_to_descr(dtype), "fortran_order": False,
                                               "shape": (n, *chunk.shape[1:])})
            np.ascontiguousarray(chunk, dtype=dtype).tofile(f)
            done += len(chunk)
        if done != n:
            raise ValueError(f"write_chunks: got {done} examples for {path}; expected n={n}")
    return path


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


# -- how big an output may get ------------------------------------------------------------------

#: outputs estimated above this many bytes are refused unless the user raises the limit
#: (``--max-bytes``, ``$VAELAB_MAX_OUTPUT_BYTES``): an order of magnitude above any picture or
#: table a person looks at, and far below what fills a disk or the memory of a laptop
MAX_OUTPUT_BYTES = 2**30
MAX_BYTES_ENV = "VAELAB_MAX_OUTPUT_BYTES"
#: the most examples one PNG shows: a 50 x 50 grid of images, 10 x 10 piano rolls (each roll is an
#: axes of its own, 320 px wide); beyond that each is too small to read and the figure too slow to draw
MAX_PICTURES = {"image": 2500, "sequence": 100}
PICTURE_NAMES = {"image": "images", "sequence": "piano rolls"}
#: what holds more examples than a picture, for each kind of data a PNG can show
NOT_PICTURES = {"image": "FILE.npy", "sequence": "FILE.mid or FILE.npy"}
#: bytes per value of each output: float32 in a .npy; about 12 characters of text per CSV cell
#: ("%.6g" and a comma); the array held in memory to draw a PNG, and the int64 tokens of a MIDI file
BYTES_PER_VALUE = {".npy": 4, ".csv": 12, ".png": 4, ".mid": 8}
SIZE_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


def parse_size(text: str, name: str = "--max-bytes") -> int:
    """A size in bytes from ``"1000000"``, ``"500M"``, ``"1.5G"`` (K, M, G, T are powers of 1024);
    ``name`` (a flag, or ``$VAR=`` for an environment variable) starts the error message.

    >>> parse_size("2G")
    2147483648
    """
    match = re.fullmatch(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([KMGT]?)(?:i?B)?\s*", str(text), re.IGNORECASE)
    size = math.ceil(float(match[1]) * SIZE_UNITS[match[2].upper()]) if match else 0
    if size < 1:
        given = f"{name}{text}" if name.endswith("=") else f"{name} {text}"
        raise ValueError(f"{given} is not allowed; give a size in bytes > 0, e.g. 500M or 4G "
                         "(K, M, G, T = 1024-based units)")
    return size


def format_size(size: float) -> str:
    """``2576980378`` -> ``"2.4 GiB"``: three significant digits in 1024-based units."""
    units = ["B", "KiB", "MiB", "GiB", "TiB"]
    while size >= 1024 and len(units) > 1:
        size, units = size / 1024, units[1:]
    return f"{size:.0f} B" if units[0] == "B" else f"{size:.3g} {units[0]}" if size < 1000 else \
        f"{size:,.0f} {units[0]}"


def output_bytes(path: str | os.PathLike[str], rows: int, shape: Sequence[int]) -> int:
    """About how many bytes ``rows`` examples of ``shape`` take as the file ``path`` (by suffix)."""
    return rows * math.prod(shape) * BYTES_PER_VALUE[Path(path).suffix.lower()]


def check_output_size(path: str | os.PathLike[str], rows: int, info: DataInfo, limit: int | None, *,
                      flag: str, value: object, pictures: int | None = None) -> None:
    """Refuse, before any work, an output of ``rows`` examples of the data of ``info`` that would be
    larger than ``limit`` bytes (no limit for None, where the size is bounded by the input), or a
    PNG of more than :data:`MAX_PICTURES` examples (``pictures``, ``rows`` unless given: a grid of
    originals above reconstructions shows two per row). ``flag`` and ``value`` name what the user
    set that decides the size, e.g. ``-n`` and 10000000.

    >>> check_output_size("x.npy", 10**7, digits.info, MAX_OUTPUT_BYTES, flag="-n", value=10**7)
    Traceback (most recent call last):
    ValueError: -n 10000000 is not allowed; 10,000,000 examples of 64 values as .npy come to about ...
    """
    path, kind = Path(path), str(info.kind)
    suffix = path.suffix.lower()
    shown = rows if pictures is None else pictures
    if suffix == ".png" and shown > MAX_PICTURES.get(kind, math.inf):
        raise ValueError(f"{flag} {value} is not allowed; a PNG of {shown:,} {PICTURE_NAMES[kind]} is more "
                         f"than a picture can show (at most {MAX_PICTURES[kind]:,}): give a smaller {flag}, "
                         f"or --out {NOT_PICTURES[kind]} for all of them")
    size = output_bytes(path, rows, info.shape)
    if limit is not None and size > limit:
        values = math.prod(info.shape)
        raise ValueError(
            f"{flag} {value} is not allowed; {rows:,} examples of {values:,} values as {suffix} come to "
            f"about {format_size(size)} ({rows:,} x {values:,} x {BYTES_PER_VALUE[suffix]} bytes), above the "
            f"limit of {format_size(limit)}: give a smaller {flag}, or raise the limit with --max-bytes "
            f"{math.ceil(size / 2**30)}G (or ${MAX_BYTES_ENV})")
