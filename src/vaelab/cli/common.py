"""Pieces shared by the command modules: argument types and groups, loading a run and its data,
and the GMM sampler of a run. Command modules import this, never each other."""

from __future__ import annotations

import argparse
import csv
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

import vaelab
from vaelab.config import DataConfig, ModelConfig, TrainConfig, field_help
from vaelab.latent.samplers import GMMSampler, cached_gmm, run_gmm

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
DATA_FLAGS = ("data", "data_dir", "label_column", "condition_columns", "categorical", "image_size", "window",
              "stride", "transpose", "voices", "data_limit")


def flag_name(dest: str) -> str:
    """``label_column`` -> ``--label-column``."""
    return "--limit" if dest == "data_limit" else "--" + dest.replace("_", "-")


#: config fields that have a command-line flag, and the flag where it is not the name with dashes
FIELD_FLAGS = {"spec": "--data", "limit": "--limit", "categorical_columns": "--categorical",
               "device": "--device",
               **{name: flag_name(name) for name in ("data_dir", "label_column", "condition_columns",
                                                     "image_size", "window", "stride", "transpose",
                                                     "voices")},
               **{name: flag_name(name) for cls in (ModelConfig, TrainConfig)
                  for name, (_, is_flag) in field_help(cls).items() if is_flag}}


def flagged(make: Any, *args: Any, **kwargs: Any) -> Any:
    """Build a config or model; an error about a field (``epochs=0 is not allowed; ...``) names the
    command-line flag instead (``--epochs 0 is not allowed; ...``)."""
    try:
        return make(*args, **kwargs)
    except ValueError as err:
        message = str(err)
        field, sep, rest = message.partition("=")
        if sep and field in FIELD_FLAGS:
            message = f"{FIELD_FLAGS[field]} {rest}"
        raise ValueError(message) from None


def ints(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values:
        raise argparse.ArgumentTypeError("expected at least one integer")
    return values


def names(text: str) -> tuple[str, ...]:
    values = tuple(v.strip() for v in text.split(",") if v.strip())
    if not values:
        raise argparse.ArgumentTypeError("expected comma-separated column names")
    return values


def opt(group: Any, flag: str, default: Any, help: str, **kwargs: Any) -> None:
    """An option whose parsed value is None unless given, with the real default in its help."""
    group.add_argument(flag, default=None, help=f"{help} (default: {default})", **kwargs)


def add_data_args(p: argparse.ArgumentParser, default: str, train: bool = False) -> None:
    g = p.add_argument_group("data")
    g.add_argument("--data", metavar="SPEC",
                   help="built-in name (digits, mnist, fashion-mnist; chorales, folk with the music "
                   "extra) or a path: .npy, .npz, .csv, IDX file, MNIST-style IDX folder, a folder of "
                   f"images, a .mid file or a folder of MIDI files (default: {default})")
    g.add_argument("--data-dir", metavar="DIR",
                   help="folder with the MNIST/Fashion-MNIST IDX files (else $VAELAB_DATA)")
    g.add_argument("--label-column", metavar="NAME", help="CSV column holding class labels")
    g.add_argument("--condition-columns", type=names, metavar="A[,B...]",
                   help="CSV columns to condition a cvae on (attributes), taken out of the features")
    g.add_argument("--categorical", type=names, metavar="A[,B...]",
                   help="CSV columns to read as categories although they hold numbers (codes, grades); "
                   "columns with text are categorical anyway")
    g.add_argument("--image-size", type=ints, metavar="H[,W]",
                   help="resize a folder of images to this size")
    if train:
        g.add_argument("--limit", dest="data_limit", type=int, metavar="N",
                       help="train on the first N rows (windows, for music) only: a quick try")
    g = p.add_argument_group("music data (chorales, folk, MIDI)")
    g.add_argument("--window", type=int, metavar="STEPS",
                   help="sixteenth-note steps per example (default: 32, two bars of 4/4)")
    g.add_argument("--stride", type=int, metavar="STEPS",
                   help="steps between the starts of consecutive windows (default: 16, one bar)")
    g.add_argument("--transpose", metavar="HOW",
                   help="none, common (every piece to C major / A minor) or augment:N (N random "
                   "transpositions of every training window) (default: none)")
    g.add_argument("--voices", choices=("melody", "satb"),
                   help="one melody line, or soprano, alto, tenor and bass (default: satb for "
                   "chorales, melody otherwise)")


def device_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"),
                   help="where to run (default: auto = cuda, then mps, then cpu)")


def data_config(args: argparse.Namespace, stored: DataConfig | None) -> DataConfig:
    """The data to load: the flags, or the run's stored data when --data is not given."""
    if args.data is None:
        given = [flag_name(k) for k in DATA_FLAGS[1:] if getattr(args, k, None) is not None]
        if given:
            raise ValueError(f"{', '.join(given)} {'needs' if len(given) == 1 else 'need'} --data SPEC")
        if stored is None:
            raise ValueError("this run does not record its data; pass --data SPEC")
        return stored
    size = args.image_size
    if size is not None and len(size) == 1:
        size = (size[0], size[0])
    return flagged(DataConfig, spec=args.data, data_dir=args.data_dir, label_column=args.label_column,
                   condition_columns=args.condition_columns,
                   categorical_columns=getattr(args, "categorical", None), image_size=size,
                   window=args.window, stride=args.stride, transpose=args.transpose, voices=args.voices,
                   limit=getattr(args, "data_limit", None))


