"""How close two sets of feature vectors are: the Fréchet distance between Gaussians fitted to them
(the "FID" of Heusel et al. 2017 when the features come from a classifier) and the improved
precision and recall of Kynkäänniemi et al. 2019.

Both take plain arrays (N, F) and return floats; the features usually come from
:func:`vaelab.classifier.features` on real and generated data.
"""

from __future__ import annotations

import numpy as np
import torch

from vaelab._batching import BATCH
from vaelab._checks import check_int


def _feature_rows(x: np.ndarray, name: str, min_rows: int = 2) -> np.ndarray:
    """``x`` as a finite float64 (N, F) array with N >= ``min_rows``; anything else is an error."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] < 1:
        raise ValueError(f"{name} has shape {x.shape}; allowed: a 2-D array (N, F) of feature vectors")
    if len(x) < min_rows:
        raise ValueError(f"{name} has {len(x)} row(s); at least {min_rows} are needed")
    if not np.isfinite(x).all():
        raise ValueError(f"{name} holds NaN or infinite values; allowed: finite numbers only")
    return x


def _same_width(a: np.ndarray, b: np.ndarray, names: str) -> None:
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"{names} have {a.shape[1]} and {b.shape[1]} features; allowed: the same number F")


def _sqrt_psd(s: np.ndarray) -> np.ndarray:
    """Symmetric square root of a symmetric positive semi-definite matrix (F, F), from its eigenvectors;
    round-off makes tiny eigenvalues negative, so they are clipped at 0."""
    w, v = np.linalg.eigh(s)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to feature sets ``a`` (N, F) and ``b`` (M, F),
    N, M >= 2 (Dowson & Landau 1982; used as FID by Heusel et al. 2017, eq. 6):

        d^2 = ||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)),

    with covariances S of ddof=1 (``np.cov``, as FID does), in float64. Instead of ``sqrtm`` of the
    non-symmetric S_a S_b, Tr((S_a S_b)^(1/2)) is the sum of the square roots of the eigenvalues of
    the symmetric PSD matrix R S_b R with R = S_a^(1/2), which has the same eigenvalues as S_a S_b.

    Returns a float >= 0; 0 for a set and itself.

    >>> rng = np.random.default_rng(0)
    >>> round(frechet_distance(rng.normal(size=(5000, 2)), rng.normal(size=(5000, 2)) + [3, 0]))
    9
    """
    a, b = _feature_rows(a, "a"), _feature_rows(b, "b")
    _same_width(a, b, "a and b")
    mu_a, mu_b = a.mean(0), b.mean(0)  # (F,)
    s_a = np.atleast_2d(np.cov(a, rowvar=False))  # (F, F)
    s_b = np.atleast_2d(np.cov(b, rowvar=False))
    r = _sqrt_psd(s_a)
    m = r @ s_b @ r
    eig = np.linalg.eigvalsh((m + m.T) / 2)  # symmetrized against round-off
    trace_sqrt = np.sqrt(np.clip(eig, 0.0, None)).sum()
    d2 = ((mu_a - mu_b) ** 2).sum() + np.trace(s_a) + np.trace(s_b) - 2.0 * trace_sqrt
    return max(float(d2), 0.0)


def _sq_dists(x: torch.Tensor, y: torch.Tensor, y_sq: torch.Tensor) -> torch.Tensor:
    """Squared Euclidean distances (n, m) between rows of x (n, F) and y (m, F), one matrix product."""
    return ((x * x).sum(1, keepdim=True) + y_sq[None, :] - 2.0 * x @ y.T).clamp_(min=0.0)


def _radii(x: torch.Tensor, k: int, batch_size: int) -> torch.Tensor:
    """Squared distance (N,) from each row of ``x`` (N, F) to its k-th nearest other row."""
    x_sq = (x * x).sum(1)
    out = []
    for i in range(0, len(x), batch_size):
        d2 = _sq_dists(x[i:i + batch_size], x, x_sq)  # (b, N)
        rows = torch.arange(len(d2))
        d2[rows, rows + i] = torch.inf  # a point is not its own neighbour
        out.append(torch.kthvalue(d2, k, dim=1).values)
    return torch.cat(out)


def _coverage(points: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor, tol: float,
              batch_size: int) -> float:
    """Share of ``points`` (N, F) inside at least one ball (centres (M, F), squared radii (M,))."""
    c_sq = (centres * centres).sum(1)
    inside = 0
    for i in range(0, len(points), batch_size):
        d2 = _sq_dists(points[i:i + batch_size], centres, c_sq)  # (b, M)
        inside += int((d2 <= radii[None, :] + tol).any(1).sum())
    return inside / len(points)


def precision_recall(real: np.ndarray, fake: np.ndarray, k: int = 3,
                     batch_size: int = BATCH) -> tuple[float, float]:
    """Improved precision and recall of ``fake`` (M, F) against ``real`` (N, F) feature vectors
    (Kynkäänniemi et al. 2019, eqs. 1-2).

    Each real point gets a ball reaching its k-th nearest other real point; precision is the share
    of fake points inside at least one real ball (fidelity). Recall swaps the roles: the share of
    real points inside at least one fake ball (coverage). Distances are computed ``batch_size``
    rows at a time in float64, so memory stays O(batch_size * max(N, M)).

    Parameters
    ----------
    real, fake : (N, F) and (M, F) finite arrays.
    k : int, from 1 to min(N, M) - 1. The paper uses 3.
    batch_size : int >= 1, rows per block of distances.

    Returns
    -------
    (precision, recall), floats in [0, 1].

    >>> x = np.random.default_rng(0).normal(size=(100, 4))
    >>> precision_recall(x, x)
    (1.0, 1.0)
    """
    real, fake = _feature_rows(real, "real"), _feature_rows(fake, "fake")
    _same_width(real, fake, "real and fake")
    check_int(k, "k", 1, min(len(real), len(fake)) - 1, " (fewer than the rows of real and of fake)")
    check_int(batch_size, "batch_size", 1)
    centre = real.mean(0)  # centring keeps the norms, and so the round-off of the expansion, small
    r, f = (torch.from_numpy(x - centre) for x in (real, fake))
    # |x|^2 + |y|^2 - 2 x.y loses about eps * max|x|^2; the tolerance keeps a point inside the ball
    # of an exact duplicate of it even when that ball has radius 0.
    tol = 1e-12 * float(max((r * r).sum(1).max(), (f * f).sum(1).max()))
    precision = _coverage(f, r, _radii(r, k, batch_size), tol, batch_size)
    recall = _coverage(r, f, _radii(f, k, batch_size), tol, batch_size)
    return precision, recall
