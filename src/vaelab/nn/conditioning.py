"""Conditioning: how a condition y (a class label or a vector of attributes) enters the networks.

A conditional model (CVAE, Sohn et al. 2015) gives both networks the condition: q(z | x, y) and
p(x | z, y). :class:`Condition` turns y into a vector c (B, E); the backbones then join it to their
input, the same way for every backbone:

- dense input (the MLP encoder's flattened x, every decoder's z): concatenation [h, c]
  (:func:`concat`);
- an image (the conv encoder's input): c broadcast as E extra constant channels
  (:func:`broadcast_channels`), so every convolution sees the condition at every pixel.

Unconditional models pass ``c=None`` and both helpers return their input unchanged.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from vaelab.config import ModelConfig


class Condition(nn.Module):
    """y -> c (B, dim): labels one-hot or through a learned embedding, attribute columns standardized.

    Parameters
    ----------
    config : ``config.condition`` is ``"label"`` (y: (B,) integer class ids in
        ``0..n_conditions-1``) or ``"columns"`` (y: (B, n_conditions) floats in the data's units,
        standardized with the training conditions' mean and standard deviation, fitted by
        :meth:`fit` and stored as buffers).

    Examples
    --------
    >>> cond = Condition(ModelConfig(condition="label", n_conditions=10))
    >>> cond(torch.tensor([3, 7])).shape
    torch.Size([2, 10])
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        if config.condition not in ("label", "columns"):
            raise ValueError(f"Condition needs condition='label' or 'columns', got {config.condition!r}")
        self.kind = config.condition
        self.n = config.n_conditions
        self.embedding: nn.Embedding | None = None
        if self.kind == "label" and config.label_embedding > 0:
            self.embedding = nn.Embedding(self.n, config.label_embedding)
        self.dim = config.label_embedding if self.embedding is not None else self.n
        if self.kind == "columns":
            self.register_buffer("shift", torch.zeros(self.n))
            self.register_buffer("scale", torch.ones(self.n))

    def fit(self, y: np.ndarray) -> None:
        """Columns: standardize with the mean and standard deviation of the training conditions
        ``y`` (N, n_conditions); constant columns keep scale 1. Labels need no fitting."""
        if self.kind != "columns":
            return
        y = np.asarray(y, dtype=np.float64)
        std = y.std(axis=0)
        std[std < 1e-8] = 1.0
        self.shift.copy_(torch.as_tensor(y.mean(axis=0)))
        self.scale.copy_(torch.as_tensor(std))

    def forward(self, y: Tensor) -> Tensor:
        if self.kind == "label":
            if y.ndim != 1 or y.dtype.is_floating_point:
                raise ValueError(f"labels y must be integer class ids of shape (B,), got {y.dtype} "
                                 f"{tuple(y.shape)}")
            # On an accelerator the check would cost a device sync per training step, so there it
            # runs only without autograd (inference); training labels were checked at loading.
            checked = y.device.type == "cpu" or not torch.is_grad_enabled()
            if checked and len(y) and (int(y.min()) < 0 or int(y.max()) >= self.n):
                bad = y[(y < 0) | (y >= self.n)][0]
                raise ValueError(f"label {int(bad)} is out of range; labels are 0 to {self.n - 1}")
            if self.embedding is not None:
                return self.embedding(y)
            return F.one_hot(y.long(), self.n).float()  # (B, n)
        if y.ndim != 2 or y.shape[1] != self.n:
            raise ValueError(f"conditions y must have shape (B, {self.n}), one value per condition "
                             f"column, got {tuple(y.shape)}")
        return (y.float() - self.shift) / self.scale  # (B, n)


def concat(h: Tensor, c: Tensor | None) -> Tensor:
    """[h, c] along the last dimension: (B, D) and (B, E) -> (B, D + E); ``h`` when ``c`` is None."""
    return h if c is None else torch.cat([h, c.to(h.dtype)], dim=-1)


def broadcast_channels(x: Tensor, c: Tensor | None) -> Tensor:
    """Append c as constant channels: (B, C, H, W) and (B, E) -> (B, C + E, H, W); ``x`` when ``c``
    is None."""
    if c is None:
        return x
    b, _, h, w = x.shape
    return torch.cat([x, c.to(x.dtype)[:, :, None, None].expand(b, c.shape[1], h, w)], dim=1)