def load_data(cfg: DataConfig, schema: vaelab.DataInfo | None = None) -> vaelab.Dataset:
    from vaelab.data.music import MUSIC_BUILTINS

    if cfg.spec in MUSIC_BUILTINS:  # the first load parses the corpus with music21: say why it waits
        from vaelab.data.corpora import corpus_cache_path

        if not corpus_cache_path(cfg.spec).exists():
            print(f"parsing the {cfg.spec} corpus of music21 once (up to a minute or two); later loads read "
                  f"the cache {corpus_cache_path(cfg.spec).parent}", file=sys.stderr)
    if schema is not None and Path(cfg.spec).suffix.lower() == ".csv":
        return vaelab.load_dataset(cfg.spec, **cfg.load_kwargs(), schema=schema)
    return vaelab.load_dataset(cfg.spec, **cfg.load_kwargs())


def class_id(text: str, classes: tuple[str, ...] | list[str], flag: str) -> int:
    """A class given by name, or by integer id unless the names are numbers themselves -> its id."""
    text = text.strip()
    if text in classes:
        return list(classes).index(text)
    by_id = not any(c.strip().lstrip("+-").isdigit() for c in classes)
    if by_id and text.isdigit() and int(text) < len(classes):
        return int(text)
    ids = f" (or their ids 0..{len(classes) - 1})" if by_id else ""
    raise ValueError(f"{flag} {text}: unknown class; known classes: {', '.join(classes)}{ids}")


def check_shape(model: vaelab.Autoencoder, data: vaelab.Dataset) -> None:
    if tuple(data.info.shape) != tuple(model.config.input_shape):
        raise ValueError(f"--data {data.info.source}: rows have shape {tuple(data.info.shape)}, "
                         f"the model was trained on {tuple(model.config.input_shape)}")


def open_run(args: argparse.Namespace) -> tuple[vaelab.Autoencoder, vaelab.RunDir, torch.device]:
    """The model of ``args.run`` on ``args.device``, its run directory, and the device."""
    device = vaelab.resolve_device(args.device)
    return vaelab.load(args.run, device=device), vaelab.RunDir(args.run), device


def run_data(args: argparse.Namespace, model: vaelab.Autoencoder, run: vaelab.RunDir) -> vaelab.Dataset:
    """The data a command on a run works on: ``--data``, else the run's own; shape-checked. A table
    is read as the model saw its training table: its columns by name, with its categories."""
    info = model.data_info
    schema = info if info.kind == "table" and info.columns else None
    data = load_data(data_config(args, run.read_config().data), schema=schema)
    check_shape(model, data)
    return data


def gmm_sampler(model: vaelab.Autoencoder, run: vaelab.RunDir, n_components: int | None,
                data: vaelab.Dataset | None = None, cache: bool = True) -> tuple[GMMSampler, str]:
    """The GMM sampler over a run's training codes (:func:`vaelab.latent.samplers.run_gmm`) and, for
    the user, where it came from. ``data`` defaults to the run's own training data, read only when
    a GMM has to be fitted."""
    path = run.derived_path(run.GMM)  # RUN/gmm.safetensors, or its copy in the cache for a read-only run
    gmm = cached_gmm(model, run, n_components)
    if gmm is not None:
        return gmm, f"the {len(gmm.weights)}-component GMM in {path}"
    if data is None:
        stored = run.read_config().data
        if stored is None:
            raise ValueError(f"{run} does not record its training data, so there is nothing to fit "
                             "the GMM sampler to")
        data = load_data(stored)
        check_shape(model, data)
    if n_components is not None and n_components > len(data.x_train):
        raise ValueError(f"--components {n_components}: at most {len(data.x_train)}, the number of "
                         "training rows")
    gmm, _ = run_gmm(model, run, data.x_train, data.y_train if model.conditional else None, n_components,
                     cache=cache)
    k = len(gmm.weights)
    if cache:
        return gmm, f"a {k}-component GMM fitted to the training codes, cached in {path}"
    return gmm, f"a {k}-component GMM fitted to the training codes of {data.info.name}"


def add_output_command(sub: Any, common: argparse.ArgumentParser, name: str, help: str, func: Any,
                       out: str, split: str = "the rows that indices refer to") -> argparse.ArgumentParser:
    """A subcommand on a run that writes ``--out`` and reads rows of ``--split`` of its data."""
    p = add_run_command(sub, common, name, help, func)
    # Read "--strengths -2,-1,0" as a value, not an option: newer CPython argparse uses
    # this matcher; older ones see a negative number only in "-2" or "-.5".
    p._negative_number_matcher = re.compile(r"-\.?\d")
    p.add_argument("--out", required=True, metavar="FILE", help=out)
    p.add_argument("--split", default="test", choices=("train", "test", "all"),
                   help=f"{split} (default: test)")
    add_data_args(p, default="the run's training data")
    device_arg(p)
    return p


def add_run_command(sub: Any, common: argparse.ArgumentParser, name: str, help: str,
                    func: Any) -> argparse.ArgumentParser:
    """A subcommand whose first argument is a run directory."""
    p = sub.add_parser(name, parents=[common], help=help, description=help)
    p.add_argument("run", metavar="RUN", help="run directory written by 'vaelab train'")
    p.set_defaults(func=func)
    return p


# -- one input given as a file (interpolate endpoints, attribute examples) ----------------------

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
        if x.shape not in (shape, (1, *shape)) or not np.issubdtype(x.dtype, np.number):
            raise ValueError(f"{flag} {path} holds an array of shape {x.shape}; the model needs "
                             f"one input of shape {shape}")
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
