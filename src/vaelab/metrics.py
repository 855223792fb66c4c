"""Measurements of a trained model. So far the health of the latent space: KL per dimension and
active units (Burda et al. 2016).
"""

from __future__ import annotations

import numpy as np
import torch

from vaelab.distributions import DiagonalGaussian
from vaelab.inference import BATCH, Array, check_int, embed_batched, rows, as_tensor
from vaelab.models import Autoencoder


@torch.no_grad()
def kl_per_dimension(model: Autoencoder, x: Array, batch_size: int = BATCH) -> np.ndarray:
    """Mean over inputs ``x`` (N, *shape) of KL(q(z_j|x) || N(0, 1)) for each latent dimension j,
    in nats: float64 (Z,). Dimensions near 0 are unused (posterior collapse). VAE only.

    >>> kl_per_dimension(vae, data.x_test).shape
    (8,)
    """
    x = rows(model, x, "x")
    check_int(batch_size, "batch_size", 1)
    if len(x) == 0:
        raise ValueError("x has 0 rows; it needs at least 1")
    total = torch.zeros(model.config.latent_dim, dtype=torch.float64)  # on the CPU: MPS has no float64
    for i in range(0, len(x), batch_size):
        q = model.encode(as_tensor(x[i:i + batch_size], model.device))
        if not isinstance(q, DiagonalGaussian):
            raise ValueError(f"{type(model).__name__} has no posterior q(z|x) (its encoder gives codes), "
                             "so it has no KL per dimension; use a VAE")
        total += q.kl().sum(0).cpu().double()  # closed form, Kingma & Welling 2014, App. B
    return (total / len(x)).numpy()


@torch.no_grad()
def active_units(model: Autoencoder, x: Array, threshold: float = 0.01, batch_size: int = BATCH) -> int:
    """Number of active latent units on inputs ``x`` (N >= 2 rows): unit u is active when
    Cov_x(E_q[z_u | x]) > threshold, the variance over x of its posterior mean (Burda et al. 2016,
    sec. 5.2). For an AE the codes are used, and the threshold depends on their arbitrary scale.

    >>> n_active = active_units(vae, data.x_test)        # an int from 0 to Z
    """
    x = rows(model, x, "x")
    if len(x) < 2:
        raise ValueError(f"x has {len(x)} row(s); at least 2 are needed for a variance")
    if not (isinstance(threshold, int | float) and threshold >= 0):
        raise ValueError(f"threshold={threshold!r} is not allowed; it must be a number >= 0")
    variance = embed_batched(model, x, batch_size=batch_size).cpu().double().var(0, unbiased=False)  # (Z,)
    return int((variance > threshold).sum())

