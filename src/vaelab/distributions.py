"""Small distribution objects: the posterior q(z|x) and the output likelihoods p(x|z).

Likelihoods read and return data in the data's own units (pixels 0..255, CSV values): the model
network works on a normalized copy u = (x - shift) / scale, and each likelihood maps between the
two, so ``mean`` and ``sample()`` are in data units and ``log_prob(x)`` takes data-unit ``x``.

Every ``log_prob`` is in nats, summed over the data (or latent) dimensions: shape (B,).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod

import torch
import torch.nn.functional as F
from torch import Tensor

from vaelab.registry import LIKELIHOODS, register

LOG_2PI = math.log(2.0 * math.pi)


def _sum_except_batch(t: Tensor) -> Tensor:
    """(B, ...) -> (B,)."""
    return t.reshape(t.shape[0], -1).sum(dim=1)


class DiagonalGaussian:
    """q(z|x) = N(mean, diag(exp(logvar))).

    Parameters
    ----------
    mean, logvar : (B, Z) tensors.

    Examples
    --------
    >>> q = DiagonalGaussian(torch.zeros(2, 3), torch.zeros(2, 3))
    >>> q.kl().shape
    torch.Size([2, 3])
    """

    def __init__(self, mean: Tensor, logvar: Tensor) -> None:
        self.mean = mean
        self.logvar = logvar

    @property
    def std(self) -> Tensor:
        return torch.exp(0.5 * self.logvar)

    def sample(self, generator: torch.Generator | None = None) -> Tensor:
        """Reparameterized draw z = mean + std * eps, eps ~ N(0, I) (Kingma & Welling 2014, sec. 2.4),
        so gradients flow to mean and logvar. Shape (B, Z)."""
        eps = torch.randn(self.mean.shape, generator=generator, device=self.mean.device,
                          dtype=self.mean.dtype)
        return self.mean + self.std * eps

    def kl(self) -> Tensor:
        """KL(q || N(0, I)) per latent dimension, shape (B, Z), in nats.

        Closed form for two Gaussians (Kingma & Welling 2014, App. B):
        0.5 * (mean^2 + var - 1 - log var).
        """
        return 0.5 * (self.mean.square() + self.logvar.exp() - 1.0 - self.logvar)

    def log_prob(self, z: Tensor) -> Tensor:
        """log q(z|x) summed over latent dimensions; ``z`` is (B, Z) or (K, B, Z)."""
        return -0.5 * (LOG_2PI + self.logvar + (z - self.mean).square() / self.logvar.exp()).sum(-1)


def standard_normal_log_prob(z: Tensor) -> Tensor:
    """log N(z; 0, I) summed over the last dimension."""
    return -0.5 * (LOG_2PI + z.square()).sum(-1)


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
        self.logits = logits

    @property
    def mean(self) -> Tensor:
        return self.denormalize(torch.sigmoid(self.logits))

    def log_prob(self, x: Tensor) -> Tensor:
        u = self.normalize(x)
        return -_sum_except_batch(
            F.binary_cross_entropy_with_logits(self.logits, u, reduction="none")
        )

    def sample(self, generator: torch.Generator | None = None) -> Tensor:
        return self.denormalize(torch.bernoulli(torch.sigmoid(self.logits), generator=generator))


@register(LIKELIHOODS, "gaussian")
class Gaussian(Likelihood):
    """Gaussian with per-dimension scale on standardized data, u = (x - mean_train) / std_train.

    ``log_prob`` is the density of x in the data's own units: the density of u plus the log-Jacobian
    -sum(log scale) of the standardization, so likelihoods stay comparable across preprocessing.

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
        self.loc = loc
        self.log_scale = log_scale

    @property
    def mean(self) -> Tensor:
        return self.denormalize(self.loc)

    def log_prob(self, x: Tensor) -> Tensor:
        u = self.normalize(x)
        per_dim = -0.5 * (LOG_2PI + ((u - self.loc) / self.log_scale.exp()).square()) - self.log_scale
        # Jacobian of u = (x - shift) / scale: every data dimension contributes -log scale.
        n_dims = math.prod(x.shape[1:])
        log_det = torch.log(self.scale).sum() * (n_dims / self.scale.numel())
        return _sum_except_batch(per_dim) - log_det

    def sample(self, generator: torch.Generator | None = None) -> Tensor:
        eps = torch.randn(self.loc.shape, generator=generator, device=self.loc.device,
                          dtype=self.loc.dtype)
        return self.denormalize(self.loc + self.log_scale.exp() * eps)
