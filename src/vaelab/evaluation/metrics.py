"""Measurements of a trained model: likelihoods (negative ELBO, the importance-weighted estimate of
log p(x), bits per dimension), the health of the latent space (KL per dimension, active units) and
how much the codes know about labels (a linear probe).

Every likelihood here is in nats per example, summed over the data dimensions, on the data the
model's likelihood is defined for: :func:`prepared` turns grey levels into one fixed Bernoulli draw
for models trained with ``binarize="dynamic"``, the usual test protocol for binarized MNIST-like data.
All random draws come from a seeded generator, so every number is repeatable.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from vaelab.distributions import DiagonalGaussian, standard_normal_log_prob
from vaelab._batching import BATCH, Array, as_tensor, check_int, embed_batched, rows
from vaelab.losses import iwae_bound
from vaelab.models import Autoencoder

#: decoded rows per pass when estimating log p(x): k samples of a few examples at a time, so that
#: k = 5000 fits in memory while each pass stays large enough for fast matrix products.
ROWS_PER_PASS = 8192


def _generator(model: Autoencoder, seed: int) -> torch.Generator:
    check_int(seed, "seed", -(2**63))
    return torch.Generator(device=model.device).manual_seed(seed)


def _posterior(model: Autoencoder, x: Tensor, y: Tensor | None, what: str) -> DiagonalGaussian:
    q = model.encode(x, y)
    if not isinstance(q, DiagonalGaussian):
        raise ValueError(f"{type(model).__name__} has no posterior q(z|x) (its encoder gives codes), "
                         f"so it has no {what}; use a VAE")
    return q


def _labels(model: Autoencoder, y: Array | None, n: int) -> Tensor | None:
    if y is None:
        return None
    y = torch.as_tensor(np.asarray(y) if not isinstance(y, Tensor) else y, device=model.device)
    if y.ndim not in (1, 2) or len(y) != n:
        raise ValueError(f"y has shape {tuple(y.shape)}; allowed: ({n},) labels or ({n}, A) conditions, "
                         "one row per row of x")
    return y


def _nonempty(x: Array) -> None:
    if len(x) == 0:
        raise ValueError("x has 0 rows; it needs at least 1")


def _batches(model: Autoencoder, x: Array, y: Array | None,
             batch_size: int) -> Iterator[tuple[Tensor, Tensor | None]]:
    """Check rows ``x`` (N, *shape) and labels ``y`` (N,) once, then yield them ``batch_size`` rows
    at a time as tensors on the model's device."""
    x = rows(model, x, "x")
    _nonempty(x)
    check_int(batch_size, "batch_size", 1)
    y = _labels(model, y, len(x))
    dtype = model.scaler.shift.dtype  # float32, or float64 for a model made double
    for i in range(0, len(x), batch_size):
        part = x[i:i + batch_size]
        part = np.ascontiguousarray(part) if isinstance(part, np.ndarray) else part  # e.g. x[::-1]
        xb = torch.as_tensor(part, dtype=dtype, device=model.device)
        yield xb, None if y is None else y[i:i + batch_size]


@torch.no_grad()
def prepared(model: Autoencoder, x: Array, seed: int = 0) -> np.ndarray:
    """The data ``x`` (N, *shape) as the model's likelihood sees them, float32 in data units: ``x``
    itself, or for a model trained with ``binarize="dynamic"`` one Bernoulli draw of the pixel
    intensities made with ``seed`` (Salakhutdinov & Murray 2008), fixed so that every metric and
    every run scores the same binary images.

    >>> xb = prepared(model, data.x_test)       # 0 or 255 per pixel for a binarized MNIST model
    """
    x = rows(model, x, "x")
    generator = _generator(model, seed)
    parts = [model.prepare(as_tensor(x[i:i + BATCH], model.device), generator).cpu()
             for i in range(0, len(x), BATCH)]
    return torch.cat(parts).numpy() if parts else np.asarray(x, dtype=np.float32)


def is_exact_likelihood(model: Autoencoder, x: Array) -> bool:
    """Whether ``log p(x|z)`` is a likelihood of ``x`` (N, *shape): always for a Gaussian; for a
    Bernoulli only when every value is an end of the data range (binary pixels). On grey levels
    the Bernoulli term is a cross-entropy, and the 'likelihoods' of this module are not densities."""
    if model.config.likelihood != "bernoulli":
        return True
    u = model.scaler.normalize(as_tensor(rows(model, x, "x"), model.device))
    return bool(((u == 0) | (u == 1)).all())


@dataclass(frozen=True)
class ElboTerms:
    """Per-example terms of the ELBO, float64 arrays (N,) in nats.

    rec : -log p(x|z) at one z ~ q(z|x), the reconstruction term.
    kl : KL(q(z|x) || N(0, I)) in closed form.
    """

    rec: np.ndarray
    kl: np.ndarray

    @property
    def neg_elbo(self) -> np.ndarray:
        """-ELBO = rec + kl, an upper bound on -log p(x) (Kingma & Welling 2014, eq. 3)."""
        return self.rec + self.kl


