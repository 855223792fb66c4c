"""What every distribution module shares: the constant log(2 pi), the per-example sum, the cast of
autocast outputs to float32, and the :class:`Likelihood` base class of the output distributions p(x|z).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod

import torch
from torch import Tensor

LOG_2PI = math.log(2.0 * math.pi)


def full_precision(t: Tensor) -> Tensor:
    """``t`` in float32 if autocast made it bfloat16 or float16, else ``t`` itself (float64 stays).

    Every distribution casts the network outputs it is built from, so that log_prob, the KL and
    the loss are computed in float32 under ``--precision bf16|fp16``: a sum over 784 pixels in
    bfloat16 (8 bits of mantissa) would be off by whole nats.
    """
    return t.to(torch.promote_types(t.dtype, torch.float32))


def sum_except_batch(t: Tensor) -> Tensor:
    """(B, ...) -> (B,)."""
    return t.reshape(t.shape[0], -1).sum(dim=1)


class Likelihood(ABC):
    """Base of the output likelihoods p(x|z): holds the affine map between data units and the
    normalized units the network works in, x = shift + scale * u.

    ``shift`` and ``scale`` broadcast against a batch (B, *shape): (1, C, 1, 1) for images,
    (1, D) for tables.
    """

    #: whether the model keeps a per-dimension scale parameter for this likelihood
    has_scale: bool = False

    def __init__(self, shift: Tensor, scale: Tensor) -> None:
        self.shift = shift
        self.scale = scale

    def normalize(self, x: Tensor) -> Tensor:
        return (x - self.shift) / self.scale

    def denormalize(self, u: Tensor) -> Tensor:
        return u * self.scale + self.shift

    @property
    @abstractmethod
    def mean(self) -> Tensor:
        """Expected x in data units, (B, *shape)."""

    @abstractmethod
    def log_prob(self, x: Tensor) -> Tensor:
        """log p(x|z) in nats for data-unit x (B, *shape), summed over data dimensions: (B,)."""

    @abstractmethod
    def sample(self, generator: torch.Generator | None = None) -> Tensor:
        """A draw of x in data units, (B, *shape)."""
