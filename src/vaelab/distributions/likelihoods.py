"""Output likelihoods p(x|z) for arrays: Bernoulli on a known value range, Gaussian on standardized data.

Likelihoods read and return data in the data's own units (pixels 0..255, CSV values): the model
network works on a normalized copy u = (x - shift) / scale, and each likelihood maps between the
two, so ``mean`` and ``sample()`` are in data units and ``log_prob(x)`` takes data-unit ``x``.
Every ``log_prob`` is in nats, summed over the data dimensions: shape (B,).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from vaelab.distributions.base import LOG_2PI, Likelihood, full_precision, sum_except_batch
from vaelab.registry import LIKELIHOODS, register


@register(LIKELIHOODS, "bernoulli")
class Bernoulli(Likelihood):
    """Bernoulli on logits for data in a known range [lo, hi] (shift = lo, scale = hi - lo).

    ``log_prob`` is the negative binary cross-entropy of the normalized data u in [0, 1]; it is a
    log-likelihood in the strict sense only when u is binary (e.g. ``binarize="dynamic"``), and a
    cross-entropy for grey levels.

    Parameters
    ----------
    logits : (B, *shape) decoder output.
    """

    def __init__(self, logits: Tensor, shift: Tensor, scale: Tensor,
                 log_scale: Tensor | None = None) -> None:
        super().__init__(shift, scale)
        self.logits = full_precision(logits)

    @property
    def mean(self) -> Tensor:
        return self.denormalize(torch.sigmoid(self.logits))

    def log_prob(self, x: Tensor) -> Tensor:
        u = self.normalize(x)
        missing = torch.isnan(u)
        per_dim = F.binary_cross_entropy_with_logits(self.logits, u.nan_to_num(0.0), reduction="none")
        return -sum_except_batch(torch.where(missing, 0.0, per_dim))

    def sample(self, generator: torch.Generator | None = None) -> Tensor:
        return self.denormalize(torch.bernoulli(torch.sigmoid(self.logits), generator=generator))


@register(LIKELIHOODS, "gaussian")
class Gaussian(Likelihood):
    """Gaussian with per-dimension scale on standardized data, u = (x - mean_train) / std_train.

    ``log_prob`` is the density of x in the data's own units: the density of u plus the log-Jacobian
    -sum(log scale) of the standardization, so likelihoods stay comparable across preprocessing.
    Missing values (NaN) are left out of the sum, as in :mod:`vaelab.distributions_table`.

    Parameters
    ----------
    loc : (B, *shape) decoder output, in standardized units.
    log_scale : (*shape) per-dimension log standard deviation, in standardized units.
    """

    has_scale = True

    def __init__(self, loc: Tensor, shift: Tensor, scale: Tensor,
                 log_scale: Tensor | None = None) -> None:
        super().__init__(shift, scale)
        if log_scale is None:
            raise ValueError("the Gaussian likelihood needs a log_scale tensor")
        self.loc = full_precision(loc)
        self.log_scale = log_scale

    @property
    def mean(self) -> Tensor:
        return self.denormalize(self.loc)

    def log_prob(self, x: Tensor) -> Tensor:
        u = self.normalize(x)
        missing = torch.isnan(u)
        u = u.nan_to_num(0.0)  # a NaN anywhere in the sum would poison the gradients, masked or not
        # Jacobian of u = (x - shift) / scale: every observed data dimension contributes -log scale.
        per_dim = -0.5 * (LOG_2PI + ((u - self.loc) / self.log_scale.exp()).square()) - self.log_scale \
            - torch.log(self.scale)
        return sum_except_batch(torch.where(missing, 0.0, per_dim))

    def sample(self, generator: torch.Generator | None = None) -> Tensor:
        eps = torch.randn(self.loc.shape, generator=generator, device=self.loc.device,
                          dtype=self.loc.dtype)
        return self.denormalize(self.loc + self.log_scale.exp() * eps)
