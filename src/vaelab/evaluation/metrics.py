"""Measurements of a trained model: likelihoods (negative ELBO, the importance-weighted estimate of
log p(x), bits per dimension), reconstruction error, and how much the codes know about labels (a
linear probe). The health of the latent space (KL per dimension, active units) is
:mod:`vaelab.latent.usage`, re-exported here.

Every likelihood here is in nats per example, summed over the data dimensions, on the data the
model's likelihood is defined for: :func:`prepared` turns grey levels into one fixed Bernoulli draw
for models trained with ``binarize="dynamic"``, the usual test protocol for binarized MNIST-like data.
All random draws come from a seeded generator, so every number is repeatable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from vaelab._batching import BATCH, Array, batches, map_batches
from vaelab._checks import check_int, check_labels, check_rows, shape_error
from vaelab.latent.codes import embed_all
from vaelab.latent.usage import active_units, kl_per_dimension
from vaelab.losses import elbo_terms, iwae_bound
from vaelab.models import Autoencoder

__all__ = ["Bounds", "ElboScores", "active_units", "bits_per_dim", "bounds", "bounds_with_draws", "elbo",
           "is_exact_likelihood", "kl_per_dimension", "log_likelihood", "prepared", "probe_accuracy",
           "reconstruction_error", "standard_error"]

#: decoded rows per pass when estimating log p(x): k samples of a few examples at a time, so that
#: k = 5000 fits in memory while each pass stays large enough for fast matrix products.
ROWS_PER_PASS = 8192


def _generator(model: Autoencoder, seed: int) -> torch.Generator:
    check_int(seed, "seed", -(2**63))
    return torch.Generator(device=model.device).manual_seed(seed)


def _rows(model: Autoencoder, x: Array, y: Array | None) -> Array:
    """``x`` checked to hold (N >= 1, *shape) rows, and ``y`` one label or condition row each."""
    x = check_rows(x, model.config.input_shape)
    if len(x) == 0:
        raise ValueError("x has 0 rows; it needs at least 1")
    check_labels(y, len(x))
    return x


@torch.no_grad()
def prepared(model: Autoencoder, x: Array, seed: int = 0) -> np.ndarray:
    """The data ``x`` (N, *shape) as the model's likelihood sees them, float32 in data units: ``x``
    itself, or for a model trained with ``binarize="dynamic"`` one Bernoulli draw of the pixel
    intensities made with ``seed`` (Salakhutdinov & Murray 2008), fixed so that every metric and
    every run scores the same binary images.

    >>> xb = prepared(model, data.x_test)       # 0 or 255 per pixel for a binarized MNIST model
    """
    x = check_rows(x, model.config.input_shape)
    if len(x) == 0:
        return np.asarray(x, dtype=np.float32)
    generator = _generator(model, seed)
    return map_batches(lambda xb: model.prepare(xb, generator).cpu(), x, device=model.device).numpy()


def is_exact_likelihood(model: Autoencoder, x: Array) -> bool:
    """Whether ``log p(x|z)`` is a likelihood of ``x`` (N, *shape): always for a Gaussian; for a
    Bernoulli only when every value is an end of the data range (binary pixels). On grey levels
    the Bernoulli term is a cross-entropy, and the 'likelihoods' of this module are not densities."""
    if model.config.likelihood != "bernoulli":
        return True
    u = model.scaler.normalize(torch.as_tensor(check_rows(x, model.config.input_shape), device=model.device))
    return bool(((u == 0) | (u == 1)).all())


@dataclass(frozen=True)
class ElboScores:
    """Per-example terms of the ELBO over a dataset, float64 arrays (N,) in nats.

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
         batch_size: int = BATCH) -> ElboScores:
    """The ELBO's terms for every row of ``x`` (N, *shape), with one reparameterized sample per
    example drawn from a generator seeded with ``seed`` (:func:`vaelab.losses.elbo_terms`): the
    estimate training uses. VAE only. To compare the -ELBO with the importance-weighted NLL, take
    both from :func:`bounds`, which draws them from the same codes.

    ``x`` is scored as given; pass :func:`prepared` data for a binarized model.

    >>> terms = elbo(vae, prepared(vae, data.x_test))
    >>> terms.neg_elbo.mean()                    # nats per example
    """
    x = _rows(model, x, y)
    generator = _generator(model, seed)
    parts = []
    for xb, yb in batches(x, y, device=model.device, batch_size=batch_size, dtype=model.dtype):
        q = model.posterior(xb, yb, "ELBO")
        z = q.sample(generator)[None]  # (1, B, Z)
        terms = elbo_terms(q, z, model.log_prob_at(z, xb, yb))
        parts.append((terms.rec.double().cpu(), terms.kl.double().cpu()))
    rec, kl = (torch.cat(p).numpy() for p in zip(*parts, strict=True))
    return ElboScores(rec, kl)


