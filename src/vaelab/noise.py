"""Input corruption for denoising models, and the quality measures of denoising.

A denoising autoencoder (Vincent et al. 2008, "Extracting and composing robust features with
denoising autoencoders") is trained to rebuild the clean x from a corrupted x~; the same corruption
turns a VAE into a denoising VAE (Im et al. 2017). Each kind is a pure function of the data in
normalized units u = (x - shift) / scale, in which the levels are defined; models use the value
range for images (u in [0, 1]) and their standardization for tables (u in column standard
deviations), see :meth:`vaelab.Autoencoder.corrupt`:

- ``gaussian:s`` adds N(0, s^2) noise to every input;
- ``mask:p`` sets a random fraction p of the inputs to u = 0 (the bottom of the value range for
  images, the column mean for standardized tables), as in Vincent et al. 2008;
- ``saltpepper:p`` sets a random fraction p of the inputs to the data's minimum or maximum, half each.

:func:`corrupt` then clips the result to the data's value range.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import Tensor

from vaelab.config import parse_noise


def _gaussian(u: Tensor, level: float, lo: Tensor, hi: Tensor, gen: torch.Generator | None) -> Tensor:
    return u + level * torch.randn(u.shape, generator=gen, device=u.device, dtype=u.dtype)


def _mask(u: Tensor, level: float, lo: Tensor, hi: Tensor, gen: torch.Generator | None) -> Tensor:
    hit = torch.rand(u.shape, generator=gen, device=u.device) < level
    return u.masked_fill(hit, 0.0)


def _saltpepper(u: Tensor, level: float, lo: Tensor, hi: Tensor, gen: torch.Generator | None) -> Tensor:
    r = torch.rand(u.shape, generator=gen, device=u.device)
    u = torch.where(r < level / 2, lo.expand_as(u), u)  # pepper: the minimum
    return torch.where((r >= level / 2) & (r < level), hi.expand_as(u), u)  # salt: the maximum


KINDS: dict[str, Callable[..., Tensor]] = {
    "gaussian": _gaussian,
    "mask": _mask,
    "saltpepper": _saltpepper,
}


def corrupt(x: Tensor, noise: str, shift: Tensor, scale: Tensor, value_range: tuple[float, float] | None,
            generator: torch.Generator | None = None) -> Tensor:
    """A corrupted copy of ``x`` (B, *shape) in data units.

    Parameters
    ----------
    x : clean data in data units.
    noise : ``"none"`` or ``KIND:LEVEL`` (see the module docstring), e.g. ``"gaussian:0.3"``.
    shift, scale : the model's scaler, broadcastable to ``x``: data = shift + scale * u.
    value_range : ``(lo, hi)`` in data units; the result is clipped to it. None: no clipping, and
        salt and pepper use the range of ``x`` itself.
    generator : the source of randomness (None: the global one).

    Examples
    --------
    >>> x = torch.rand(4, 1, 8, 8) * 16
    >>> noisy = corrupt(x, "gaussian:0.3", torch.zeros(1), torch.full((1,), 16.0), (0.0, 16.0))
    >>> bool(noisy.min() >= 0 and noisy.max() <= 16)
    True
    """
    kind, level = parse_noise(noise)
    if kind == "none" or level == 0:
        return x
    lo_x, hi_x = value_range if value_range is not None else (float(x.min()), float(x.max()))
    lo = ((torch.as_tensor(lo_x, dtype=x.dtype, device=x.device) - shift) / scale).to(x.dtype)
    hi = ((torch.as_tensor(hi_x, dtype=x.dtype, device=x.device) - shift) / scale).to(x.dtype)
    u = KINDS[kind]((x - shift) / scale, level, lo, hi, generator)
    noisy = u * scale + shift
    return noisy if value_range is None else noisy.clamp(lo_x, hi_x)


def psnr(clean: np.ndarray, other: np.ndarray, value_range: tuple[float, float]) -> float:
    """Peak signal-to-noise ratio in dB of ``other`` against ``clean`` (same shape), with the peak
    the width of ``value_range``: 10 log10(peak^2 / MSE) over all values. Infinite when equal."""
    mse = float(np.mean((np.asarray(clean, np.float64) - np.asarray(other, np.float64)) ** 2))
    peak = value_range[1] - value_range[0]
    return math.inf if mse == 0 else 10.0 * math.log10(peak**2 / mse)


def rmse(clean: np.ndarray, other: np.ndarray, categories: Sequence[Sequence[str]] | None = None) -> float:
    """Root mean squared difference of ``other`` from ``clean`` in data units, over the values
    present in ``clean`` (NaN: missing) of its numeric columns (``categories``: per table column,
    ``()`` for numeric ones; None: every value is numeric). NaN when there is none."""
    diff = np.asarray(clean, np.float64) - np.asarray(other, np.float64)
    if categories is not None:
        diff = diff.reshape(len(diff), -1)[:, [not c for c in categories]]
    diff = diff[~np.isnan(diff)]
    return float(np.sqrt(np.mean(diff**2))) if diff.size else math.nan


def category_accuracy(clean: np.ndarray, other: np.ndarray, categories: Sequence[Sequence[str]]) -> float:
    """Share of the categorical cells present in ``clean`` (N, D) that ``other`` gets right; NaN
    when there is none."""
    codes = np.asarray(clean, np.float64)[:, [bool(c) for c in categories]]
    guess = np.rint(np.asarray(other, np.float64)[:, [bool(c) for c in categories]])
    present = ~np.isnan(codes)
    return float(np.mean(codes[present] == guess[present])) if present.any() else math.nan


def table_errors(clean: np.ndarray, other: np.ndarray, categories: Sequence[Sequence[str]] | None) -> str:
    """How far ``other`` is from ``clean``, over the cells present in ``clean``: ``"RMSE r in data
    units"`` over numeric values, and the share of categories right when there are categorical columns."""
    text = f"RMSE {rmse(clean, other, categories):.4g} in data units"
    if categories is not None and any(categories):
        text += f", {100 * category_accuracy(clean, other, categories):.1f}% of categories right"
    return text
