"""The data scaler: how a model's data were scaled, stored with its weights.

x (data units) = shift + scale * u (network units). For images the statistics are per channel,
for tables per column, so the buffers are (1, C, 1, 1) or (1, D); they are registered buffers and
therefore saved in ``model.safetensors`` and restored by a strict load.

Tables with categorical columns (:mod:`vaelab.data.columns`) hold category codes there: their
shift and scale stay 0 and 1, and :meth:`Scaler.network_input` turns each code into a one-hot
block. Missing cells (NaN) enter the network as 0, the column mean of a standardized column and
no category of a categorical one, as in HI-VAE (Nazabal et al. 2020, "Handling incomplete
heterogeneous data using VAEs", sec. 3); the likelihood leaves them out of the loss.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import torch
from torch import Tensor, nn


def stat_shape(input_shape: tuple[int, ...]) -> tuple[int, ...]:
    """(C, H, W) -> (1, C, 1, 1); (D,) -> (1, D)."""
    return (1, input_shape[0], *([1] * (len(input_shape) - 1)))


def network_width(input_shape: tuple[int, ...], categories: tuple[int, ...] = ()) -> int:
    """Numbers per example in network units: one per value, K per categorical column of K
    categories (``categories``: per column, 0 for numeric ones; empty when all are numeric)."""
    if not categories:
        return math.prod(input_shape)
    return sum(k if k else 1 for k in categories)


class Scaler(nn.Module):
    """Affine map between data units and network units, fitted to the training data.

    Parameters
    ----------
    input_shape : per-example data shape.
    categories : tables only: per column, its number of categories (0 for a numeric column).
    """

    def __init__(self, input_shape: tuple[int, ...], categories: tuple[int, ...] = ()) -> None:
        super().__init__()
        shape = stat_shape(input_shape)
        self.register_buffer("shift", torch.zeros(shape))
        self.register_buffer("scale", torch.ones(shape))
        self.categories = tuple(categories)
        if self.categories:
            #: per column, where its block starts in the network input, and its width (1 or K)
            widths = torch.tensor([k if k else 1 for k in self.categories])
            # not saved: they follow from the config's categories, and move with the model
            self.register_buffer("starts", torch.cumsum(widths, 0) - widths, persistent=False)
            self.register_buffer("categorical", torch.tensor([k > 0 for k in self.categories]),
                                 persistent=False)

    def set_range(self, lo: float, hi: float) -> None:
        """Map the closed range [lo, hi] to [0, 1] (for the Bernoulli likelihood)."""
        if not hi > lo:
            raise ValueError(f"value range must have hi > lo, got ({lo}, {hi})")
        self.shift.fill_(lo)
        self.scale.fill_(hi - lo)

    def fit_standardize(self, x: np.ndarray, shared: bool = False) -> None:
        """Standardize per channel (images) or per column (tables) to mean 0, std 1, over the
        values present (NaN marks a missing one); categorical columns keep 0 and 1.

        Constant channels keep scale 1 so that they are shifted but never divided by zero.
        With ``shared``, each numeric column is still centred on its mean but all of them are
        divided by one pooled standard deviation (the root mean of their variances), as an image
        channel's pixels are: for columns that share one unit (pixels, spectra), where a column
        almost constant in the training rows would otherwise turn a small deviation into a huge
        standardized one.
        """
        axes = tuple(i for i in range(x.ndim) if i != 1)
        with warnings.catch_warnings():  # an all-missing column: mean 0 and scale 1 below
            warnings.simplefilter("ignore", RuntimeWarning)
            mean = np.nanmean(x, axis=axes, dtype=np.float64).reshape(self.shift.shape)
            std = np.nanstd(x, axis=axes, dtype=np.float64).reshape(self.scale.shape)
        mean[~np.isfinite(mean)] = 0.0
        codes = np.array([k > 0 for k in self.categories], dtype=bool).reshape(std.shape) \
            if self.categories else np.zeros(std.shape, dtype=bool)  # categorical columns
        numeric = np.isfinite(std) & ~codes
        if shared and numeric.any():
            std[numeric] = np.sqrt(np.mean(np.square(std[numeric])))
        std[~(std >= 1e-8)] = 1.0
        mean[codes], std[codes] = 0.0, 1.0
        self.shift.copy_(torch.as_tensor(mean))
        self.scale.copy_(torch.as_tensor(std))

    def normalize(self, x: Tensor) -> Tensor:
        return (x - self.shift) / self.scale

    def denormalize(self, u: Tensor) -> Tensor:
        return u * self.scale + self.shift

    def network_input(self, x: Tensor) -> Tensor:
        """What the encoder sees of data-unit ``x`` (B, *shape): the normalized values, with missing
        ones (NaN) as 0 and, for categorical table columns, one-hot codes: (B, *shape) or, with
        categorical columns, (B, :func:`network_width`)."""
        u = torch.nan_to_num(self.normalize(x), nan=0.0)
        if not self.categories:
            return u
        width = network_width((u.shape[1],), self.categories)
        out = u.new_zeros(u.shape[0], width)
        starts, categorical = self.starts, self.categorical
        out[:, starts[~categorical]] = u[:, ~categorical]
        codes = x[:, categorical]  # (B, C) with NaN for missing
        present = ~torch.isnan(codes)
        index = starts[categorical] + torch.nan_to_num(codes, nan=0.0).long()  # (B, C)
        out.scatter_(1, index, present.to(out.dtype))
        return out
