"""Pure functions for the terms of the objectives and their schedules.

Variants of the VAE objective (beta, free bits, KL warm-up) are values passed to these functions,
never model subclasses.
"""

from __future__ import annotations

import math

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


def iwae_bound(log_weights: Tensor) -> Tensor:
    """The importance-weighted bound log (1/K) sum_k w_k from K log-weights per example.

    Burda et al. 2016 ("Importance weighted autoencoders", eq. 8): with
    log w_k = log p(x, z_k) - log q(z_k|x) and z_k ~ q(z|x), the bound is <= log p(x), equals the
    ELBO in expectation for K = 1, and does not decrease as K grows. Computed as a log-sum-exp, so it
    is exact for log-weights of any magnitude.

    Parameters
    ----------
    log_weights : (K, B) tensor, K importance samples for each of B examples.

    Returns
    -------
    (B,) tensor in nats.

    >>> iwae_bound(torch.zeros(10, 3))
    tensor([0., 0., 0.])
    """
    return torch.logsumexp(log_weights, dim=0) - math.log(log_weights.shape[0])
