"""The latent space: codes, sampling, interpolation, attribute vectors, traversals, post-hoc samplers.

Functions take a model and inputs in the data's own units, (N, *shape) numpy arrays or tensors, and
give decoded data back in those units. Codes are ``model.embed`` (posterior means for a VAE). Random
draws come from a ``torch.Generator`` (CPU unless the generator lives elsewhere), so results are
reproducible and independent of the model's device. Big inputs are embedded and decoded in batches.

>>> gmm = latent.fit_gmm(model, data.x_train)                  # works for an AE too
>>> x = latent.sample(model, 16, sampler=gmm, generator=torch.Generator().manual_seed(0))
>>> frames, z = latent.interpolate(model, data.x_test[0], data.x_test[1], steps=8)
"""


from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple

import numpy as np
import torch
from torch import Tensor

from vaelab.distributions import DiagonalGaussian, check_token_temperature
from vaelab.inference import (
    BATCH, Array, as_tensor, check_int, check_temperature, codes, decode_batched, draw_batched,
    embed_batched, one_input, randn, rows,
)
from vaelab.metrics import active_units, kl_per_dimension
from vaelab.models import Autoencoder
from vaelab.registry import lookup
from vaelab.samplers import GMMSampler, fit_gmm

__all__ = [
    "GMMSampler", "Interpolation", "Neighbours", "Traversal", "active_units", "apply_vector",
    "attribute_vector", "codes", "fit_gmm", "interpolate", "kl_per_dimension", "label_attribute",
    "lerp", "nearest_training_examples", "restyle", "sample", "slerp", "traverse",
]



@torch.no_grad()
def sample(model: Autoencoder, n: int, temperature: float = 1.0, generator: torch.Generator | None = None,
           sampler: Literal["prior"] | GMMSampler = "prior", y: Array | None = None,
           batch_size: int = BATCH, token_temperature: float | None = None) -> Tensor:
    """Decode ``n`` new codes: (n, *shape), means of p(x|z, y) in data units.

    For note tokens the "mean" is greedy decoding, which an autoregressive decoder turns into long
    held notes; ``token_temperature`` instead draws each token from the softmax at that temperature
    (MusicVAE samples at 0.5; 0 is greedy). It applies to token models (music) only.

    ``sampler="prior"`` draws z ~ N(0, temperature^2 I), the VAE's prior; a :class:`GMMSampler`
    draws from its mixture with each component's spread scaled by ``temperature`` > 0. Below 1,
    samples are more typical and less diverse (reduced-temperature sampling, Kingma & Dhariwal 2018).
    A conditional model needs ``y``, the labels (n,) or conditions (n, A) of the n samples.

    >>> sample(vae, 16, temperature=0.7, generator=torch.Generator().manual_seed(0)).shape
    torch.Size([16, 1, 8, 8])
    """
    check_int(n, "n", 1)
    check_temperature(temperature)
    z_dim = model.config.latent_dim
    if isinstance(sampler, GMMSampler):
        if sampler.latent_dim != z_dim:
            raise ValueError(f"the GMM sampler draws codes of size {sampler.latent_dim}; the model's "
                             f"latent_dim is {z_dim}")
        z = sampler.sample(n, temperature, generator)
    elif isinstance(sampler, str) and sampler == "prior":
        if not model.generative:
            raise ValueError("an AE has no prior over its codes, so sampler='prior' is not allowed; "
                             "fit a GMM sampler with fit_gmm(model, x_train) and pass sampler=it")
        z = temperature * randn(n, z_dim, generator, torch.float32)  # (n, Z)
    else:
        raise ValueError(f"sampler={sampler!r} is not allowed; use 'prior' or a GMMSampler from fit_gmm")
    y_t = None
    if y is not None:
        y_t = torch.as_tensor(np.asarray(y) if not isinstance(y, Tensor) else y, device=model.device)
        if len(y_t) != n:
            raise ValueError(f"y has {len(y_t)} rows; give one label or condition row per sample ({n})")
    if token_temperature is None:
        return decode_batched(model, z, y_t, batch_size=batch_size)
    if model.config.likelihood != "categorical":
        raise ValueError(f"token_temperature applies to token models (music); this model's likelihood is "
                         f"{model.config.likelihood!r}")
    return draw_batched(model, z, y_t, check_token_temperature(token_temperature), generator, batch_size)


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
    z = embed_batched(model, rows(model, x, "x"), np.asarray(y), batch_size)  # (N, Z)
    out = [decode_batched(model, z, torch.full((len(z),), int(k), device=model.device), batch_size)
           for k in labels]
    return torch.stack(out, dim=1)  # (N, L, *shape)


# -- interpolation -----------------------------------------------------------------------------


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
    path = lookup(INTERPOLATIONS, method, "interpolation method")
    if y is not None:
        y = torch.as_tensor(y, device=model.device)
        y = y.reshape(1, *y.shape[1:])  # (1, ...): one example's condition
    za, zb = (_endpoint(model, e, y, name) for e, name in ((a, "a"), (b, "b")))
    z = path(za, zb, torch.linspace(0.0, 1.0, steps, dtype=torch.float64))  # (steps, Z)
    z[0], z[-1] = za, zb  # exact endpoints, whatever the path's rounding
    return Interpolation(decode_batched(model, z, None if y is None else y.expand(steps, *y.shape[1:])), z)


def _endpoint(model: Autoencoder, e: Array, y: Tensor | None, name: str) -> Tensor:
    """The code (Z,) of an endpoint given as a code or as one input."""
    e, z_dim = as_tensor(e, model.device), model.config.latent_dim
    if e.shape == (z_dim,):
        return e
    return model.embed(one_input(model, e, name, f", or a code of shape ({z_dim},)"), y)[0]


