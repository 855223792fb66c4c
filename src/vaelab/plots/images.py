"""Pictures of a model's images and its training. Every function returns a matplotlib Figure;
none saves or shows one (the CLI decides where pictures go). Figures are built with
``matplotlib.figure.Figure`` directly, so no global pyplot state or GUI backend is involved.

Inputs are plain arrays (numpy arrays or CPU tensors, read with ``np.asarray``) in the data's own
units, never models: the caller encodes, decodes and interpolates (see ``vaelab.latent``), this
module only draws. Images are (N, C, H, W) with a ``value_range=(lo, hi)``. Scatter plots of
latent codes (N, Z) are in :mod:`vaelab.plots_latent`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import NormalDist
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from vaelab._checks import check, check_int, check_number, shape_error

HIGHLIGHT = "tab:orange"  # frames around the endpoints of a strip and the unchanged column


def tile(images: np.ndarray, value_range: tuple[float, float], ncols: int | None = None,
         pad: int = 1) -> np.ndarray:
    """Arrange images (N, C, H, W) in data units into one array (rows*H, cols*W[, C]) in [0, 1].

    One or two channels are shown as grey (the first channel), three or more as RGB (the first
    three). Cells of the last row without an image stay blank (white).
    """
    lo, hi = value_range
    x = np.clip((np.asarray(images, dtype=np.float32) - lo) / (hi - lo), 0.0, 1.0)
    n, c, h, w = x.shape
    ncols = ncols or math.ceil(math.sqrt(n))
    nrows = math.ceil(n / ncols)
    channels = 3 if c >= 3 else 1
    grid = np.ones((nrows * (h + pad) + pad, ncols * (w + pad) + pad, channels), dtype=np.float32)
    for i in range(n):
        r, col = divmod(i, ncols)
        top, left = pad + r * (h + pad), pad + col * (w + pad)
        grid[top:top + h, left:left + w] = x[i, :channels].transpose(1, 2, 0)
    return grid[..., 0] if channels == 1 else grid


def image_grid(images: np.ndarray, value_range: tuple[float, float], title: str | None = None,
               ncols: int | None = None) -> Figure:
    """A grid of images (N, C, H, W) in data units."""
    grid = tile(images, value_range, ncols)
    height = 6.0 * grid.shape[0] / grid.shape[1]
    fig = Figure(figsize=(6.0, max(height, 1.0) + (0.4 if title else 0.0)), layout="constrained")
    ax = fig.add_subplot()
    ax.imshow(grid, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return fig


def reconstruction_grid(originals: np.ndarray, reconstructions: np.ndarray,
                        value_range: tuple[float, float], title: str | None = None) -> Figure:
    """Originals (top row of each pair) above their reconstructions; both (N, C, H, W)."""
    n = len(originals)
    ncols = min(n, 10)
    rows = []
    for start in range(0, n, ncols):
        block_o, block_r = originals[start:start + ncols], reconstructions[start:start + ncols]
        if len(block_o) < ncols:  # pad the last pair of rows with blank cells
            blank = np.full((ncols - len(block_o), *originals.shape[1:]), value_range[1])
            block_o, block_r = np.concatenate([block_o, blank]), np.concatenate([block_r, blank])
        rows += [block_o, block_r]
    fig = image_grid(np.concatenate(rows), value_range, ncols=ncols,
                     title=title or "originals (odd rows) and reconstructions (even rows)")
    return fig


def _images(images: Any, shape: str) -> np.ndarray:
    """``images`` as float32, checked to have as many axes as ``shape`` names, e.g. "(N, C, H, W)"."""
    x = np.asarray(images, dtype=np.float32)
    if x.ndim != shape.count(",") + 1:
        raise shape_error("images", x.shape, shape)
    return x


def _labelled_tiles(images: np.ndarray, value_range: tuple[float, float], ncols: int,
                    title: str | None, pad: int = 1) -> tuple[Figure, Axes, np.ndarray, np.ndarray]:
    """A figure showing images (N, C, H, W) tiled ``ncols`` wide, about 0.6 in per cell, with
    ticks free for labels; returns (fig, ax, xs, ys), the cell centres in pixel coordinates."""
    n, _, h, w = images.shape
    nrows = math.ceil(n / ncols)
    scale = min(0.6, 13.0 / ncols) / w  # inches per pixel; wide strips shrink to fit 13 in
    fig = Figure(figsize=(ncols * w * scale + 1.2, nrows * h * scale + (1.3 if title else 1.0)),
                 layout="constrained")
    ax = fig.add_subplot()
    ax.imshow(tile(images, value_range, ncols, pad), cmap="gray", vmin=0.0, vmax=1.0,
              interpolation="nearest")
    ax.tick_params(length=0)
    ax.spines[:].set_visible(False)
    ax.set_yticks([])
    if title:
        ax.set_title(title)
    xs = pad + np.arange(ncols) * (w + pad) + (w - 1) / 2
    ys = pad + np.arange(nrows) * (h + pad) + (h - 1) / 2
    return fig, ax, xs, ys


def _frame(ax: Axes, x: float, y: float, width: float, height: float) -> None:
    """A highlight frame centred on pixel coordinates (x, y), drawn in the padding between cells."""
    ax.add_patch(Rectangle((x - width / 2, y - height / 2), width, height, fill=False,
                           edgecolor=HIGHLIGHT, linewidth=2.5))


def _fmt(v: float) -> str:
    """A short label for a latent value: -3.0, 0.25, 1.64 (never "-0.0")."""
    return np.format_float_positional(float(v) + 0.0, precision=2, trim="0")


def interpolation_strip(images: np.ndarray, value_range: tuple[float, float],
                        title: str | None = None) -> Figure:
    """Decoded points along a path between two codes, in one row; the endpoints are framed.

    Parameters
    ----------
    images : (steps, C, H, W) in data units, the first and last decoded from the two endpoints.
    value_range : (lo, hi) of the data, mapped to black and white.
    title : drawn above the strip.

    Examples
    --------
    >>> fig = interpolation_strip(model.decode(path).mean.numpy(), (0.0, 1.0))  # doctest: +SKIP
    """
    x = _images(images, "(steps, C, H, W)")
    if len(x) < 2:
        raise ValueError(f"an interpolation strip needs at least 2 steps; got {len(x)}")
    pad, (h, w) = 2, x.shape[2:]
    fig, ax, xs, ys = _labelled_tiles(x, value_range, len(x), title, pad)
    ax.set_xticks(xs[[0, -1]], ["start", "end"])
    for i in (0, -1):
        _frame(ax, xs[i], ys[0], w + pad, h + pad)
    return fig


def labelled_rows(images: np.ndarray, value_range: tuple[float, float], row_labels: Sequence[str],
                  col_labels: Sequence[str] | None = None, title: str | None = None) -> Figure:
    """One grid of R rows by K columns, each row named at its left and, optionally, each column below.

    Parameters
    ----------
    images : (R, K, C, H, W) in data units: row r holds the K images ``images[r]``.
    value_range : (lo, hi) of the data, mapped to black and white.
    row_labels : R names, written as y tick labels at the left of their rows (e.g. class names).
    col_labels : K names, written as x tick labels under their columns; no x ticks if None.
    title : drawn above the grid.

    Examples
    --------
    >>> x = np.zeros((2, 3, 1, 8, 8))  # 2 classes x 3 samples
    >>> fig = labelled_rows(x, (0, 1), ["cat", "dog"])
    >>> [t.get_text() for t in fig.axes[0].get_yticklabels()]
    ['cat', 'dog']
    """
    x = _images(images, "(R, K, C, H, W)")
    n_rows, n_cols = x.shape[:2]
    if len(row_labels) != n_rows:
        raise ValueError(f"row_labels must have one label per row of images (R, K, C, H, W), "
                         f"length R = {n_rows}; got {len(row_labels)}")
    if col_labels is not None and len(col_labels) != n_cols:
        raise ValueError(f"col_labels must have one label per column of images (R, K, C, H, W), "
                         f"length K = {n_cols}; got {len(col_labels)}")
    fig, ax, xs, ys = _labelled_tiles(x.reshape(-1, *x.shape[2:]), value_range, n_cols, title)
    ax.set_yticks(ys, [str(label) for label in row_labels])
    names = [] if col_labels is None else [str(label) for label in col_labels]
    # Names longer than a cell is wide would overlap their neighbours: slant them.
    slant = {"rotation": 30, "ha": "right"} if max(map(len, names), default=0) > 7 else {}
    ax.set_xticks([] if col_labels is None else xs, names, **slant)
    return fig


def denoising_grid(clean: np.ndarray, noisy: np.ndarray, denoised: np.ndarray,
                   value_range: tuple[float, float], title: str | None = None) -> Figure:
    """Clean inputs, their corrupted versions and the model's outputs, in three labelled rows.

    Parameters
    ----------
    clean, noisy, denoised : (N, C, H, W) each, in data units; column i shows one input throughout.
    value_range : (lo, hi) of the data, mapped to black and white.
    title : drawn above the grid, e.g. with the PSNR the caller measured.

    Examples
    --------
    >>> fig = denoising_grid(x, x_noisy, model.reconstruct(x_noisy), (0, 1),  # doctest: +SKIP
    ...                      title="PSNR 14.2 dB -> 21.7 dB")
    """
    rows = [_images(a, "(N, C, H, W)") for a in (clean, noisy, denoised)]
    if not rows[0].shape == rows[1].shape == rows[2].shape:
        raise ValueError(f"clean, noisy and denoised must have the same shape (N, C, H, W); got "
                         f"{rows[0].shape}, {rows[1].shape} and {rows[2].shape}")
    return labelled_rows(np.stack(rows), value_range, ["clean", "noisy", "denoised"], title=title)


def traversal_grid(images: np.ndarray, value_range: tuple[float, float], dims: Sequence[int],
                   values: Sequence[float], title: str | None = None) -> Figure:
    """Latent traversals: row i changes dimension ``dims[i]`` through ``values``, all else fixed.

    Parameters
    ----------
    images : (n_dims, n_values, C, H, W) in data units.
    dims : the n_dims latent indices, labelled "z{d}" on the rows.
    values : the n_values settings of the traversed dimension, labelled on the columns.

    Examples
    --------
    >>> fig = traversal_grid(x, (0, 1), dims=[0, 3], values=np.linspace(-3, 3, 7))  # doctest: +SKIP
    """
    x = _images(images, "(n_dims, n_values, C, H, W)")
    if (len(dims), len(values)) != x.shape[:2]:
        raise ValueError(f"images hold {x.shape[0]} dims x {x.shape[1]} values but got "
                         f"{len(dims)} dims and {len(values)} values")
    fig = labelled_rows(x, value_range, [f"z{d}" for d in dims], [_fmt(v) for v in values], title)
    fig.axes[0].set_xlabel("value of the traversed dimension")
    return fig


def attribute_strip(images: np.ndarray, value_range: tuple[float, float],
                    strengths: Sequence[float], title: str | None = None) -> Figure:
    """Inputs shifted along an attribute vector: row i is input i decoded from ``z + s * v`` for
    each strength s; the s = 0 column (the plain reconstruction) is framed, if present.

    Parameters
    ----------
    images : (n_inputs, n_strengths, C, H, W) in data units.
    strengths : the n_strengths multipliers of the attribute vector, labelled "-2", "0", "+1".

    Examples
    --------
    >>> fig = attribute_strip(x, (0, 16), strengths=[-2, -1, 0, 1, 2])  # doctest: +SKIP
    """
    x = _images(images, "(n_inputs, n_strengths, C, H, W)")
    if len(strengths) != x.shape[1]:
        raise ValueError(f"images hold {x.shape[1]} strengths per input but got "
                         f"{len(strengths)} strengths")
    pad, (h, w) = 2, x.shape[3:]
    fig, ax, xs, ys = _labelled_tiles(x.reshape(-1, *x.shape[2:]), value_range, x.shape[1],
                                      title, pad)
    ax.set_xticks(xs, ["0" if s == 0 else f"{s:+g}" for s in strengths])
    ax.set_xlabel("attribute strength")
    for i in np.flatnonzero(np.asarray(strengths, dtype=float) == 0):
        _frame(ax, xs[i], ys.mean(), w + pad, len(ys) * (h + pad))
        ax.get_xticklabels()[i].set(fontweight="bold", color=HIGHLIGHT)
    return fig


def normal_grid(n: int, eps: float = 0.05) -> np.ndarray:
    """An n x n grid of 2-D latents evenly spaced in probability under N(0, I), shape (n*n, 2).

    The coordinates are ``Phi^-1(u)`` for u evenly spaced in [eps, 1 - eps], where Phi is the
    standard normal CDF (Kingma & Welling 2014, fig. 4). Row-major: ``grid.reshape(n, n, 2)[r, c]``
    has z0 = the c-th value (rising along the columns, left to right) and z1 = the c-th value from
    the top (falling down the rows), so the decoded images tile like a plot with z1 pointing up.
    The grid is exactly symmetric about 0; for odd n its centre is exactly (0, 0).

    Examples
    --------
    >>> normal_grid(3, eps=0.5 - 0.3413447)[:3, 0].round(3).tolist()  # one sigma either side
    [-1.0, 0.0, 1.0]
    """
    check_int(n, "n", 2)
    check(isinstance(eps, int | float) and 0 < eps < 0.5, "eps", eps, "it must be a number in (0, 0.5)")
    v = np.array([NormalDist().inv_cdf(u) for u in np.linspace(eps, 1 - eps, n)])
    v = (v - v[::-1]) / 2  # exact symmetry despite rounding
    z0, z1 = np.meshgrid(v, v[::-1])
    return np.stack([z0.ravel(), z1.ravel()], axis=1)


def manifold_grid(images: np.ndarray, value_range: tuple[float, float], grid_values: np.ndarray,
                  title: str | None = None) -> Figure:
    """The decoded manifold of a 2-D latent: images decoded from an n x n grid of codes.

    Parameters
    ----------
    images : (n*n, C, H, W) in data units, decoded from ``grid_values`` in the same order.
    grid_values : (n*n, 2) codes laid out as :func:`normal_grid` makes them (row-major, z0 along
        the columns); a few of their values label the axes.

    Examples
    --------
    >>> grid = normal_grid(20)                                                  # doctest: +SKIP
    >>> fig = manifold_grid(model.decode(torch.tensor(grid)).mean, (0, 1), grid)  # doctest: +SKIP
    """
    x = _images(images, "(n*n, C, H, W)")
    g = np.asarray(grid_values, dtype=np.float64)
    n = math.isqrt(len(x))
    if n * n != len(x) or g.shape != (len(x), 2):
        raise ValueError(f"need n*n images and (n*n, 2) grid values; got {len(x)} images and "
                         f"grid values of shape {g.shape}")
    fig, ax, xs, ys = _labelled_tiles(x, value_range, n, title)
    ticks = np.unique(np.linspace(0, n - 1, min(n, 5)).round().astype(int))
    g = g.reshape(n, n, 2)
    ax.set_xticks(xs[ticks], [_fmt(v) for v in g[0, ticks, 0]])
    ax.set_yticks(ys[ticks], [_fmt(v) for v in g[ticks, 0, 1]])
    ax.set(xlabel="z0", ylabel="z1")
    return fig


def kl_per_dimension(kl: np.ndarray, threshold: float = 0.01, sort: bool = True,
                     title: str | None = None) -> Figure:
    """KL(q(z_d | x) || p(z_d)) per latent dimension as bars, with the activity threshold.

    A dimension counts as active here when its KL exceeds ``threshold`` nats: a KL-based proxy.
    The usual definition of active units (Burda et al. 2016: the variance over x of the posterior
    mean) is in :mod:`vaelab.metrics`.

    Parameters
    ----------
    kl : (Z,) mean KL per dimension in nats.
    threshold : nats above which a dimension counts as active.
    sort : bars in descending KL (True) or index order; the ticks name the dimension either way.

    Examples
    --------
    >>> fig = kl_per_dimension(np.array([2.1, 0.001, 0.8]))
    >>> fig.axes[0].get_title()
    'KL per latent dimension: 2 of 3 active'
    """
    kl = np.asarray(kl, dtype=np.float64)
    if kl.ndim != 1 or not np.isfinite(kl).all():
        raise shape_error("kl", kl.shape, "(Z,) finite numbers")
    check_number(threshold, "threshold", low=0.0, what="it must be a number of nats >= 0")
    order = np.argsort(-kl, kind="stable") if sort else np.arange(len(kl))
    values, pos = kl[order], np.arange(len(kl))
    active = values > threshold
    k, total = int(active.sum()), len(kl)
    fig = Figure(figsize=(min(max(4.5, 0.3 * total + 2.0), 14.0), 3.6), layout="constrained")
    ax = fig.add_subplot()
    entries = [ax.bar(pos[active], values[active], color="tab:blue", label=f"active: {k} of {total}"),
            ax.bar(pos[~active], values[~active], color="0.65", label=f"inactive: {total - k}"),
            ax.axhline(threshold, color="tab:red", linestyle="--", linewidth=1,
                       label=f"threshold {threshold:g} nats")]
    ax.set_xticks(pos, [f"z{d}" for d in order], rotation=90 if total > 16 else 0,
                  fontsize=7 if total > 16 else None)
    ax.set(ylabel="KL (nats)", xlabel="latent dimension" + (", by KL" if sort else ""),
           title=f"{title or 'KL per latent dimension'}: {k} of {total} active")
    ax.legend(handles=entries)
    return fig


def training_curves(history: Sequence[dict[str, Any]], title: str | None = None,
                    collapse_epoch: int | None = None) -> Figure:
    """Loss, reconstruction and KL per epoch, training and validation (from metrics.jsonl).

    Parameters
    ----------
    history : one record per epoch with ``epoch``, ``train_loss``, ``train_rec``, ``train_kl``, and
        optionally ``val_*`` (a validation curve) and ``kl_weight``; a weight that is not 1.0
        throughout (warm-up, cyclical schedules) is drawn on a second y axis of the KL panel.
    title : drawn above the three panels.
    collapse_epoch : the epoch the KL collapsed (see :func:`vaelab.losses.kl_collapse`), marked by a
        dashed red line on every panel; None marks nothing.

    Examples
    --------
    >>> fig = training_curves(read_metrics(run), collapse_epoch=kl_collapse(history))  # doctest: +SKIP
    """
    epochs = [r["epoch"] for r in history]
    fig = Figure(figsize=(10.0, 3.2), layout="constrained")
    axes = fig.subplots(1, 3)
    for ax, key, label in zip(axes, ("loss", "rec", "kl"),
                              ("loss (nats)", "reconstruction (nats)", "KL (nats)"), strict=True):
        ax.plot(epochs, [r[f"train_{key}"] for r in history], label="train")
        if history and f"val_{key}" in history[0]:
            ax.plot(epochs, [r[f"val_{key}"] for r in history], label="validation")
        if collapse_epoch is not None:
            ax.axvline(collapse_epoch, color="tab:red", linestyle="--", linewidth=1)
        ax.set_xlabel("epoch")
        ax.set_title(label)
        ax.grid(alpha=0.3)
    axes[0].legend()
    if collapse_epoch is not None:
        # Written up along the line, on its roomier side, so that it stays inside the panel.
        right = collapse_epoch <= np.mean(axes[2].get_xlim())
        axes[2].annotate(f"KL collapsed (epoch {collapse_epoch})", (collapse_epoch, 0.97),
                         xycoords=("data", "axes fraction"), xytext=(3 if right else -3, 0),
                         textcoords="offset points", rotation=90, ha="left" if right else "right",
                         va="top", color="tab:red", fontsize=8)
    weights = [r.get("kl_weight", 1.0) for r in history]
    if any(w != 1.0 for w in weights):
        twin = axes[2].twinx()
        twin.plot(epochs, weights, color="0.5", linewidth=0.8)
        twin.set_ylabel("KL weight", color="0.5")
    if title:
        fig.suptitle(title)
    return fig