@torch.no_grad()
def elbo(model: Autoencoder, x: Array, y: Array | None = None, *, seed: int = 0,
         batch_size: int = BATCH) -> ElboTerms:
    """The ELBO's terms for every row of ``x`` (N, *shape), with one reparameterized sample per
    example drawn from a generator seeded with ``seed``. VAE only.

    ``x`` is scored as given; pass :func:`prepared` data for a binarized model.

    >>> terms = elbo(vae, prepared(vae, data.x_test))
    >>> terms.neg_elbo.mean()                    # nats per example
    """
    generator = _generator(model, seed)
    rec, kl = [], []
    for xb, yb in _batches(model, x, y, batch_size):
        q = _posterior(model, xb, yb, "ELBO")
        rec.append(-model.decode(q.sample(generator), yb).log_prob(xb).double().cpu())
        kl.append(q.kl().sum(-1).double().cpu())  # closed form, Kingma & Welling 2014, App. B
    return ElboTerms(torch.cat(rec).numpy(), torch.cat(kl).numpy())


@torch.no_grad()
def reconstruction_error(model: Autoencoder, x: Array, y: Array | None = None, *,
                         batch_size: int = BATCH) -> np.ndarray:
    """-log p(x | z) at the deterministic code z = embed(x) (the AE's code, the VAE's posterior
    mean) for every row of ``x`` (N, *shape): float64 (N,) in nats. Works for every model."""
    return torch.cat([-model.decode(model.embed(xb, yb), yb).log_prob(xb).double().cpu()
                      for xb, yb in _batches(model, x, y, batch_size)]).numpy()


