"""Codes of many inputs and data from many codes: ``model.embed`` and ``model.decode`` over arrays
of any length, :data:`~vaelab._batching.BATCH` rows at a time on the model's device."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from vaelab._batching import BATCH, Array, map_batches
from vaelab._checks import check_rows
from vaelab.models import Autoencoder


def embed_all(model: Autoencoder, x: Array, y: Array | None = None, batch_size: int = BATCH) -> Tensor:
    """Deterministic codes of inputs ``x`` (N, *shape) with labels or conditions ``y``: (N, Z) on the
    model's device."""
    x = check_rows(x, model.config.input_shape)
    return map_batches(model.embed, x, y, device=model.device, batch_size=batch_size, dtype=model.dtype,
                       empty=(model.config.latent_dim,))


def decode_all(model: Autoencoder, z: Array, y: Array | None = None, batch_size: int = BATCH) -> Tensor:
    """Means of p(x|z, y) for codes ``z`` (N, Z), in data units: (N, *shape) on the model's device."""
    def mean(zb: Tensor, yb: Tensor | None = None) -> Tensor:
        return model.decode(zb, yb).mean

    return map_batches(mean, z, y, device=model.device, batch_size=batch_size, dtype=model.dtype)


def draw_all(model: Autoencoder, z: Array, y: Array | None, token_temperature: float,
             generator: torch.Generator | None, batch_size: int = BATCH) -> Tensor:
    """Draws from p(x|z, y) for codes ``z`` (N, Z) of a token model, each token from the softmax at
    ``token_temperature`` (0: greedy): (N, *shape)."""
    def draw(zb: Tensor, yb: Tensor | None = None) -> Tensor:
        return model.decode(zb, yb).sample(generator, temperature=token_temperature)

    return map_batches(draw, z, y, device=model.device, batch_size=batch_size, dtype=model.dtype)


def reconstruct_all(model: Autoencoder, x: Array, y: Array | None = None, batch_size: int = BATCH) -> Tensor:
    """``model.reconstruct`` of inputs ``x`` (N, *shape) with labels or conditions ``y``: (N, *shape)
    in data units, on the model's device."""
    x = check_rows(x, model.config.input_shape)
    return map_batches(model.reconstruct, x, y, device=model.device, batch_size=batch_size, dtype=model.dtype)


def codes(model: Autoencoder, x: Array, y: Array | None = None, batch_size: int = BATCH) -> np.ndarray:
    """Codes ``model.embed(x)`` of inputs ``x`` (N, *shape) with labels ``y`` (N,) or None, computed
    ``batch_size`` rows at a time: float32 (N, Z).

    >>> codes(model, data.x_train).shape
    (1437, 8)
    """
    return embed_all(model, x, y, batch_size).float().cpu().numpy()
