"""Writing model outputs in the data's own format, chosen by the file suffix the user asked for:
``.png`` (a grid, images only), ``.npy`` (the array as it is) or ``.csv`` (tables, with the
original column names; codes, with columns z0, z1, ...). Used by the CLI, which picks the paths.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vaelab import plots
from vaelab.checkpoint import atomic_path, read_metrics
from vaelab.data import Dataset
from vaelab.losses import kl_collapse
from vaelab.models import Autoencoder
from vaelab.noise import psnr

SUFFIXES = (".png", ".npy", ".csv")


def check_suffix(path: str | os.PathLike[str], allowed: Sequence[str] = SUFFIXES) -> Path:
    """Return ``path`` as a Path if its suffix is allowed, else a one-line ``ValueError``."""
    path = Path(path)
    if path.suffix.lower() not in allowed:
        raise ValueError(f"--out {path}: unknown file type {path.suffix or '(none)'!r}; "
                         f"allowed: {', '.join(allowed)}")
    return path


def save_figure(fig: Any, path: str | os.PathLike[str], dpi: int = 100) -> Path:
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format=path.suffix.lstrip(".") or "png")
    return path


def write_csv(path: str | os.PathLike[str], rows: np.ndarray, columns: Sequence[str],
              labels: np.ndarray | None = None, label_name: str = "label") -> Path:
    """Rows (N, D) under a header of ``columns`` (plus a label column when ``labels`` is given)."""
    rows = np.asarray(rows).reshape(len(rows), -1)
    if rows.shape[1] != len(columns):
        raise ValueError(f"{rows.shape[1]} values per row but {len(columns)} column names")
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow([*columns, *([label_name] if labels is not None else [])])
        for i, row in enumerate(rows):
            cells = [f"{v:.6g}" for v in row]
            writer.writerow(cells if labels is None else [*cells, labels[i]])
    return path


def write_npy(path: str | os.PathLike[str], array: np.ndarray) -> Path:
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.save(f, array)
    return path


def write_data(path: str | os.PathLike[str], x: np.ndarray, info: dict[str, Any],
               title: str | None = None) -> Path:
    """Write examples ``x`` (N, *shape) in data units as a PNG grid, .npy, or CSV.

    PNG needs images; CSV needs tables (its header is the data's column names).
    """
    path = check_suffix(path)
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return write_npy(path, x)
    if suffix == ".png":
        if info.get("kind") != "image":
            raise ValueError(f"--out {path}: PNG output needs image data; these are tables, "
                             "use .csv or .npy")
        return save_figure(plots.image_grid(x, tuple(info["value_range"]), title=title), path)
    if info.get("kind") != "table":
        raise ValueError(f"--out {path}: CSV output needs table data; these are images, "
                         "use .png or .npy")
    columns = info.get("columns") or [f"x{i}" for i in range(int(np.prod(x.shape[1:])))]
    return write_csv(path, x, columns)


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
    with noise, a denoising example (figures/*.png); for tables, samples in RUN/samples.csv."""
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
    if info.get("kind") == "image":
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
                                         label_name=info.get("label_column") or "label"))
            else:  # the condition columns first, then the features
                names = [*info["condition_columns"], *info["columns"]]
                written.append(write_csv(out / "samples.csv", np.concatenate([given, samples], axis=1),
                                         names))
        elif not model.conditional:
            samples = model.sample(100, generator=gen).cpu().numpy()
            written.append(write_data(out / "samples.csv", samples, info))
    return written
