"""One input given as a file, for the commands that take single examples (``interpolate``'s
endpoints, ``attribute``'s ``--with``/``--without`` examples): a .npy of one example, an image file
for images, a one-row CSV for tables, a MIDI file's first window for melodies."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

import vaelab

IMAGE_FILES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")


def read_image(path: Path, flag: str, shape: tuple[int, ...],
                value_range: tuple[float, float]) -> np.ndarray:
    """An image file as one input (C, H, W): the model's channels and size, in data units."""
    from PIL import Image, UnidentifiedImageError  # Pillow comes with matplotlib

    c, h, w = shape  # image data have 1, 3 or 4 channels (vaelab.data), 2 for completeness
    try:
        with Image.open(path) as im:
            image = im.convert({1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[c])
    except (UnidentifiedImageError, OSError) as err:
        raise ValueError(f"{flag} {path}: cannot read the image ({err})") from None
    if image.size != (w, h):  # Pillow sizes are (width, height)
        image = image.resize((w, h), Image.Resampling.LANCZOS)
    pixels = np.asarray(image, dtype=np.float32) / 255.0  # (H, W) or (H, W, C) in [0, 1]
    pixels = pixels[None] if c == 1 else pixels.transpose(2, 0, 1)  # (C, H, W)
    lo, hi = value_range
    return lo + (hi - lo) * pixels


def read_row(path: Path, flag: str, columns: list[str]) -> np.ndarray:
    """A one-row CSV holding the model's columns (in any order, others ignored) -> (D,)."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = [r for r in csv.reader(f) if r]
    if len(rows) != 2:
        raise ValueError(f"{flag} {path}: needs a header and exactly one row; it has "
                         f"{max(len(rows) - 1, 0)} rows")
    header, row = [h.strip() for h in rows[0]], rows[1]
    missing = [c for c in columns if c not in header]
    if missing:
        raise ValueError(f"{flag} {path}: lacks column(s) {', '.join(missing)}; the model needs "
                         f"{', '.join(columns)}")
    try:
        return np.array([float(row[header.index(c)]) for c in columns], dtype=np.float32)
    except (ValueError, IndexError):
        raise ValueError(f"{flag} {path}: a column of the row is empty or not a number") from None


def read_melody_window(path: Path, flag: str, steps: int, pitch_range: tuple[int, int]) -> np.ndarray:
    """The first ``steps`` steps of a MIDI file's melody as tokens (steps,), transposed into the
    model's ``pitch_range`` (centred in it) when it lies outside."""
    from vaelab.data.midi import read_melody
    from vaelab.data.tokens import Note, notes_to_tokens
    from vaelab.music.harmony import fit_transposition

    notes = [n for n in read_melody(path)[0] if n.start < steps]
    if not notes:
        raise ValueError(f"{flag} {path}: the melody has no notes in its first {steps} steps")
    lo, hi = min(n.pitch for n in notes), max(n.pitch for n in notes)
    shift = 0
    if lo < pitch_range[0] or hi > pitch_range[1]:
        try:
            shift = fit_transposition((lo, hi), pitch_range)
        except ValueError:
            raise ValueError(f"{flag} {path}: the melody spans pitches {lo}..{hi}, wider than the model's "
                             f"range {pitch_range[0]}..{pitch_range[1]}") from None
    moved = [Note(n.pitch + shift, n.start, n.duration) for n in notes]
    return notes_to_tokens(moved, steps, pitch_range).astype(np.float32)


def read_input(text: str, flag: str, model: vaelab.Autoencoder) -> np.ndarray:
    """One input (*shape) from a .npy file, an image file (images) or a one-row CSV (tables)."""
    path, info, shape = Path(text), model.data_info, tuple(model.config.input_shape)
    kind = info.kind
    if not path.is_file():
        raise FileNotFoundError(f"{flag} {text}: is neither a row index nor an existing file")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        try:
            x = np.load(path, allow_pickle=False)
        except ValueError as err:
            raise ValueError(f"{flag} {path} is not a plain numeric .npy file ({err})") from None
        flat = (math.prod(shape),)  # an image as one flat row, as --data reads flat rows too
        if x.shape not in (shape, (1, *shape), flat, (1, *flat)) or not np.issubdtype(x.dtype, np.number):
            also = f" (or {flat[0]} values in a row)" if len(shape) > 1 else ""
            raise ValueError(f"{flag} {path} holds an array of shape {x.shape}; the model needs "
                             f"one input of shape {shape}{also}")
        return x.reshape(shape).astype(np.float32)
    if suffix in IMAGE_FILES and kind == "image":
        return read_image(path, flag, shape, tuple(info.value_range))
    if suffix == ".csv" and kind == "table":
        return read_row(path, flag, list(info.columns))
    if suffix in (".mid", ".midi") and kind == "sequence" and len(shape) == 1:
        return read_melody_window(path, flag, shape[0], tuple(info.pitch_range))
    allowed = {"image": "an image file (.png, .jpg, ...)", "table": "a one-row .csv",
               "sequence": "a .mid file (melody runs)"}.get(kind, "")
    raise ValueError(f"{flag} {path}: file type {suffix or '(none)'!r} is not allowed for {kind} "
                     f"data; give a row index, a .npy file or {allowed}")