@torch.no_grad()
def log_likelihood(model: Autoencoder, x: Array, y: Array | None = None, *, k: int = 1000,
                   seed: int = 0, rows_per_pass: int = ROWS_PER_PASS,
                   progress: bool = False) -> np.ndarray:
    """Importance-weighted estimate of log p(x) for every row of ``x`` (N, *shape): float64 (N,)
    in nats. VAE only.

    With z_1..z_k ~ q(z|x): log p(x) ~ log (1/k) sum_i p(x|z_i) p(z_i) / q(z_i|x) (Burda et al. 2016,
    eq. 8). It is a lower bound on log p(x) that tightens as k grows, and for k = 1 it is the ELBO
    in expectation, so -log_likelihood is an upper bound on the NLL that sits below -ELBO. The k
    samples are decoded ``rows_per_pass`` rows at a time (several examples times a chunk of their
    samples), so k = 5000 fits in memory.

    ``x`` is scored as given; pass :func:`prepared` data for a binarized model.

    >>> nll = -log_likelihood(vae, prepared(vae, data.x_test), k=1000).mean()
    """
    x = rows(model, x, "x")
    _nonempty(x)
    check_int(k, "k", 1, what=" (importance samples per example)")
    check_int(rows_per_pass, "rows_per_pass", 1)
    y = _labels(model, y, len(x))
    generator = _generator(model, seed)
    examples = max(1, rows_per_pass // k)  # examples per pass, each with a chunk of its k samples
    chunk = max(1, min(k, rows_per_pass // examples))
    # Results go into buffers allocated once: small tensors that outlive each pass, allocated
    # between its large temporaries, fragment glibc's heap and grow memory without bound.
    out = torch.empty(len(x), dtype=torch.float64)
    log_w = torch.empty(k, min(examples, len(x)), device=model.device)  # (k, B)
    batches = range(0, len(x), examples)
    if progress:
        from tqdm.auto import tqdm

        batches = tqdm(batches, desc=f"log p(x), k={k}", unit="batch", leave=False,
                       dynamic_ncols=True)
    for i in batches:
        xb = as_tensor(x[i:i + examples], model.device)  # (B, *shape)
        yb = None if y is None else y[i:i + examples]
        b = len(xb)
        q = _posterior(model, xb, yb, "importance-weighted likelihood")
        # the batch repeated once per sample of a chunk, sample-major like z below: (chunk*B, ...)
        x_rep = xb.unsqueeze(0).expand(chunk, *xb.shape).reshape(-1, *xb.shape[1:])
        y_rep = None if yb is None else yb.unsqueeze(0).expand(chunk, -1).reshape(-1)
        for start in range(0, k, chunk):
            c = min(chunk, k - start)
            eps = torch.randn((c, *q.mean.shape), generator=generator, device=model.device)
            z = q.mean + q.std * eps  # (c, B, Z)
            flat = z.reshape(-1, z.shape[-1])  # (c*B, Z)
            log_px_z = model.decode(flat, None if y_rep is None else y_rep[:c * b]).log_prob(
                x_rep[:c * b]).reshape(c, b)  # (c, B)
            log_w[start:start + c, :b] = log_px_z + standard_normal_log_prob(z) - q.log_prob(z)
        out[i:i + b] = iwae_bound(log_w[:, :b].double()).cpu()
    return out.numpy()


@torch.no_grad()
def bounds_with_draws(model: Autoencoder, x: Array, eps: Tensor, y: Array | None = None, *,
                      batch_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """The ELBO and the importance-weighted bound on log p(x) of every row of ``x`` (N, *shape),
    float64 (N,) each in nats, from the same standard normal draws ``eps`` (S, Z) for every row:
    z_s = mean + std * eps_s. VAE only.

    A row's values then depend on that row alone, not on the rows beside it or their order, as a
    per-row score (scikit-learn's ``score_samples``, an anomaly score) must; with S draws the ELBO
    is the mean of log p(x|z_s) minus the closed-form KL, and the bound is Burda et al. (2016,
    eq. 8) with k = S. :func:`elbo` and :func:`log_likelihood` draw afresh for every row instead.
    """
    if eps.ndim != 2 or eps.shape[1] != model.config.latent_dim or len(eps) == 0:
        raise ValueError(f"eps has shape {tuple(eps.shape)}; allowed: (S, {model.config.latent_dim}), S >= 1 "
                         "standard normal draws of the code")
    elbos, bounds = [], []
    for xb, yb in _batches(model, x, y, batch_size):
        q = _posterior(model, xb, yb, "ELBO")
        z = q.mean + q.std * eps.to(q.mean)[:, None, :]  # (S, B, Z)
        s, b = z.shape[:2]
        x_rep = xb.unsqueeze(0).expand(s, *xb.shape).reshape(s * b, *xb.shape[1:])
        y_rep = None if yb is None else yb.unsqueeze(0).expand(s, *yb.shape).reshape(s * b, *yb.shape[1:])
        log_px_z = model.decode(z.reshape(s * b, -1), y_rep).log_prob(x_rep).reshape(s, b).double()
        log_w = log_px_z + (standard_normal_log_prob(z) - q.log_prob(z)).double()  # (S, B)
        elbos.append((log_px_z.mean(0) - q.kl().sum(-1).double()).cpu())
        bounds.append(iwae_bound(log_w).cpu())
    return torch.cat(elbos).numpy(), torch.cat(bounds).numpy()


def bits_per_dim(nats: float, n_dims: int) -> float:
    """Nats per example -> bits per data dimension: nats / (n_dims * ln 2)."""
    check_int(n_dims, "n_dims", 1)
    return float(nats) / (n_dims * math.log(2.0))


@torch.no_grad()
def kl_per_dimension(model: Autoencoder, x: Array, batch_size: int = BATCH, *,
                     y: Array | None = None) -> np.ndarray:
    """Mean over inputs ``x`` (N, *shape) of KL(q(z_j|x) || N(0, 1)) for each latent dimension j,
    in nats: float64 (Z,). Dimensions near 0 are unused (posterior collapse). VAE only; a
    conditional model needs the labels or conditions ``y``.

    >>> kl_per_dimension(vae, data.x_test).shape
    (8,)
    """
    total = torch.zeros(model.config.latent_dim, dtype=torch.float64)  # on the CPU: MPS has no float64
    for xb, yb in _batches(model, x, y, batch_size):
        q = _posterior(model, xb, yb, "KL per dimension")
        total += q.kl().sum(0).cpu().double()  # closed form, Kingma & Welling 2014, App. B
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
    x = rows(model, x, "x")
    if len(x) < 2:
        raise ValueError(f"x has {len(x)} row(s); at least 2 are needed for a variance")
    if not (isinstance(threshold, int | float) and threshold >= 0):
        raise ValueError(f"threshold={threshold!r} is not allowed; it must be a number >= 0")
    y = _labels(model, y, len(x))
    variance = embed_batched(model, x, y, batch_size).cpu().double().var(0, unbiased=False)  # (Z,)
    return int((variance > threshold).sum())


@torch.no_grad()
def probe_accuracy(model: Autoencoder, x_train: Array, y_train: Array, x_test: Array, y_test: Array,
                   *, batch_size: int = BATCH, max_iter: int = 1000) -> float:
    """Linear-probe accuracy: a logistic regression fitted to the deterministic codes (posterior
    means) of ``x_train`` (N, *shape) with labels ``y_train`` (N,), scored on ``x_test``/``y_test``.
    How linearly the codes separate the classes; the usual representation-quality check. A model
    conditioned on the labels is encoded with them, and then a high accuracy means that z repeats
    the label the decoder already gets.

    >>> probe_accuracy(vae, data.x_train, data.y_train, data.x_test, data.y_test)   # in [0, 1]
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    codes = []
    for name, x, y in (("x_train", x_train, y_train), ("x_test", x_test, y_test)):
        x = rows(model, x, name)
        y = np.asarray(y)
        if y.shape != (len(x),):
            raise ValueError(f"{name} has {len(x)} rows but its labels have shape {y.shape}; "
                             "allowed: one label per row")
        given = y if model.conditional else None
        codes.append(embed_batched(model, x, given, batch_size).cpu().double().numpy())
    if len(np.unique(y_train)) < 2:
        raise ValueError("y_train holds a single class; a probe needs at least 2")
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=max_iter))
    probe.fit(codes[0], np.asarray(y_train))
    return float(probe.score(codes[1], np.asarray(y_test)))
