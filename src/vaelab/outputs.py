"""Writing model outputs in the data's own format, chosen by the file suffix the user asked for:
``.png`` (a grid of images, or piano rolls of music), ``.mid`` (music: the examples one after
another, a bar of rest between them), ``.npy`` (the array as it is) or ``.csv`` (tables, with the
original column names; codes, with columns z0, z1, ...). Used by the CLI, which picks the paths.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vaelab import latent, plots, plots_music
from vaelab.checkpoint import atomic_path, read_metrics
from vaelab.data import Dataset
from vaelab.data.columns import decode_cell
from vaelab.data.tokens import REST
from vaelab.losses import kl_collapse
from vaelab.models import Autoencoder
from vaelab.noise import psnr

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


def write_data(path: str | os.PathLike[str], x: np.ndarray, info: dict[str, Any],
               title: str | None = None, titles: Sequence[str] | None = None,
               ncols: int | None = None) -> Path:
    """Write examples ``x`` (N, *shape) in data units as a PNG grid, .npy, CSV or MIDI.

    PNG needs images (a grid) or music (piano rolls, captioned with ``titles``); CSV needs tables
    (its header is the data's column names); MIDI needs music (the examples in turn). ``ncols``
    sets the piano rolls per row (2 shows pairs side by side).
    """
    path = check_output(path, str(info.get("kind")))
    suffix, kind = path.suffix.lower(), info.get("kind")
    if suffix == ".npy":
        return write_npy(path, x)
    if suffix == ".png" and kind == "image":
        return save_figure(plots.image_grid(x, tuple(info["value_range"]), title=title), path)
    if suffix == ".png":
        fig = plots_music.piano_rolls(x, tuple(info["pitch_range"]), titles=titles, voices=info["voices"],
                                      steps_per_bar=4 * int(info["steps_per_quarter"]), ncols=ncols,
                                      title=title)
        return save_figure(fig, path)
    if suffix == ".mid":
        return write_music(path, x, info)
    columns = info.get("columns") or [f"x{i}" for i in range(int(np.prod(x.shape[1:])))]
    return write_csv(path, x, columns, categories=info.get("categories"))


def in_turn(tokens: np.ndarray, gap: int) -> np.ndarray:
    """Examples (N, T) or (N, V, T) one after another with ``gap`` rest steps between them:
    (V, N*T + (N-1)*gap), voices kept apart."""
    x = np.asarray(tokens)
    x = x[:, None] if x.ndim == 2 else x
    n, v, _ = x.shape
    rest = np.full((v, gap), REST, dtype=x.dtype)
    parts = [p for i in range(n) for p in ((x[i],) if i == 0 else (rest, x[i]))]
    return np.concatenate(parts, axis=1)


def write_music(path: str | os.PathLike[str], x: np.ndarray, info: dict[str, Any]) -> Path:
    """Token examples (N, T) or (N, V, T) as one MIDI file, one track per voice, the examples in
    turn with a bar of rest between them."""
    from vaelab.data.midi import write_midi  # mido: the music extra

    steps_per_bar = 4 * int(info["steps_per_quarter"])
    joined = in_turn(np.rint(x).astype(np.int64), steps_per_bar)
    voices = list(info["voices"])
    return write_midi(Path(path), joined if len(voices) > 1 else joined[0], tuple(info["pitch_range"]),
                      steps_per_quarter=int(info["steps_per_quarter"]), names=voices)


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


@torch.no_grad()
def write_run_figures(model: Autoencoder, data: Dataset, out: Path) -> list[Path]:
    """The standard pictures of a run: training curves (marking a KL collapse); for images, test
    reconstructions, samples from the prior (one row per class for a cvae) and, for a model trained
    with noise, a denoising example (figures/*.png); for tables, samples in RUN/samples.csv; for
    music, piano rolls and MIDI files of reconstructions and samples, or of harmonizations."""
    info = model.data_info
    figs = out / "figures"
    history = read_metrics(out)
    collapsed = kl_collapse(history) if model.variational else None
    curves = plots.training_curves(history, title=str(out), collapse_epoch=collapsed)
    written = [save_figure(curves, figs / "curves.png")]
    gen = torch.Generator(device=model.device).manual_seed(0)
    y_test = None
    if model.conditional and data.y_test is not None:
        y_test = torch.as_tensor(data.y_test, device=model.device)
    if info.get("kind") == "sequence":
        written += _music_figures(model, data, figs, gen)
    elif info.get("kind") == "image":
        x = data.x_test[:30]
        xt = torch.from_numpy(x).to(model.device)
        yt = None if y_test is None else y_test[:30]
        recon = model.reconstruct(xt, yt).cpu().numpy()
        grid = plots.reconstruction_grid(x, recon, tuple(info["value_range"]))
        written.append(save_figure(grid, figs / "reconstructions.png"))
        if model.noise != "none":
            noisy = model.corrupt(xt[:16], torch.Generator(device=model.device).manual_seed(0))
            denoised = model.reconstruct(noisy, None if yt is None else yt[:16]).cpu().numpy()
            vr = tuple(info["value_range"])
            gain = psnr(x[:16], denoised, vr) - psnr(x[:16], noisy.cpu().numpy(), vr)
            fig = plots.denoising_grid(x[:16], noisy.cpu().numpy(), denoised, vr,
                                       title=f"{model.noise}: PSNR gain {gain:+.2f} dB on these test images")
            written.append(save_figure(fig, figs / "denoising.png"))
        if model.generative and model.conditional and model.config.condition == "label":
            classes = info.get("classes") or [str(k) for k in range(model.config.n_conditions)]
            per = 10
            labels = torch.arange(len(classes), device=model.device).repeat_interleave(per)
            samples = model.sample(len(labels), labels, generator=gen).cpu().numpy()
            fig = plots.labelled_rows(samples.reshape(len(classes), per, *samples.shape[1:]),
                                      tuple(info["value_range"]), list(classes),
                                      title="samples from the prior, one row per label")
            written.append(save_figure(fig, figs / "samples.png"))
        elif model.generative and not model.conditional:
            samples = model.sample(64, generator=gen).cpu().numpy()
            written.append(write_data(figs / "samples.png", samples, info,
                                      title="samples from the prior"))
    elif model.generative:
        if model.conditional and y_test is not None:
            y = y_test[torch.arange(100, device=model.device) % len(y_test)]
            samples = model.sample(100, y, generator=gen).cpu().numpy()
            given = y.cpu().numpy()
            if model.config.condition == "label":  # the label column, by class name
                classes = info.get("classes") or [str(k) for k in range(model.config.n_conditions)]
                written.append(write_csv(out / "samples.csv", samples, info["columns"],
                                         labels=np.array([classes[k] for k in given]),
                                         label_name=info.get("label_column") or "label",
                                         categories=info.get("categories")))
            else:  # the condition columns first, then the features
                names = [*info["condition_columns"], *info["columns"]]
                cats = [*[()] * len(info["condition_columns"]), *(info.get("categories") or [()] * len(
                    info["columns"]))]
                written.append(write_csv(out / "samples.csv", np.concatenate([given, samples], axis=1),
                                         names, categories=cats))
        elif not model.conditional:
            samples = model.sample(100, generator=gen).cpu().numpy()
            written.append(write_data(out / "samples.csv", samples, info))
    return written


@dataclass(frozen=True)
class MusicPairs:
    """Test windows next to a music model's version of them, ready for :func:`write_data` with
    ``ncols=2``: ``tokens`` (2N, *shape) original then model, one caption per window, a title, and
    the file stem (``harmonizations`` or ``reconstructions``)."""

    tokens: np.ndarray
    titles: list[str]
    title: str
    name: str


def interleave(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Examples a0, b0, a1, b1, ...: (2N, *shape) from two arrays (N, *shape)."""
    return np.stack([a, b], axis=1).reshape(-1, *a.shape[1:])


@torch.no_grad()
def music_pairs(model: Autoencoder, x: np.ndarray, generator: torch.Generator) -> MusicPairs:
    """A harmonizer's voices under the sopranos of token windows ``x`` (N, 4, T), drawn at
    temperature 0.5; for other music models, greedy reconstructions of ``x``."""
    xt = torch.from_numpy(x).to(model.device)
    if hasattr(model, "harmonize"):
        made = model.harmonize(xt[:, 0], n_variations=1, temperature=0.5, generator=generator)[:, 0]
        titles = [f"{who}, test window {i}" for i in range(len(x)) for who in ("original", "harmonizer")]
        return MusicPairs(interleave(x, made.cpu().numpy()), titles, "test windows, then the harmonizer's "
                          "voices under the same soprano (temperature 0.5)", "harmonizations")
    return MusicPairs(interleave(x, model.reconstruct(xt).cpu().numpy()),
                      [f"{who} {i}" for i in range(len(x)) for who in ("test window", "reconstruction")],
                      "test windows and their reconstructions (greedy decoding)", "reconstructions")


def _music_figures(model: Autoencoder, data: Dataset, figs: Path, gen: torch.Generator) -> list[Path]:
    """Piano rolls (.png) and MIDI files (.mid) of a music run: :func:`music_pairs` of three test
    windows, and for a generative model samples from the prior."""
    info, written = model.data_info, []
    shown = music_pairs(model, data.x_test[:3], gen)
    for suffix in (".png", ".mid"):
        written.append(write_data(figs / f"{shown.name}{suffix}", shown.tokens, info, titles=shown.titles,
                                  ncols=2, title=shown.title))
    if model.generative and not model.conditional and not hasattr(model, "harmonize"):
        samples = latent.sample(model, 8, generator=gen, token_temperature=0.5).cpu().numpy()
        titles = [f"sample {i}" for i in range(len(samples))]
        for suffix in (".png", ".mid"):
            written.append(write_data(figs / f"samples{suffix}", samples, info, titles=titles,
                                      title="samples from the prior (tokens drawn at temperature 0.5)"))
    return written
