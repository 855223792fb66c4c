"""Pieces shared by the command modules: argument types and groups, loading a run and its data,
the GMM sampler of a run, and the limit and progress of large outputs. Command modules import this
(and :mod:`vaelab.cli.inputs`, :mod:`vaelab.cli.conditions`), never each other."""

from __future__ import annotations

import argparse
import math
import os
import re
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

import vaelab
from vaelab import export as outputs
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


SPLIT_DEFAULT = ("test for the run's own data (the rows it did not train on), all for other --data "
                 "(it trained on none of them)")


def split_arg(p: argparse.ArgumentParser, what: str = "which rows") -> None:
    """``--split``, whose default depends on the data: resolved by :func:`run_data`."""
    p.add_argument("--split", choices=("train", "test", "all"),
                   help=f"{what} (default: {SPLIT_DEFAULT}); 'all' keeps a file's row order")


def max_bytes_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--max-bytes", metavar="SIZE",
                   help="refuse, before any work, outputs estimated above this size, e.g. 500M or 4G "
                   f"(K, M, G, T = 1024-based) (default: ${outputs.MAX_BYTES_ENV}, else "
                   f"{outputs.format_size(outputs.MAX_OUTPUT_BYTES)})")


def output_limit(args: argparse.Namespace) -> int:
    """The size limit of outputs in bytes: ``--max-bytes``, else ``$VAELAB_MAX_OUTPUT_BYTES``, else
    :data:`vaelab.export.MAX_OUTPUT_BYTES`."""
    if args.max_bytes is not None:
        return outputs.parse_size(args.max_bytes)
    env = os.environ.get(outputs.MAX_BYTES_ENV)
    if env:
        return outputs.parse_size(env, f"${outputs.MAX_BYTES_ENV}=")
    return outputs.MAX_OUTPUT_BYTES


def progress(chunks: Iterable[np.ndarray], total: int, desc: str) -> Iterator[np.ndarray]:
    """``chunks`` (m, ...) passed through, with a progress bar of their rows on stderr when stderr is a
    terminal (a log file or a pipe gets none)."""
    from tqdm.auto import tqdm

    with tqdm(total=total, desc=desc, unit=" rows", file=sys.stderr, leave=False,
              disable=not sys.stderr.isatty()) as bar:
        for chunk in chunks:
            yield chunk
            bar.update(len(chunk))  # after the consumer wrote it


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


def check_shape(model: vaelab.Autoencoder, data: vaelab.Dataset, allowed: str = "") -> None:
    if tuple(data.info.shape) != tuple(model.config.input_shape):
        raise ValueError(f"--data {data.info.source}: rows have shape {tuple(data.info.shape)}, "
                         f"the model was trained on {tuple(model.config.input_shape)}{allowed}")


def model_rows(model: vaelab.Autoencoder, data: vaelab.Dataset) -> vaelab.Dataset:
    """``data`` with rows of the model's input shape: as they are, or flat rows of an image model's
    size (a .npy or CSV of (N, 64) for 8x8 images) read as its images; rows of another shape are a
    one-line error naming the shapes allowed."""
    shape = tuple(model.config.input_shape)
    if model.data_info.kind != "image" or tuple(data.info.shape) == shape:
        check_shape(model, data)
        return data
    flat = (math.prod(shape),)
    if data.info.kind == "table" and tuple(data.info.shape) == flat and not data.info.categories:
        return data.as_images(shape)
    c, h, w = shape
    layouts = f"({c}, {h}, {w})" + (f" or ({h}, {w})" if c == 1 else f" or ({h}, {w}, {c})")
    check_shape(model, data, f"; allowed: rows of {layouts} images, or flat rows of {c * h * w} values")
    return data


#: how far data may stray from the training range before a warning: by half its width past either
#: end (0..1000 given to a model of 0..16; noisy or outlying rows stay well inside that), or all of it
#: within the lowest quarter (data in 0..1 given to a model of 0..16 or 0..255)
RANGE_SLACK, RANGE_LOW = 0.5, 0.25


def warn_value_range(model: vaelab.Autoencoder, data: vaelab.Dataset) -> None:
    """One line on stderr when the values of images or a table differ clearly from the range of the
    model's training data, as when they are in other units: the model has never seen such values."""
    info = model.data_info
    lo, hi = info.value_range
    width = hi - lo
    if info.kind == "sequence" or width <= 0:  # tokens are checked against the vocabulary on loading
        return
    values = [x for x in (data.x_train, data.x_test) if not np.isnan(x).all()]  # NaN: missing cells
    if not values:
        return
    a, b = min(float(np.nanmin(x)) for x in values), max(float(np.nanmax(x)) for x in values)
    if a < lo - RANGE_SLACK * width or b > hi + RANGE_SLACK * width or b < lo + RANGE_LOW * width:
        print(f"warning: --data {data.info.source} holds values in {a:g}..{b:g}, the model's training data "
              f"({info.name}) {lo:g}..{hi:g}; if they are in other units, rescale them to {lo:g}..{hi:g}",
              file=sys.stderr)


def open_run(args: argparse.Namespace) -> tuple[vaelab.Autoencoder, vaelab.RunDir, torch.device]:
    """The model of ``args.run`` on ``args.device``, its run directory, and the device."""
    device = vaelab.resolve_device(args.device)
    return vaelab.load(args.run, device=device), vaelab.RunDir(args.run), device


def run_data(args: argparse.Namespace, model: vaelab.Autoencoder, run: vaelab.RunDir) -> vaelab.Dataset:
    """The data a command on a run works on: ``--data``, else the run's own; flat image rows read as
    images, other shapes refused (:func:`model_rows`), values far from the training range warned
    about. A table is read as the model saw its training table: its columns by name, with its
    categories. An unset ``--split`` (``args.split`` None) becomes ``test`` for the run's own data
    and ``all`` for any other: the model trained on none of their rows."""
    info = model.data_info
    schema = info if info.kind == "table" and info.columns else None
    stored = run.read_config().data
    cfg = data_config(args, stored)
    own = cfg == stored
    if getattr(args, "split", "") is None:
        args.split = "test" if own else "all"
    data = model_rows(model, load_data(cfg, schema=schema))
    if not own:
        warn_value_range(model, data)
    return data


def gmm_sampler(model: vaelab.Autoencoder, run: vaelab.RunDir, n_components: int | None,
                data: vaelab.Dataset | None = None, cache: bool = True) -> tuple[GMMSampler, str]:
    """The GMM sampler over a run's training codes (:func:`vaelab.latent.samplers.run_gmm`) and, for
    the user, where it came from. ``data`` defaults to the run's own training data, read only when
    a GMM has to be fitted."""
    gmm = cached_gmm(model, run, n_components)
    path = run.find(run.GMM, model.weights_id) if gmm is not None else run.derived_path(run.GMM)
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
    split_arg(p, split)
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
