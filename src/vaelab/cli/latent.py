"""Commands that explore a run's latent space: interpolate, attribute and traverse.

Outputs come back in the data's own units and format, chosen by the suffix of ``--out``: a PNG
picture (images), a CSV with the data's column names after a few leading columns that say which
step, strength or dimension a row belongs to (tables), or the raw array as .npy.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

import vaelab
from vaelab import export as outputs
from vaelab import latent, plots
from vaelab.cli.common import (
    add_output_command,
    class_id,
    ints,
    max_bytes_arg,
    open_run,
    output_limit,
    run_data,
)
from vaelab.cli.inputs import read_input

REFERENCE_ROWS = 1000  # rows of the split that pick the most used dimensions for `traverse`


def floats(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None
    if not values or not all(np.isfinite(values)):
        raise argparse.ArgumentTypeError(f"expected at least one finite number, got {text!r}")
    return values


# -- shared pieces -------------------------------------------------------------------------------


def _out(text: str, info: dict[str, Any]) -> Path:
    """``--out`` checked against the kind of data before any work: PNG for images (or piano rolls
    of music), CSV for tables, MIDI for music, .npy for all."""
    return outputs.check_output(text, str(info.kind))


def _check_index(i: int, n: int, flag: str, split: str) -> None:
    if not 0 <= i < n:
        raise ValueError(f"{flag} {i}: row index out of range; --split {split} has {n} rows "
                         f"(valid: 0..{n - 1})")


def _write(path: Path, x: np.ndarray, info: dict[str, Any], lead: dict[str, np.ndarray],
           figure: Any) -> None:
    """Write ``x`` (..., *shape) in data units: ``figure()`` for .png, the array for .npy, one
    CSV row per example with the ``lead`` columns (name -> one value per row) before the data's,
    or for music a MIDI file with the examples in turn and piano rolls captioned with ``lead``."""
    suffix = path.suffix.lower()
    if info.kind == "sequence" and suffix in (".mid", ".png"):
        flat = x.reshape(-1, *info.shape)
        titles = [", ".join(f"{name} {_fmt(v[i])}" for name, v in lead.items()) for i in range(len(flat))]
        outputs.write_data(path, flat, info, titles=titles)
    elif suffix == ".png":
        outputs.save_figure(figure(), path)
    elif suffix == ".npy":
        outputs.write_npy(path, x)
    else:
        width = int(np.prod(info.shape))
        columns = list(info.columns or [f"x{i}" for i in range(width)])
        flat = x.reshape(-1, width)  # (rows, D)
        cats = [*[()] * len(lead), *(info.categories or [()] * width)]
        outputs.write_csv(path, np.column_stack([*lead.values(), flat]), [*lead, *columns], categories=cats)


def _fmt(v: Any) -> str:
    return f"{v:g}" if isinstance(v, float | np.floating) else str(v)


# -- interpolate ---------------------------------------------------------------------------------


def cmd_interpolate(args: argparse.Namespace) -> int:
    limit = output_limit(args)
    model, run, _ = open_run(args)
    info = model.data_info
    path = _out(args.out, info)
    if args.steps < 2:
        raise ValueError(f"--steps {args.steps}: an interpolation needs at least 2 steps "
                         "(the endpoints are included)")
    outputs.check_output_size(path, args.steps, info, limit, flag="--steps", value=args.steps)
    ends = {"--from": args.start, "--to": args.end}
    is_row = {flag: text.strip().lstrip("+-").isdigit() for flag, text in ends.items()}
    x, y = run_data(args, model, run).split(args.split) if any(is_row.values()) else (None, None)
    given = None
    if model.conditional:  # the path is decoded with the --from row's label or conditions
        if not all(is_row.values()) or y is None:
            raise ValueError(f"{args.run} is conditional: give --from and --to as row indices of labeled "
                             "data, whose labels or conditions it needs")
        _check_index(int(args.start), len(x), "--from", args.split)
        given = y[int(args.start)][None]
    points = []
    for flag, text in ends.items():
        if is_row[flag]:
            _check_index(int(text), len(x), flag, args.split)
            points.append(x[int(text)][None])  # (1, *shape): never mistaken for a code
        else:
            points.append(read_input(text, flag, model)[None])
    frames = latent.interpolate(model, *points, steps=args.steps, method=args.method, y=given)
    frames = frames.decoded.cpu().numpy()  # (steps, *shape)
    start, end = (f"row {t}" if is_row[f] else Path(t).name for f, t in ends.items())
    title = f"{args.method} from {start} to {end}"
    _write(path, frames, info, {"step": np.arange(args.steps)},
           lambda: plots.interpolation_strip(frames, tuple(info.value_range), title=title))
    rows = f" of --split {args.split}" if any(is_row.values()) else ""
    print(f"wrote {args.steps} steps ({args.method}) from {start} to {end}{rows} to {path}")
    return 0


# -- attribute -----------------------------------------------------------------------------------


def _file_vector(args: argparse.Namespace, model: vaelab.Autoencoder) -> tuple[Any, str]:
    """The attribute vector from two lists of files (--with, --without), and its name."""
    if args.label is not None or args.vs is not None:
        raise ValueError("--with/--without replace --label/--vs; give one pair or the other")
    if not (args.with_files and args.without_files):
        raise ValueError("--with and --without go together: files that have the attribute and "
                         "files that do not")
    with_x = np.stack([read_input(f, "--with", model) for f in args.with_files])
    without_x = np.stack([read_input(f, "--without", model) for f in args.without_files])
    vector = latent.attribute_vector(model, with_x, without_x)
    return vector, f"{len(with_x)} files with - {len(without_x)} without"


def cmd_attribute(args: argparse.Namespace) -> int:
    model, run, _ = open_run(args)
    if model.conditional:
        raise ValueError(f"{args.run} is conditional: it takes the class as a condition rather than "
                         f"encoding it in z, so change the class with 'vaelab restyle {args.run}' or draw "
                         f"one with 'vaelab sample {args.run} --label K'")
    info = model.data_info
    path = _out(args.out, info)
    data = run_data(args, model, run)
    if args.feature is not None:
        return _feature_attribute(args, model, data, path)
    if args.with_files or args.without_files:
        vector, name = _file_vector(args, model)
        x, _ = data.split(args.split)
        for i in args.index or []:
            _check_index(i, len(x), "--index", args.split)
        index = np.asarray(args.index) if args.index else np.arange(min(4, len(x)))
        _write_attribute(args, model, path, x, index, vector, name)
        return 0
    if args.label is None:
        raise ValueError("give --label A (and optionally --vs B) for a vector between classes, "
                         "or --with FILE... --without FILE... for one between two lists of files")
    if data.y_train is None or not data.info.classes:
        hint = " (for a CSV, name its label column with --label-column)" if info.kind == "table" else ""
        raise ValueError(f"--label needs labelled data; {data.info.source} has no labels{hint}")
    classes = tuple(data.info.classes)
    label = class_id(args.label, classes, "--label")
    versus = None if args.vs is None else class_id(args.vs, classes, "--vs")
    if versus == label:
        raise ValueError(f"--vs {args.vs} is the same class as --label {args.label}; pick another "
                         "class, or leave out --vs to compare with all other classes")
    for flag, value in (("--label", label), ("--vs", versus)):
        if value is not None and not np.any(data.y_train == value):
            raise ValueError(f"{flag} {classes[value]}: no training rows have this class")
    x, y = data.split(args.split)
    if args.index:
        for i in args.index:
            _check_index(i, len(x), "--index", args.split)
        index = np.asarray(args.index)
    else:
        index = np.flatnonzero(y != label)[:4]  # rows that lack the attribute, to add it to
        index = index if len(index) else np.arange(min(4, len(x)))
    vector = latent.label_attribute(model, data.x_train, data.y_train, label, versus)  # (Z,)
    name = f"{classes[label]} - {'rest' if versus is None else classes[versus]}"
    _write_attribute(args, model, path, x, index, vector, name)
    return 0


def _feature_attribute(args: argparse.Namespace, model: vaelab.Autoencoder, data: vaelab.Dataset,
                       path: Path) -> int:
    """The vector from the training windows lowest in a musical feature to the highest (MusicVAE,
    Roberts et al. 2018, section 5.4: mean code of the top quartile minus that of the bottom)."""
    from vaelab.music import melody

    if args.label is not None or args.vs is not None or args.with_files or args.without_files:
        raise ValueError("--feature replaces --label/--vs and --with/--without; give one of them")
    if data.info.kind != "sequence":
        raise ValueError(f"--feature {args.feature} needs music; {data.info.source} holds {data.info.kind} "
                         "data (use --label or --with/--without)")
    pitch_range = tuple(data.info.pitch_range)
    top_voice = data.x_train if data.x_train.ndim == 2 else data.x_train[:, 0]  # the melody
    low, high = melody.split_by_feature(top_voice, args.feature, pitch_range)
    vector = latent.attribute_vector(model, data.x_train[high], data.x_train[low])
    x, _ = data.split(args.split)
    for i in args.index or []:
        _check_index(i, len(x), "--index", args.split)
    index = np.asarray(args.index) if args.index else np.arange(min(4, len(x)))
    shifted = _write_attribute(args, model, path, x, index, vector, f"{args.feature} high - low")
    # What the shift did to the feature: its mean over the shifted rows at each strength.
    voice = shifted if shifted.ndim == 3 else shifted[:, :, 0]  # (N, S, T)
    values = melody.feature(args.feature, voice.reshape(-1, voice.shape[-1]), pitch_range)
    per_strength = np.nanmean(values.reshape(len(index), -1), axis=0)
    print(f"{args.feature} by strength: " + ", ".join(
        f"{s:g}: {v:.3g}" for s, v in zip(args.strengths, per_strength, strict=True)))
    return 0


def _write_attribute(args: argparse.Namespace, model: vaelab.Autoencoder, path: Path, x: np.ndarray,
                     index: np.ndarray, vector: Any, name: str) -> np.ndarray:
    """Shift rows ``index`` of ``x`` along ``vector``; write the shifts and the vector; return the
    shifts (N, S, *shape)."""
    info = model.data_info
    shifted = latent.apply_vector(model, x[index], vector, args.strengths).cpu().numpy()  # (N, S, ...)
    s = np.asarray(args.strengths, dtype=np.float64)
    _write(path, shifted, info, {"index": np.repeat(index, len(s)), "strength": np.tile(s, len(index))},
           lambda: plots.attribute_strip(shifted, tuple(info.value_range), args.strengths,
                                         title=f"attribute vector {name}, rows {index.tolist()}"))
    vector_path = outputs.write_npy(path.with_name(path.stem + ".vector.npy"), vector.cpu().numpy())
    print(f"wrote rows {index.tolist()} of --split {args.split} shifted along {name} "
          f"(strengths {', '.join(f'{v:g}' for v in s)}) to {path}; the vector to {vector_path}")
    return shifted


# -- traverse ------------------------------------------------------------------------------------


def cmd_traverse(args: argparse.Namespace) -> int:
    limit = output_limit(args)
    model, run, _ = open_run(args)
    info, z_dim = model.data_info, model.config.latent_dim
    path = _out(args.out, info)
    if args.dims is not None:
        bad = [d for d in args.dims if not 0 <= d < z_dim]
        if bad:
            raise ValueError(f"--dims {','.join(map(str, bad))}: out of range; the model's latent "
                             f"dimensions are 0..{z_dim - 1}")
    elif args.n_dims < 1:
        raise ValueError(f"--n-dims {args.n_dims}: traverse at least 1 dimension")
    n_dims = len(args.dims) if args.dims is not None else min(args.n_dims, z_dim)
    if args.values is not None:
        if args.range is not None or args.steps is not None:
            raise ValueError("--values lists the values itself; leave out --range and --steps")
        outputs.check_output_size(path, n_dims * len(args.values), info, limit, flag="--values",
                                  value=f"({len(args.values)} values)")
        values = np.asarray(args.values, dtype=np.float32)
    else:
        span = 3.0 if args.range is None else args.range
        steps = 7 if args.steps is None else args.steps
        if span <= 0 or steps < 2:
            raise ValueError(f"--range {span:g} --steps {steps}: need a range > 0 and at least "
                             "2 steps")
        outputs.check_output_size(path, n_dims * steps, info, limit, flag="--steps", value=steps)
        values = np.linspace(-span, span, steps, dtype=np.float32)
    x, y = run_data(args, model, run).split(args.split)
    _check_index(args.index, len(x), "--index", args.split)
    if model.conditional and y is None:
        raise ValueError(f"{args.run} is conditional: its data need labels or condition columns")
    y = y if model.conditional else None
    reference = reference_y = None
    if args.dims is None:  # the most used dimensions on (a seeded sample of) the split
        pick = np.sort(np.random.default_rng(0).permutation(len(x))[:REFERENCE_ROWS])
        reference, reference_y = x[pick], None if y is None else y[pick]
    t = latent.traverse(model, x[args.index], dims=args.dims, values=values, n_dims=args.n_dims,
                        reference=reference, y=None if y is None else y[args.index][None],
                        reference_y=reference_y)
    images = t.images.cpu().numpy()  # (D, V, *shape)
    d, v = len(t.dims), len(values)
    _write(path, images, info, {"dim": np.repeat(t.dims, v), "value": np.tile(values, d)},
           lambda: plots.traversal_grid(images, tuple(info.value_range), t.dims, values.tolist(),
                                        title=f"row {args.index} of --split {args.split}"))
    print(f"wrote traversals of dims {','.join(map(str, t.dims))} over {v} values for row "
          f"{args.index} to {path}")
    return 0


# -- parsers -------------------------------------------------------------------------------------


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """Register interpolate, attribute and traverse."""

    def run_cmd(name: str, help: str, func: Any, out: str,
                split: str = "the rows that indices refer to") -> argparse.ArgumentParser:
        return add_output_command(sub, common, name, help, func, out, split)

    out = "FILE.png (images; piano rolls for music), .csv (tables: the data's columns), .mid (music) or .npy"
    p = run_cmd("interpolate", "decode a path in latent space between two inputs",
                cmd_interpolate, out + " (.npy: (steps, *shape); .csv: a step column first)")
    p.add_argument("--from", dest="start", required=True, metavar="I|FILE",
                   help="start: a row index of --split, or a file holding one input (.npy; "
                   "images: also .png/.jpg; tables: also a one-row .csv; melodies: also a .mid, "
                   "its first window, transposed into the model's range if needed)")
    p.add_argument("--to", dest="end", required=True, metavar="J|FILE", help="end: as --from")
    p.add_argument("--steps", type=int, default=8, metavar="N",
                   help="points, endpoints included (default: 8)")
    p.add_argument("--method", default="slerp", choices=("slerp", "lerp"),
                   help="slerp (spherical) or lerp (straight line) (default: slerp)")
    max_bytes_arg(p)

    p = run_cmd("attribute", "shift inputs along a latent attribute vector (between classes, two lists "
                "of files, or a musical feature)", cmd_attribute,
                out + " (.npy: (N, S, *shape); .csv: index and strength columns "
                "first); the vector also goes to OUT-STEM.vector.npy")
    p.add_argument("--label", metavar="A",
                   help="class (name or id) whose mean code, over the training rows, the vector "
                   "points to")
    p.add_argument("--vs", metavar="B", help="class the vector points from (default: all others)")
    p.add_argument("--with", dest="with_files", nargs="+", metavar="FILE",
                   help="instead of --label: inputs that have the attribute (.npy, images, or "
                   "one-row CSVs); the vector is their mean code minus that of --without")
    p.add_argument("--without", dest="without_files", nargs="+", metavar="FILE",
                   help="inputs that lack the attribute (with --with)")
    p.add_argument("--index", type=int, nargs="+", metavar="I",
                   help="rows of --split to shift (default: the first 4 not of class A, or the "
                   "first 4 if all are)")
    p.add_argument("--feature", metavar="NAME",
                   help="music, instead of --label: the vector from the training windows lowest in "
                   "this feature (quartile) to the highest; density, interval, height or rests")
    p.add_argument("--strengths", type=floats, default=(-2.0, -1.0, 0.0, 1.0, 2.0),
                   metavar="S[,S...]", help="multiples of the vector to add (default: -2,-1,0,1,2)")

    p = run_cmd("traverse", "vary one latent dimension at a time of one input's code",
                cmd_traverse, out + " (.npy: (dims, values, *shape); .csv: dim and value "
                "columns first)")
    p.add_argument("--index", type=int, required=True, metavar="I", help="row of --split")
    p.add_argument("--dims", type=ints, metavar="D[,D...]",
                   help="latent dimensions to vary (default: the --n-dims most used on up to "
                   f"{REFERENCE_ROWS} rows of --split: highest KL for a VAE, variance for an AE)")
    p.add_argument("--n-dims", type=int, default=5, metavar="N",
                   help="how many dimensions when --dims is not given (default: 5)")
    p.add_argument("--values", type=floats, metavar="V[,V...]",
                   help="values to set the dimension to, in prior units (default: --range 3 "
                   "--steps 7, i.e. -3,-2,-1,0,1,2,3)")
    p.add_argument("--range", type=float, metavar="R", help="values from -R to R (default: 3)")
    p.add_argument("--steps", type=int, metavar="K", help="how many values in --range (default: 7)")
    max_bytes_arg(p)