@torch.no_grad()
def reconstruction_error(model: Autoencoder, x: Array, y: Array | None = None, *,
                         batch_size: int = BATCH) -> np.ndarray:
    """-log p(x | z) at the deterministic code z = embed(x) (the AE's code, the VAE's posterior
    mean) for every row of ``x`` (N, *shape): float64 (N,) in nats. Works for every model."""
    x = _rows(model, x, y)

    def nll(xb: Tensor, yb: Tensor | None = None) -> Tensor:
        return -model.decode(model.embed(xb, yb), yb).log_prob(xb).double().cpu()

    return map_batches(nll, x, y, device=model.device, batch_size=batch_size, dtype=model.dtype).numpy()


@dataclass(frozen=True)
class Bounds:
    """The ELBO and the importance-weighted bound of every row, from the same K draws
    z_1..z_K ~ q(z|x) of that row: float64 arrays (N,) in nats, with the log importance weights
    log w_k = log p(x|z_k) + log p(z_k) - log q(z_k|x).

    rec : -1/K sum_k log p(x|z_k), the reconstruction term.
    kl : 1/K sum_k (log q(z_k|x) - log p(z_k)), the KL term estimated from the same draws; it
        agrees with the closed form (:func:`kl_per_dimension`) up to Monte Carlo error.
    log_likelihood : log 1/K sum_k w_k, the importance-weighted bound on log p(x) (Burda et al.
        2016, eq. 8).
    """

    rec: np.ndarray
    kl: np.ndarray
    log_likelihood: np.ndarray

    @property
    def neg_elbo(self) -> np.ndarray:
        """-ELBO = rec + kl = -1/K sum_k log w_k, an upper bound on -log p(x) (Kingma & Welling 2014,
        eq. 3). The mean of the log weights is at most their log-mean-exp (Jensen), so
        ``nll <= neg_elbo`` on every row, not only in expectation."""
        return self.rec + self.kl

    @property
    def nll(self) -> np.ndarray:
        """-log_likelihood: the importance-weighted estimate of -log p(x), an upper bound on it."""
        return -self.log_likelihood


