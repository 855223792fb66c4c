"""Paths in latent space: linear and spherical interpolation between two codes, decoded."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch
from torch import Tensor

from vaelab._batching import Array, as_tensor
from vaelab._checks import check_int, check_one
from vaelab.latent.codes import decode_all
from vaelab.models import Autoencoder
from vaelab.registry import lookup


def lerp(a: Tensor, b: Tensor, t: Tensor) -> Tensor:
    """The straight line (1 - t) a + t b between codes ``a``, ``b`` (Z,) at fractions ``t`` (T,): (T, Z)."""
    t = t.cpu().double()[:, None]  # float64 on the CPU: exact enough, and MPS has no float64
    return ((1 - t) * a.cpu().double() + t * b.cpu().double()).to(a.device, a.dtype)


def slerp(a: Tensor, b: Tensor, t: Tensor, eps: float = 1e-6) -> Tensor:
    """Spherical interpolation (Shoemake 1985) between codes ``a``, ``b`` (Z,) at ``t`` (T,): (T, Z).

    The direction moves along the great circle from a/|a| to b/|b| at constant angular speed and
    the norm goes linearly from |a| to |b|: prior samples in many dimensions lie near a sphere,
    which a straight line cuts through (White 2016, "Sampling generative networks", sec. 2.1).
    Parallel or opposite codes (no unique great circle) and zero codes fall back to :func:`lerp`.
    """
    a64, b64, t = a.cpu().double(), b.cpu().double(), t.cpu().double()[:, None]
    na, nb = a64.norm(), b64.norm()
    if min(na, nb) < eps:
        return lerp(a, b, t[:, 0])
    omega = torch.arccos(((a64 / na) @ (b64 / nb)).clamp(-1.0, 1.0))  # angle between a and b
    if torch.sin(omega) < eps:
        return lerp(a, b, t[:, 0])
    direction = (torch.sin((1 - t) * omega) * a64 / na + torch.sin(t * omega) * b64 / nb) / torch.sin(omega)
    return (((1 - t) * na + t * nb) * direction).to(a.device, a.dtype)


INTERPOLATIONS: dict[str, Callable[[Tensor, Tensor, Tensor], Tensor]] = {"lerp": lerp, "slerp": slerp}


class Interpolation(NamedTuple):
    """decoded : (steps, *shape) in data units; codes : (steps, Z), endpoints included."""

    decoded: Tensor
    codes: Tensor


@torch.no_grad()
def interpolate(model: Autoencoder, a: Array, b: Array, steps: int = 8, method: str = "slerp",
                y: Array | None = None) -> Interpolation:
    """Walk from ``a`` to ``b`` in latent space in ``steps`` >= 2 points, endpoints included, by
    ``method`` ``"slerp"`` (:func:`slerp`) or ``"lerp"`` (:func:`lerp`), and decode every point.

    ``a`` and ``b`` are each one input, (*shape) or (1, *shape), which is embedded, or a code (Z,);
    a 1-D array of length Z counts as a code (give a table row as (1, D) when D == Z). ``y`` is one
    example's condition, (1,) or (1, ...), used to embed and to decode. ``codes[0]`` and
    ``codes[-1]`` are the endpoints' codes exactly.

    >>> frames, z = interpolate(model, data.x_test[0], data.x_test[1], steps=8)
    >>> frames.shape, z.shape
    (torch.Size([8, 1, 8, 8]), torch.Size([8, 8]))
    """
    check_int(steps, "steps", 2, what=" (the endpoints are included)")
    path = lookup(INTERPOLATIONS, method, "method")
    if y is not None:
        y = torch.as_tensor(y, device=model.device)
        y = y.reshape(1, *y.shape[1:])  # (1, ...): one example's condition
    za, zb = (_endpoint(model, e, y, name) for e, name in ((a, "a"), (b, "b")))
    z = path(za, zb, torch.linspace(0.0, 1.0, steps, dtype=torch.float64))  # (steps, Z)
    z[0], z[-1] = za, zb  # exact endpoints, whatever the path's rounding
    return Interpolation(decode_all(model, z, None if y is None else y.expand(steps, *y.shape[1:])), z)


def _endpoint(model: Autoencoder, e: Array, y: Tensor | None, name: str) -> Tensor:
    """The code (Z,) of an endpoint given as a code or as one input."""
    e, z_dim = as_tensor(e, model.device), model.config.latent_dim
    if e.shape == (z_dim,):
        return e
    return model.embed(check_one(e, model.config.input_shape, name, f", or a code of shape ({z_dim},)"), y)[0]
