"""How a model uses its latent dimensions: the KL of each dimension and the number of active units."""

from __future__ import annotations

import numpy as np
import torch

from vaelab._batching import BATCH, Array, batches
from vaelab._checks import check_labels, check_number, check_rows
from vaelab.latent.codes import embed_all
from vaelab.models import Autoencoder


@torch.no_grad()
def kl_per_dimension(model: Autoencoder, x: Array, batch_size: int = BATCH, *,
                     y: Array | None = None) -> np.ndarray:
    """Mean over inputs ``x`` (N, *shape) of KL(q(z_j|x) || N(0, 1)) for each latent dimension j,
    in nats: float64 (Z,). Dimensions near 0 are unused (posterior collapse). VAE only; a
    conditional model needs the labels or conditions ``y``.

    >>> kl_per_dimension(vae, data.x_test).shape
    (8,)
    """
    x = check_rows(x, model.config.input_shape)
    if len(x) == 0:
        raise ValueError("x has 0 rows; it needs at least 1")
    check_labels(y, len(x))
    total = torch.zeros(model.config.latent_dim, dtype=torch.float64)  # on the CPU: MPS has no float64
    for xb, yb in batches(x, y, device=model.device, batch_size=batch_size, dtype=model.dtype):
        total += model.posterior(xb, yb, "KL per dimension").kl().sum(0).cpu().double()
    return (total / len(x)).numpy()


@torch.no_grad()
def active_units(model: Autoencoder, x: Array, threshold: float = 0.01, batch_size: int = BATCH, *,
                 y: Array | None = None) -> int:
    """Number of active latent units on inputs ``x`` (N >= 2 rows): unit u is active when
    Cov_x(E_q[z_u | x]) > threshold, the variance over x of its posterior mean (Burda et al. 2016,
    sec. 5.2). For an AE the codes are used, and the threshold depends on their arbitrary scale.
    A conditional model needs the labels or conditions ``y``.

    >>> n_active = active_units(vae, data.x_test)        # an int from 0 to Z
    """
    x = check_rows(x, model.config.input_shape)
    if len(x) < 2:
        raise ValueError(f"x has {len(x)} row(s); at least 2 are needed for a variance")
    check_number(threshold, "threshold", low=0.0)
    check_labels(y, len(x))
    variance = embed_all(model, x, y, batch_size).cpu().double().var(0, unbiased=False)  # (Z,)
    return int((variance > threshold).sum())


def usage(model: Autoencoder, x: Array, y: Array | None = None, batch_size: int = BATCH) -> np.ndarray:
    """How much each latent dimension is used on ``x``: its mean KL for a model with a posterior,
    the variance of its codes otherwise (an AE): float64 (Z,)."""
    if model.variational:
        return kl_per_dimension(model, x, batch_size, y=y)
    return embed_all(model, x, y, batch_size).cpu().double().var(0, unbiased=False).numpy()