@torch.no_grad()
def bounds(model: Autoencoder, x: Array, y: Array | None = None, *, k: int = 1000, seed: int = 0,
           rows_per_pass: int = ROWS_PER_PASS, progress: bool = False) -> Bounds:
    """The -ELBO, its two terms and the importance-weighted bound on log p(x) of every row of ``x``
    (N, *shape), all from the same ``k`` draws per row (:class:`Bounds`). VAE only.

    Sharing the draws is what makes the two comparable on a few rows: a -ELBO from draws of its own
    (one per row, as in training) is so noisy that on the 6 test rows of a 30-row table it fell
    below the importance-weighted NLL for 6 of 20 seeds, though it lies above it in expectation.
    The k samples are decoded ``rows_per_pass`` rows at a time (several examples times a chunk of
    their samples), so k = 5000 fits in memory; ``progress`` shows a tqdm bar on stderr.

    ``x`` is scored as given; pass :func:`prepared` data for a binarized model.

    >>> b = bounds(vae, prepared(vae, data.x_test), k=1000)
    >>> b.nll.mean(), b.neg_elbo.mean()          # nats per example; the first is never larger
    """
    x = _rows(model, x, y)
    check_int(k, "k", 1, what=" (importance samples per example)")
    check_int(rows_per_pass, "rows_per_pass", 1)
    generator = _generator(model, seed)
    examples = max(1, rows_per_pass // k)  # examples per pass, each with a chunk of its k samples
    chunk = max(1, min(k, rows_per_pass // examples))
    # Results go into buffers allocated once: small tensors that outlive each pass, allocated
    # between its large temporaries, fragment glibc's heap and grow memory without bound.
    out = torch.empty(3, len(x), dtype=torch.float64)  # rec, kl, log-likelihood
    log_w = torch.empty(k, min(examples, len(x)), device=model.device)  # (k, B)
    log_px_z = torch.empty_like(log_w)  # (k, B)
    parts = batches(x, y, device=model.device, batch_size=examples, dtype=model.dtype)
    if progress:
        from tqdm.auto import tqdm

        parts = tqdm(parts, total=-(-len(x) // examples), desc=f"log p(x), k={k}", unit="batch",
                     leave=False, dynamic_ncols=True)
    for i, (xb, yb) in zip(range(0, len(x), examples), parts, strict=True):
        b = len(xb)
        q = model.posterior(xb, yb, "importance-weighted likelihood")
        for start in range(0, k, chunk):
            z = q.sample(generator, n=min(chunk, k - start))  # (c, B, Z)
            terms = elbo_terms(q, z, model.log_prob_at(z, xb, yb))
            log_w[start:start + len(z), :b] = terms.log_weights
            log_px_z[start:start + len(z), :b] = terms.log_px_z
        w, px = log_w[:, :b].double(), log_px_z[:, :b].double()  # (k, b)
        out[:, i:i + b] = torch.stack([-px.mean(0), (px - w).mean(0), iwae_bound(w)]).cpu()
    return Bounds(*out.numpy())


def log_likelihood(model: Autoencoder, x: Array, y: Array | None = None, *, k: int = 1000,
                   seed: int = 0, rows_per_pass: int = ROWS_PER_PASS,
                   progress: bool = False) -> np.ndarray:
    """Importance-weighted estimate of log p(x) for every row of ``x`` (N, *shape): float64 (N,)
    in nats; :func:`bounds` with its arguments. VAE only.

    With z_1..z_k ~ q(z|x): log p(x) ~ log (1/k) sum_i p(x|z_i) p(z_i) / q(z_i|x) (Burda et al. 2016,
    eq. 8). It is a lower bound on log p(x) that tightens as k grows, and for k = 1 it is the ELBO
    in expectation, so -log_likelihood is an upper bound on the NLL that sits below -ELBO.

    >>> nll = -log_likelihood(vae, prepared(vae, data.x_test), k=1000).mean()
    """
    return bounds(model, x, y, k=k, seed=seed, rows_per_pass=rows_per_pass,
                  progress=progress).log_likelihood


def standard_error(values: np.ndarray) -> float | None:
    """The standard error of the mean of per-row ``values`` (N,): their standard deviation over the
    rows (ddof 1) / sqrt(N); None for fewer than 2 rows.

    >>> standard_error(np.array([1.0, 2.0, 3.0, 4.0]))
    0.6454972243679028
    """
    values = np.asarray(values, dtype=np.float64)
    if len(values) < 2:
        return None
    return float(values.std(ddof=1) / math.sqrt(len(values)))


@torch.no_grad()
def bounds_with_draws(model: Autoencoder, x: Array, eps: Tensor, y: Array | None = None, *,
                      batch_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """The ELBO and the importance-weighted bound on log p(x) of every row of ``x`` (N, *shape),
    float64 (N,) each in nats, from the same standard normal draws ``eps`` (S, Z) for every row:
    z_s = mean + std * eps_s. VAE only.

    A row's values then depend on that row alone, not on the rows beside it or their order, as a
    per-row score (scikit-learn's ``score_samples``, an anomaly score) must; with S draws the ELBO
    is the mean of log p(x|z_s) minus the closed-form KL, and the bound is Burda et al. (2016,
    eq. 8) with k = S. :func:`bounds` draws afresh for every row instead.
    """
    if eps.ndim != 2 or eps.shape[1] != model.config.latent_dim or len(eps) == 0:
        raise shape_error("eps", eps.shape, f"(S, {model.config.latent_dim}), S >= 1 standard normal draws "
                          "of the code")
    x = _rows(model, x, y)
    elbos, bounds = [], []
    for xb, yb in batches(x, y, device=model.device, batch_size=batch_size, dtype=model.dtype):
        q = model.posterior(xb, yb, "ELBO")
        z = q.reparameterize(eps.to(q.mean)[:, None, :])  # (S, B, Z): the same draws for every row
        terms = elbo_terms(q, z, model.log_prob_at(z, xb, yb))
        elbos.append(-terms.neg_elbo.double().cpu())
        bounds.append(iwae_bound(terms.log_weights.double()).cpu())
    return torch.cat(elbos).numpy(), torch.cat(bounds).numpy()


def bits_per_dim(nats: float, n_dims: int) -> float:
    """Nats per example -> bits per data dimension: nats / (n_dims * ln 2)."""
    check_int(n_dims, "n_dims", 1)
    return float(nats) / (n_dims * math.log(2.0))


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
        x = check_rows(x, model.config.input_shape, name)
        y = np.asarray(y)
        if y.shape != (len(x),):
            raise ValueError(f"{name} has {len(x)} rows but its labels have shape {y.shape}; "
                             "allowed: one label per row")
        given = y if model.conditional else None
        codes.append(embed_all(model, x, given, batch_size).cpu().double().numpy())
    if len(np.unique(y_train)) < 2:
        raise ValueError("y_train holds a single class; a probe needs at least 2")
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=max_iter))
    probe.fit(codes[0], np.asarray(y_train))
    return float(probe.score(codes[1], np.asarray(y_test)))
