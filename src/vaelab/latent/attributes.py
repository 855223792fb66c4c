"""Latent arithmetic: attribute vectors (mean code with an attribute minus without), shifting codes
along them, and restyling with a label-conditioned model."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from vaelab._batching import BATCH, Array, as_tensor
from vaelab._checks import check_rows
from vaelab.latent.codes import decode_all, embed_all
from vaelab.models import Autoencoder


@torch.no_grad()
def restyle(model: Autoencoder, x: Array, y: Array, labels: Sequence[int],
            batch_size: int = BATCH) -> Tensor:
    """Style transfer with a label-conditioned model (Sohn et al. 2015; Kingma et al. 2014, fig. 4):
    encode each input with its own label, keep its code z (the style: slant, thickness, ...) and
    decode it with each of ``labels``.

    Parameters
    ----------
    x : (N, *shape) inputs in data units; y : (N,) their labels.
    labels : the L labels to decode every code with.

    Returns
    -------
    (N, L, *shape) tensor in data units: row i is input i redrawn as each label.

    >>> restyle(cvae, data.x_test[:3], data.y_test[:3], labels=range(10)).shape
    torch.Size([3, 10, 1, 8, 8])
    """
    if not model.conditional or model.config.condition != "label":
        raise ValueError(f"restyle needs a model conditioned on class labels (cvae on labeled data); "
                         f"this {type(model).__name__} is not")
    labels = list(labels)
    if not labels:
        raise ValueError("labels is empty; give at least one label to decode with")
    z = embed_all(model, check_rows(x, model.config.input_shape, "x"), np.asarray(y), batch_size)  # (N, Z)
    out = [decode_all(model, z, torch.full((len(z),), int(k), device=model.device), batch_size)
           for k in labels]
    return torch.stack(out, dim=1)  # (N, L, *shape)


@torch.no_grad()
def attribute_vector(model: Autoencoder, with_attr: Array, without_attr: Array,
                     batch_size: int = BATCH) -> Tensor:
    """Mean code of inputs with an attribute, (N1, *shape), minus the mean code of inputs without
    it, (N2, *shape), N1, N2 >= 1: (Z,). Adding it to a code adds the attribute (latent arithmetic,
    White 2016, sec. 2.3; Larsen et al. 2016, sec. 5.1).

    >>> zero = attribute_vector(model, x[y == 0], x[y != 0])   # x: digits (N, 1, 8, 8)
    >>> apply_vector(model, x[:4], zero).shape
    torch.Size([4, 5, 1, 8, 8])
    """
    means = []
    for x, name in ((with_attr, "with_attr"), (without_attr, "without_attr")):
        x = check_rows(x, model.config.input_shape, name)
        if len(x) == 0:
            raise ValueError(f"{name} has 0 rows; it needs at least 1 to average codes over")
        means.append(embed_all(model, x, batch_size=batch_size).cpu().double().mean(0))
    return (means[0] - means[1]).float().to(model.device)


def label_attribute(model: Autoencoder, x: Array, y: Array, label: int, versus: int | None = None,
                    batch_size: int = BATCH) -> Tensor:
    """Attribute vector (Z,) of the rows of ``x`` (N, *shape) whose label ``y`` (N,) is ``label``,
    against the rows labelled ``versus``, or all other rows when ``versus`` is None.

    >>> one_to_seven = label_attribute(model, data.x_train, data.y_train, label=7, versus=1)
    """
    x = check_rows(x, model.config.input_shape, "x")
    y = np.asarray(y.cpu() if isinstance(y, Tensor) else y)
    if y.shape != (len(x),):
        raise ValueError(f"y has shape {y.shape}; allowed: ({len(x)},), one label per row of x")
    present = np.unique(y)
    for name, value in (("label", label), ("versus", versus)):
        if value is not None and value not in present:
            raise ValueError(f"{name}={value!r} is not among the labels present: "
                             f"{', '.join(map(str, present.tolist()))}")
    if versus == label:
        raise ValueError(f"versus={versus!r} equals label; compare with another label or None (the rest)")
    other = y != label if versus is None else y == versus
    return attribute_vector(model, x[y == label], x[other], batch_size)


@torch.no_grad()
def apply_vector(model: Autoencoder, x: Array, v: Array, strengths: Sequence[float] = (-2, -1, 0, 1, 2),
                 batch_size: int = BATCH) -> Tensor:
    """Decode embed(x) + s * v for inputs ``x`` (N, *shape), a latent vector ``v`` (Z,) and each of
    the S >= 1 ``strengths``: (N, S, *shape) in data units. Strength 0 is the reconstruction.

    >>> apply_vector(model, data.x_test[:4], one_to_seven, strengths=(0, 1, 2)).shape
    torch.Size([4, 3, 1, 8, 8])
    """
    x, v = check_rows(x, model.config.input_shape, "x"), as_tensor(v, model.device)
    if v.shape != (model.config.latent_dim,):
        raise ValueError(f"v has shape {tuple(v.shape)}; allowed: ({model.config.latent_dim},), one "
                         "latent vector")
    s = as_tensor(list(strengths), model.device)
    if s.ndim != 1 or len(s) == 0:
        raise ValueError(f"strengths={strengths!r} is not allowed; give a non-empty list of numbers")
    z = embed_all(model, x, batch_size=batch_size)[:, None, :] + s[None, :, None] * v  # (N, S, Z)
    out = decode_all(model, z.reshape(-1, z.shape[-1]), batch_size=batch_size)  # (N * S, *shape)
    return out.reshape(len(x), len(s), *out.shape[1:])  # (N * S, *shape) -> (N, S, *shape)
