"""Post-hoc samplers: densities over codes fitted after training.

A Gaussian mixture over the codes of the training data (ex-post density estimation, Ghosh et al.
2020) lets an AE generate and often gives sharper VAE samples than the N(0, I) prior. It is stored as
plain arrays, so a run directory can keep it without pickling anything (RUN/gmm.safetensors).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from vaelab._batching import BATCH, Array
from vaelab._checks import check_int, check_rows, check_temperature
from vaelab._version import __version__
from vaelab.distributions import standard_normal
from vaelab.files import read_arrays, write_arrays
from vaelab.latent.codes import embed_all
from vaelab.models import Autoencoder
from vaelab.registry import lookup
from vaelab.run import GMM_FORMAT, RunDir


class GMMSampler:
    """A Gaussian mixture over codes fitted after training: ex-post density estimation (Ghosh et al.
    2020, "From variational to deterministic autoencoders", sec. 4), which lets an AE generate and
    can beat a VAE's N(0, I) prior. Build one with :func:`fit_gmm`.

    Its parameters are plain float64 numpy arrays, stored with :meth:`to_arrays` (npz or
    safetensors, no pickle); sampling needs torch only. Every covariance type is kept as full matrices.

    Parameters
    ----------
    weights : (K,) mixture weights, >= 0 (normalized when sampling).
    means : (K, Z) component means.
    covariances : (K, Z, Z) symmetric positive definite covariances.

    Examples
    --------
    >>> np.savez("gmm.npz", **fit_gmm(model, data.x_train).to_arrays())
    >>> GMMSampler.from_arrays(np.load("gmm.npz")).sample(5, generator=torch.Generator()).shape
    torch.Size([5, 8])
    """

    KEYS = ("weights", "means", "covariances")

    def __init__(self, weights: np.ndarray, means: np.ndarray, covariances: np.ndarray) -> None:
        w, m, c = (np.array(a, dtype=np.float64) for a in (weights, means, covariances))
        k = len(m) if m.ndim == 2 else 0
        if k == 0 or w.shape != (k,) or c.shape != (k, m.shape[1], m.shape[1]):
            raise ValueError(f"GMMSampler: got weights {w.shape}, means {m.shape}, covariances {c.shape}; "
                             "allowed: (K,), (K, Z), (K, Z, Z) with K >= 1")
        if not (np.isfinite(w).all() and (w >= 0).all() and w.sum() > 0):
            raise ValueError(f"GMMSampler: weights {w} are not allowed; they must be finite, >= 0, not all 0")
        if not np.isfinite(m).all() or not np.allclose(c, c.transpose(0, 2, 1)):
            raise ValueError("GMMSampler: means must be finite and covariances symmetric")
        try:
            chol = np.linalg.cholesky(c)  # (K, Z, Z) lower triangular, Sigma_k = L_k L_k^T
        except np.linalg.LinAlgError:
            raise ValueError("GMMSampler: every covariance must be positive definite") from None
        for a in (w, m, c, chol):
            a.setflags(write=False)
        self.weights, self.means, self.covariances, self._chol = w, m, c, chol

    @property
    def latent_dim(self) -> int:
        return self.means.shape[1]

    def sample(self, n: int, temperature: float = 1.0, generator: torch.Generator | None = None) -> Tensor:
        """``n`` codes z = mu_k + temperature * L_k eps with k ~ Categorical(weights), eps ~ N(0, I):
        (n, Z) float32 on the generator's device (CPU by default)."""
        check_int(n, "n", 1)
        check_temperature(temperature)
        eps = standard_normal(n, self.latent_dim, generator, torch.float64)  # (n, Z)
        w, means, chol = (torch.tensor(a, device=eps.device) for a in (self.weights, self.means, self._chol))
        k = torch.multinomial(w, n, replacement=True, generator=generator)  # (n,) components
        z = means[k]
        for j in range(len(means)):  # one product per component: memory O(n Z), not O(n Z^2)
            picked = k == j
            z[picked] += temperature * eps[picked] @ chol[j].T
        return z.float()

    def to_arrays(self) -> dict[str, np.ndarray]:
        """``{"weights": (K,), "means": (K, Z), "covariances": (K, Z, Z)}``, float64 copies."""
        return {key: getattr(self, key).copy() for key in self.KEYS}

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, Array]) -> GMMSampler:
        """Inverse of :meth:`to_arrays`: a dict, an ``np.load`` npz or a safetensors dict."""
        if sorted(arrays) != sorted(cls.KEYS):
            raise ValueError(f"GMMSampler.from_arrays: got keys {sorted(arrays)}; allowed: exactly "
                             f"{', '.join(cls.KEYS)}")
        return cls(*(np.asarray(arrays[key]) for key in cls.KEYS))


# scikit-learn's ``covariances_`` for each covariance type -> (K, Z, Z) full matrices.
FULL_COVARIANCE: dict[str, Callable[[np.ndarray, int, int], np.ndarray]] = {
    "full": lambda c, k, z: c,  # (K, Z, Z)
    "tied": lambda c, k, z: np.broadcast_to(c, (k, z, z)).copy(),  # (Z, Z), shared
    "diag": lambda c, k, z: c[:, :, None] * np.eye(z),  # (K, Z) variances
    "spherical": lambda c, k, z: c[:, None, None] * np.eye(z),  # (K,), one variance each
}


