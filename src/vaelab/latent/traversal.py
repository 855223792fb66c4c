"""Traversals: one latent dimension at a time of one input's code, the most used dimensions first."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from vaelab._batching import BATCH, Array, as_tensor, labels_tensor
from vaelab._checks import check_int, check_one, check_rows
from vaelab.latent.codes import decode_all
from vaelab.latent.usage import usage
from vaelab.models import Autoencoder


@dataclass(frozen=True)
class Traversal:
    """images : (D, V, *shape) decoded, in data units; row i varies latent dimension ``dims[i]``
    over ``values`` (V,), in prior units; codes : (D, V, Z), the codes decoded."""

    images: Tensor
    dims: list[int]
    values: Tensor
    codes: Tensor


@torch.no_grad()
def traverse(model: Autoencoder, x: Array, dims: Sequence[int] | None = None, values: Array | None = None,
             n_dims: int = 5, reference: Array | None = None, batch_size: int = BATCH, *,
             y: Array | None = None, reference_y: Array | None = None) -> Traversal:
    """Set one coordinate at a time of the code of one input ``x``, (*shape) or (1, *shape), to each
    of ``values`` (V,), default ``torch.linspace(-3, 3, 7)``, and decode.

    ``dims`` defaults to the ``n_dims`` most used dimensions on ``reference`` (N, *shape): highest
    mean KL (:func:`kl_per_dimension`) for a VAE, highest code variance for an AE; without a
    reference, 0 .. n_dims - 1. A conditional model needs ``x``'s condition ``y`` (1,) or (1, A),
    used to embed and to decode, and ``reference_y`` for the reference rows.

    >>> t = traverse(vae, data.x_test[0], reference=data.x_test)
    >>> t.images.shape, len(t.dims)
    (torch.Size([5, 7, 1, 8, 8]), 5)
    """
    z_dim = model.config.latent_dim
    y_t = None
    if y is not None:  # one example's label (1,) or conditions (1, A)
        y_t = labels_tensor(y, model.device)
        y_t = y_t.reshape(1, *y_t.shape[1:]) if y_t.ndim else y_t.reshape(1)
    z0 = model.embed(check_one(as_tensor(x, model.device), model.config.input_shape, "x"), y_t)[0]  # (Z,)
    values = torch.linspace(-3.0, 3.0, 7) if values is None else as_tensor(values, torch.device("cpu"))
    if values.ndim != 1 or len(values) == 0:
        raise ValueError(f"values has shape {tuple(values.shape)}; allowed: (V,) with V >= 1")
    if dims is None:
        check_int(n_dims, "n_dims", 1)
        dims = list(range(min(n_dims, z_dim)))
        if reference is not None:
            reference = check_rows(reference, model.config.input_shape, "reference")
            used = usage(model, reference, reference_y, batch_size)
            dims = np.argsort(-used, kind="stable")[:len(dims)]
    dims = [int(d) for d in dims]
    if not dims or not all(0 <= d < z_dim for d in dims):
        raise ValueError(f"dims={dims} is not allowed; give at least one latent dimension in 0..{z_dim - 1}")
    z = z0.repeat(len(dims), len(values), 1)  # (D, V, Z)
    for i, d in enumerate(dims):
        z[i, :, d] = values.to(z)
    n = len(dims) * len(values)
    y_all = None if y_t is None else y_t.expand(n, *y_t.shape[1:])
    out = decode_all(model, z.reshape(-1, z_dim), y_all, batch_size=batch_size)  # (D * V, *shape)
    return Traversal(out.reshape(len(dims), len(values), *out.shape[1:]), dims, values, z)  # (D, V, *shape)
