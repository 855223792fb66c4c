"""The posterior q(z|x) and the prior: a diagonal Gaussian and the standard normal.

Every ``log_prob`` is in nats, summed over the latent dimensions.
"""

from __future__ import annotations

import torch
from torch import Tensor

from vaelab.distributions.base import LOG_2PI, full_precision


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
        self.mean, self.logvar = full_precision(mean), full_precision(logvar)

    @property
    def std(self) -> Tensor:
        return torch.exp(0.5 * self.logvar)

    def sample(self, generator: torch.Generator | None = None, n: int | None = None) -> Tensor:
        """Reparameterized draw z = mean + std * eps, eps ~ N(0, I) (Kingma & Welling 2014, sec. 2.4),
        so gradients flow to mean and logvar. Shape (B, Z), or (n, B, Z) for ``n`` draws each."""
        shape = self.mean.shape if n is None else (n, *self.mean.shape)
        eps = torch.randn(shape, generator=generator, device=self.mean.device, dtype=self.mean.dtype)
        return self.reparameterize(eps)

    def reparameterize(self, eps: Tensor) -> Tensor:
        """z = mean + std * eps for standard normal draws ``eps`` (B, Z) or (S, B, Z) (or (S, 1, Z),
        the same draws for every example)."""
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


def standard_normal(n: int, d: int, generator: torch.Generator | None, dtype: torch.dtype) -> Tensor:
    """``n`` draws (n, d) of N(0, I) on the generator's device (the CPU without one), so that a
    seeded draw is the same whatever device the model is on."""
    device = generator.device if generator is not None else torch.device("cpu")
    return torch.randn(n, d, generator=generator, device=device, dtype=dtype)
