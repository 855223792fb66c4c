"""Variational autoencoder (Kingma & Welling 2014; Rezende et al. 2014)."""

from __future__ import annotations

import torch
from torch import Tensor

from vaelab.distributions import DiagonalGaussian
from vaelab.losses import elbo_terms, free_bits
from vaelab.models.base import Autoencoder, Losses
from vaelab.registry import MODELS, register


@register(MODELS, "vae")
class VAE(Autoencoder):
    """Encoder gives the mean and log-variance of q(z|x) = N(mu, diag(sigma^2)); the prior is
    p(z) = N(0, I); the loss is the negative ELBO

        rec + kl_weight * beta * sum_j max(KL_j, free_bits)

    with a single reparameterized sample z = mu + sigma * eps per example.

    Examples
    --------
    >>> model = vaelab.build_model(ModelConfig(latent_dim=8), data)
    >>> losses = model.loss(x)          # x: (B, *shape) in data units
    >>> losses.total.backward()
    >>> model.sample(16).shape          # (16, *shape) in data units
    """

    code_params = 2

    def encode(self, x: Tensor, y: Tensor | None = None) -> DiagonalGaussian:
        """q(z|x) for ``x`` (B, *shape) in data units; mean and log-variance are (B, Z)."""
        h = self.run(self.encoder, self.scaler.network_input(x), y)
        mean, logvar = h.chunk(2, dim=-1)
        limit = self.config.logvar_limit
        return DiagonalGaussian(mean, logvar.clamp(-limit, limit))

    def embed(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        return self.encode(x, y).mean

    def loss(self, x: Tensor, y: Tensor | None = None, kl_weight: float = 1.0) -> Losses:
        x = self.prepare(x)
        q = self.encode(self.training_input(x), y)
        z = q.sample()[None]  # (1, B, Z): one reparameterized code per example
        terms = elbo_terms(q, z, self.log_prob_at(z, x, y))
        rec = terms.rec.mean()
        kl_per_dim = terms.kl_per_dim.mean(dim=0)  # (Z,) batch averages, what free bits act on
        penalty = free_bits(kl_per_dim, self.config.free_bits)
        total = rec + (kl_weight * self.config.beta) * penalty
        return Losses(total=total, rec=rec, kl=kl_per_dim.sum())

    @torch.no_grad()
    def sample(self, n: int, y: Tensor | None = None,
               generator: torch.Generator | None = None) -> Tensor:
        """Decode ``n`` draws z ~ N(0, I): the means of p(x|z, y), (n, *shape), in data units;
        a conditional model needs ``y`` for the n samples."""
        z = torch.randn(n, self.config.latent_dim, generator=generator, device=self.device)
        return self.decode(z, y).mean
