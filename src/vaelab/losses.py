"""Pure functions for the terms of the objectives and their schedules.

Variants of the VAE objective (beta, free bits, KL warm-up) are values passed to these functions,
never model subclasses.
"""

from __future__ import annotations

import torch
from torch import Tensor


def free_bits(kl_per_dim: Tensor, nats: float) -> Tensor:
    """Sum over latent dimensions of max(KL_j, nats), KL_j averaged over the batch.

    Free bits (Kingma et al. 2016, "Improved variational inference with inverse autoregressive
    flow", eq. 15): a dimension whose batch-average KL is below ``nats`` gets no gradient pushing it
    further towards the prior, which counters posterior collapse.

    Parameters
    ----------
    kl_per_dim : (Z,) batch-averaged KL of each latent dimension.
    nats : the floor; 0 gives the plain sum.
    """
    if nats <= 0:
        return kl_per_dim.sum()
    return torch.clamp(kl_per_dim, min=nats).sum()


def linear_warmup(step: int, warmup_steps: int) -> float:
    """KL weight rising linearly from 0 at step 0 to 1 at ``warmup_steps`` (Bowman et al. 2016,
    sec. 3.1; Sønderby et al. 2016). With ``warmup_steps == 0`` the weight is always 1."""
    if warmup_steps <= 0:
        return 1.0
    return min(1.0, step / warmup_steps)
