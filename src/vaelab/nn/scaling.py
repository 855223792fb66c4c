"""The data scaler: how a model's data were scaled, stored with its weights.

x (data units) = shift + scale * u (network units). For images the statistics are per channel,
for tables per column, so the buffers are (1, C, 1, 1) or (1, D); they are registered buffers and
therefore saved in ``model.safetensors`` and restored by a strict load.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn


def stat_shape(input_shape: tuple[int, ...]) -> tuple[int, ...]:
    """(C, H, W) -> (1, C, 1, 1); (D,) -> (1, D)."""
    return (1, input_shape[0], *([1] * (len(input_shape) - 1)))


class Scaler(nn.Module):
    """Affine map between data units and network units, fitted to the training data."""

    def __init__(self, input_shape: tuple[int, ...]) -> None:
        super().__init__()
        shape = stat_shape(input_shape)
        self.register_buffer("shift", torch.zeros(shape))
        self.register_buffer("scale", torch.ones(shape))

    def set_range(self, lo: float, hi: float) -> None:
        """Map the closed range [lo, hi] to [0, 1] (for the Bernoulli likelihood)."""
        if not hi > lo:
            raise ValueError(f"value range must have hi > lo, got ({lo}, {hi})")
        self.shift.fill_(lo)
        self.scale.fill_(hi - lo)

    def fit_standardize(self, x: np.ndarray) -> None:
        """Standardize per channel (images) or per column (tables) to mean 0, std 1.

        Constant channels keep scale 1 so that they are shifted but never divided by zero.
        """
        axes = tuple(i for i in range(x.ndim) if i != 1)
        mean = x.mean(axis=axes, dtype=np.float64).reshape(self.shift.shape)
        std = x.std(axis=axes, dtype=np.float64).reshape(self.scale.shape)
        std[std < 1e-8] = 1.0
        self.shift.copy_(torch.as_tensor(mean))
        self.scale.copy_(torch.as_tensor(std))

    def normalize(self, x: Tensor) -> Tensor:
        return (x - self.shift) / self.scale

    def denormalize(self, u: Tensor) -> Tensor:
        return u * self.scale + self.shift
