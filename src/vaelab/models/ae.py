"""Deterministic autoencoder: a bottleneck trained on reconstruction alone."""

from __future__ import annotations

import torch
from torch import Tensor

from vaelab.models.base import Autoencoder, Losses
from vaelab.registry import MODELS, register


@register(MODELS, "ae")
class AE(Autoencoder):
    """x -> code z (B, Z) -> p(x|z); the loss is -log p(x|z), the reconstruction term alone.

    An AE has no prior over its codes, so it cannot generate: :meth:`sample` raises and says so.
    Its codes serve for dimensionality reduction (``embed``), reconstruction and anomaly scores.
    """

    code_params = 1
    generative = False
    variational = False

    def encode(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """The code of ``x`` (B, *shape) in data units: (B, Z)."""
        return self.run(self.encoder, self.scaler.network_input(x), y)

    def embed(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        return self.encode(x, y)

    def loss(self, x: Tensor, y: Tensor | None = None, kl_weight: float = 1.0) -> Losses:
        x = self.prepare(x)
        rec = -self.decode(self.encode(self.training_input(x), y), y).log_prob(x).mean()
        return Losses(total=rec, rec=rec, kl=torch.zeros((), device=rec.device))

    def sample(self, n: int, y: Tensor | None = None,
               generator: torch.Generator | None = None) -> Tensor:
        raise ValueError(
            "an AE has no prior over its codes, so it cannot sample new data; train a VAE "
            "(--model vae), or fit a density to its codes with vaelab.latent.fit_gmm"
        )
