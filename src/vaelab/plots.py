"""Pictures of a model and its training. Every function returns a matplotlib Figure; none saves or
shows one (the CLI decides where pictures go). Figures are built with ``matplotlib.figure.Figure``
directly, so no global pyplot state or GUI backend is involved.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure


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


def training_curves(history: Sequence[dict[str, Any]], title: str | None = None) -> Figure:
    """Loss, reconstruction and KL per epoch, training and validation (from metrics.jsonl)."""
    epochs = [r["epoch"] for r in history]
    fig = Figure(figsize=(10.0, 3.2), layout="constrained")
    axes = fig.subplots(1, 3)
    for ax, key, label in zip(axes, ("loss", "rec", "kl"),
                              ("loss (nats)", "reconstruction (nats)", "KL (nats)"), strict=True):
        ax.plot(epochs, [r[f"train_{key}"] for r in history], label="train")
        if history and f"val_{key}" in history[0]:
            ax.plot(epochs, [r[f"val_{key}"] for r in history], label="validation")
        ax.set_xlabel("epoch")
        ax.set_title(label)
        ax.grid(alpha=0.3)
    axes[0].legend()
    if title:
        fig.suptitle(title)
    return fig
