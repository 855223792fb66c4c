"""Batched, checked inference over arrays: the plumbing shared by the latent-space toolkit,
the post-hoc samplers and the metrics.

Inputs are (N, *input_shape) numpy arrays or tensors in the data's own units; they are checked
once, then embedded or decoded ``batch_size`` rows at a time on the model's device.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from vaelab.models import Autoencoder


Array = np.ndarray | Tensor
BATCH = 1024


# -- validation and batching -------------------------------------------------------------------


def check_int(value: object, name: str, low: int, high: int | None = None, what: str = "") -> None:
    ok = isinstance(value, int | np.integer) and not isinstance(value, bool) and value >= low
    if not ok or (high is not None and value > high):
        allowed = f"an integer from {low} to {high}" if high is not None else f"an integer >= {low}"
        raise ValueError(f"{name}={value!r} is not allowed; it must be {allowed}{what}")


def check_temperature(temperature: float) -> None:
    if not (isinstance(temperature, int | float) and math.isfinite(temperature) and temperature > 0):
        raise ValueError(f"temperature={temperature!r} is not allowed; it must be a finite number > 0")


def rows(model: Autoencoder, x: Array, name: str) -> Array:
    """``x`` as an (N, *input_shape) array or tensor; any other shape is an error."""
    x = x if isinstance(x, Tensor) else np.asarray(x, dtype=np.float32)
    shape = tuple(model.config.input_shape)
    if tuple(x.shape[1:]) != shape:
        raise ValueError(f"{name} has shape {tuple(x.shape)}; allowed: (N, {', '.join(map(str, shape))}), "
                         "rows shaped like the model's input")
    return x


def one_input(model: Autoencoder, x: Array, name: str, also: str = "") -> Tensor:
    """One input given as (*shape) or (1, *shape) -> (1, *shape) tensor."""
    x, shape = as_tensor(x, model.device), tuple(model.config.input_shape)
    if tuple(x.shape) not in (shape, (1, *shape)):
        raise ValueError(f"{name} has shape {tuple(x.shape)}; allowed: one input of shape {shape} "
                         f"or {(1, *shape)}{also}")
    return x.reshape(1, *shape)


def as_tensor(x: Array, device: torch.device) -> Tensor:
    x = x if isinstance(x, Tensor) else np.asarray(x)
    return torch.as_tensor(x, dtype=torch.float32, device=device)


def embed_batched(model: Autoencoder, x: Array, y: Array | None = None, batch_size: int = BATCH) -> Tensor:
    """Codes of checked rows ``x`` (N, *shape), ``batch_size`` rows at a time: (N, Z) on the device."""
    check_int(batch_size, "batch_size", 1)
    y = None if y is None else torch.as_tensor(y, device=model.device)
    parts = [model.embed(as_tensor(x[i:i + batch_size], model.device),
                         None if y is None else y[i:i + batch_size]) for i in range(0, len(x), batch_size)]
    return torch.cat(parts) if parts else torch.empty(0, model.config.latent_dim, device=model.device)


def decode_batched(model: Autoencoder, z: Tensor, y: Tensor | None = None, batch_size: int = BATCH) -> Tensor:
    """Means of p(x|z) for codes ``z`` (N, Z), in data units: (N, *shape)."""
    z = z.to(model.device, torch.float32)
    return torch.cat([model.decode(z[i:i + batch_size], None if y is None else y[i:i + batch_size]).mean
                      for i in range(0, len(z), batch_size)])


def draw_batched(model: Autoencoder, z: Tensor, y: Tensor | None, token_temperature: float,
                 generator: torch.Generator | None, batch_size: int = BATCH) -> Tensor:
    """Draws from p(x|z) for codes ``z`` (N, Z) of a token model, each token sampled from the
    softmax at ``token_temperature`` (0: greedy): (N, *shape)."""
    z = z.to(model.device, torch.float32)
    parts = [model.decode(z[i:i + batch_size], None if y is None else y[i:i + batch_size])
             .sample(generator, temperature=token_temperature) for i in range(0, len(z), batch_size)]
    return torch.cat(parts)


def randn(n: int, d: int, generator: torch.Generator | None, dtype: torch.dtype) -> Tensor:
    device = generator.device if generator is not None else torch.device("cpu")
    return torch.randn(n, d, generator=generator, device=device, dtype=dtype)


# -- codes and sampling ------------------------------------------------------------------------


@torch.no_grad()
def codes(model: Autoencoder, x: Array, y: Array | None = None, batch_size: int = BATCH) -> np.ndarray:
    """Codes ``model.embed(x)`` of inputs ``x`` (N, *shape) with labels ``y`` (N,) or None, computed
    ``batch_size`` rows at a time: float32 (N, Z).

    >>> codes(model, data.x_train).shape
    (1437, 8)
    """
    return embed_batched(model, rows(model, x, "x"), y, batch_size).cpu().numpy()