# -- attribute vectors -------------------------------------------------------------------------


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
        x = rows(model, x, name)
        if len(x) == 0:
            raise ValueError(f"{name} has 0 rows; it needs at least 1 to average codes over")
        means.append(embed_batched(model, x, batch_size=batch_size).cpu().double().mean(0))
    return (means[0] - means[1]).float().to(model.device)


def label_attribute(model: Autoencoder, x: Array, y: Array, label: int, versus: int | None = None,
                    batch_size: int = BATCH) -> Tensor:
    """Attribute vector (Z,) of the rows of ``x`` (N, *shape) whose label ``y`` (N,) is ``label``,
    against the rows labelled ``versus``, or all other rows when ``versus`` is None.

    >>> one_to_seven = label_attribute(model, data.x_train, data.y_train, label=7, versus=1)
    """
    x = rows(model, x, "x")
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
    x, v = rows(model, x, "x"), as_tensor(v, model.device)
    if v.shape != (model.config.latent_dim,):
        raise ValueError(f"v has shape {tuple(v.shape)}; allowed: ({model.config.latent_dim},), one "
                         "latent vector")
    s = as_tensor(list(strengths), model.device)
    if s.ndim != 1 or len(s) == 0:
        raise ValueError(f"strengths={strengths!r} is not allowed; give a non-empty list of numbers")
    z = embed_batched(model, x, batch_size=batch_size)[:, None, :] + s[None, :, None] * v  # (N, S, Z)
    out = decode_batched(model, z.reshape(-1, z.shape[-1]), batch_size=batch_size)  # (N * S, *shape)
    return out.reshape(len(x), len(s), *out.shape[1:])


# -- traversals and how the latent dimensions are used ----------------------------------------


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
        y_t = torch.as_tensor(np.asarray(y) if not isinstance(y, Tensor) else y, device=model.device)
        y_t = y_t.reshape(1, *y_t.shape[1:]) if y_t.ndim else y_t.reshape(1)
    z0 = model.embed(one_input(model, x, "x"), y_t)[0]  # (Z,)
    values = torch.linspace(-3.0, 3.0, 7) if values is None else as_tensor(values, torch.device("cpu"))
    if values.ndim != 1 or len(values) == 0:
        raise ValueError(f"values has shape {tuple(values.shape)}; allowed: (V,) with V >= 1")
    if dims is None:
        check_int(n_dims, "n_dims", 1)
        dims = list(range(min(n_dims, z_dim)))
        if reference is not None:
            usage = _usage(model, reference, batch_size, reference_y)
            dims = np.argsort(-usage, kind="stable")[:len(dims)]
    dims = [int(d) for d in dims]
    if not dims or not all(0 <= d < z_dim for d in dims):
        raise ValueError(f"dims={dims} is not allowed; give at least one latent dimension in 0..{z_dim - 1}")
    z = z0.repeat(len(dims), len(values), 1)  # (D, V, Z)
    for i, d in enumerate(dims):
        z[i, :, d] = values.to(z)
    n = len(dims) * len(values)
    y_all = None if y_t is None else y_t.expand(n, *y_t.shape[1:])
    out = decode_batched(model, z.reshape(-1, z_dim), y_all, batch_size=batch_size)  # (D * V, *shape)
    return Traversal(out.reshape(len(dims), len(values), *out.shape[1:]), dims, values, z)


def _usage(model: Autoencoder, x: Array, batch_size: int, y: Array | None = None) -> np.ndarray:
    """How much each latent dimension is used on ``x``: mean KL (VAE) or code variance (AE): (Z,)."""
    x = rows(model, x, "reference")
    y1 = None if y is None else torch.as_tensor(np.asarray(y[:1]), device=model.device)
    if isinstance(model.encode(as_tensor(x[:1], model.device), y1), DiagonalGaussian):
        return kl_per_dimension(model, x, batch_size, y=y)
    return embed_batched(model, x, y, batch_size).cpu().double().var(0, unbiased=False).numpy()


# -- memorization check ------------------------------------------------------------------------


class Neighbours(NamedTuple):
    """indices : (n, k) int64 rows of the training data, nearest first; distances : (n, k)."""

    indices: np.ndarray
    distances: np.ndarray


SPACES = ("data", "latent")


def nearest_training_examples(model: Autoencoder, queries: Array, train_x: Array, k: int = 3,
                              space: str = "data", batch_size: int = BATCH) -> Neighbours:
    """The ``k`` (1 to N) rows of ``train_x`` (N, *shape) nearest to each of ``queries`` (n, *shape),
    e.g. generated samples, by Euclidean distance in data space (flattened) or in latent space
    (codes), using scikit-learn's ``NearestNeighbors``. A sample at distance ~0 is a copy.

    >>> idx, dist = nearest_training_examples(model, sample(model, 16), data.x_train, k=3)
    """
    queries, train_x = rows(model, queries, "queries"), rows(model, train_x, "train_x")
    if space not in SPACES:
        raise ValueError(f"space={space!r} is not allowed; choose from: {', '.join(SPACES)}")
    check_int(k, "k", 1, len(train_x), " (the number of rows of train_x)")
    from sklearn.neighbors import NearestNeighbors  # imported here: slow to import, rarely needed

    def points(a: Array) -> np.ndarray:  # (rows, features) for the index
        if space == "latent":
            return codes(model, a, batch_size=batch_size)
        a = a.detach().cpu().numpy() if isinstance(a, Tensor) else a
        return a.reshape(len(a), -1)

    distances, indices = NearestNeighbors(n_neighbors=k).fit(points(train_x)).kneighbors(points(queries))
    return Neighbours(indices.astype(np.int64), distances)