@torch.no_grad()
def fit_gmm(model: Autoencoder, x: Array, n_components: int = 10, covariance_type: str = "full",
            seed: int = 0, y: Array | None = None, batch_size: int = BATCH) -> GMMSampler:
    """Fit scikit-learn's ``GaussianMixture`` (K = ``n_components`` from 1 to N, ``covariance_type``
    full, tied, diag or spherical, ``random_state=seed``) to the codes of training inputs ``x``
    (N, *shape).

    >>> gmm = fit_gmm(ae, data.x_train, n_components=10)
    >>> sample(ae, 16, sampler=gmm).shape                  # an AE can now generate
    torch.Size([16, 1, 8, 8])
    """
    x = check_rows(x, model.config.input_shape, "x")
    to_full = lookup(FULL_COVARIANCE, covariance_type, "covariance_type")
    check_int(n_components, "n_components", 1, len(x), " (the number of rows of x)")
    from sklearn.mixture import GaussianMixture  # imported here: slow to import, rarely needed

    z = embed_all(model, x, y, batch_size).cpu().double().numpy()  # (N, Z)
    gm = GaussianMixture(n_components, covariance_type=covariance_type, random_state=seed).fit(z)
    return GMMSampler(gm.weights_, gm.means_, to_full(gm.covariances_, n_components, z.shape[1]))


# -- storage: plain arrays in safetensors, nothing unpickled ----------------------------------


def save_gmm(gmm: GMMSampler, path: str | os.PathLike[str]) -> Path:
    """Write ``gmm`` to ``path`` as safetensors (its float64 arrays), atomically.

    >>> save_gmm(fit_gmm(ae, data.x_train), "gmm.safetensors")     # doctest: +SKIP
    """
    return write_arrays(Path(path), gmm.to_arrays(), GMM_FORMAT, __version__)


def load_gmm(path: str | os.PathLike[str]) -> GMMSampler:
    """Read a sampler written by :func:`save_gmm` or kept in a run directory; a damaged or foreign
    file is a ``ValueError`` naming it."""
    return _from_file(read_arrays(Path(path), GMM_FORMAT), Path(path))


def _from_file(arrays: dict[str, np.ndarray], path: Path) -> GMMSampler:
    try:
        return GMMSampler.from_arrays(arrays)
    except ValueError as err:
        raise ValueError(f"{path} is damaged or is not a GMM sampler written by vaelab ({err})") from None


def cached_gmm(model: Autoencoder, run: RunDir | str | os.PathLike[str],
               n_components: int | None = None) -> GMMSampler | None:
    """The sampler kept for the run (RUN/gmm.safetensors, or its cached copy for a read-only run) if
    it still fits ``model``, else None: it is stale when it was fitted to the codes of other weights
    than the ones ``model`` was loaded from (``model.weights_id``; the run was trained again, or
    the model lives only in memory), when its codes have another size than the model's, or when it
    has other than ``n_components`` components (any number for None), or when it cannot be read."""
    run = run if isinstance(run, RunDir) else RunDir(run)
    if model.weights_id is None:
        return None
    try:
        arrays = run.load_gmm(model.weights_id)
        gmm = None if arrays is None else _from_file(arrays, run.file(RunDir.GMM))
    except ValueError:  # damaged: a cache is fitted again, never an error
        gmm = None
    if gmm is None:
        return None
    fits = gmm.latent_dim == model.config.latent_dim and n_components in (None, len(gmm.weights))
    return gmm if fits else None


#: components of the GMM that ``run_gmm`` fits when none is asked for
DEFAULT_COMPONENTS = 10


def run_gmm(model: Autoencoder, run: RunDir | str | os.PathLike[str], x: Array, y: Array | None = None,
            n_components: int | None = None, *, cache: bool = True) -> tuple[GMMSampler, bool]:
    """The GMM sampler over the training codes of a run: ``(sampler, fitted_now)``.

    The one kept for the run is reused while it still fits (:func:`cached_gmm`). Otherwise one is
    fitted to the codes of the training rows ``x`` (and ``y`` for a conditional model) with
    ``n_components`` (default :data:`DEFAULT_COMPONENTS`, at most the number of rows) and, with
    ``cache``, kept for next time, stamped with ``model.weights_id`` (in RUN/, or in the cache
    folder when the run cannot be written; not at all for a model that lives only in memory).

    >>> gmm, fitted = run_gmm(model, "runs/ae", data.x_train)      # doctest: +SKIP
    """
    run = run if isinstance(run, RunDir) else RunDir(run)
    gmm = cached_gmm(model, run, n_components)
    if gmm is not None:
        return gmm, False
    k = min(DEFAULT_COMPONENTS, len(x)) if n_components is None else n_components
    gmm = fit_gmm(model, x, n_components=k, seed=0, y=y)
    if cache and model.weights_id is not None:
        run.save_gmm(gmm.to_arrays(), model.weights_id)
    return gmm, True
