"""Anomaly scores from a trained model: how badly the model explains each row.

A model trained on normal data gives abnormal rows a low likelihood. Three scores, each higher for
more abnormal rows and in nats:

- ``"elbo"``: -ELBO, the variational bound on -log p(x) (VAEs);
- ``"nll"``: the importance-weighted estimate of -log p(x) (Burda et al. 2016), tighter (VAEs);
- ``"reconstruction"``: -log p(x|z) at the deterministic code z (every model; for a Gaussian
  likelihood a per-column weighted squared error, for categories a cross-entropy).

Scores are deterministic and row-wise: the Monte Carlo draws of the code are one seeded set shared
by all rows (:func:`vaelab.metrics.bounds_with_draws`), so a row scores the same alone or in any
file. The threshold flags the ``contamination`` share of rows with the highest scores, as PyOD's
detectors do (0 normal, 1 outlier).

>>> s = scores(model, data.x_test, score="elbo")
>>> flags = s > threshold(s, contamination=0.05)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from vaelab._checks import check_int, invalid
from vaelab.evaluation import metrics
from vaelab.models import Autoencoder

SCORES = ("elbo", "nll", "reconstruction")


def default_score(model: Autoencoder) -> str:
    """-ELBO for a model with a posterior (VAEs), the reconstruction term otherwise (AEs)."""
    return "elbo" if model.variational else "reconstruction"


def draws(latent_dim: int, samples: int, seed: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``samples`` standard normal draws (S, Z) from a CPU generator seeded with ``seed``."""
    check_int(samples, "samples", 1, what=" (draws of the code per row)")
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(samples, latent_dim, generator=generator, dtype=dtype)


def check_score(model: Autoencoder, score: str) -> str:
    """``score`` if ``model`` can give it, else a ValueError naming the allowed ones."""
    allowed = SCORES if model.variational else ("reconstruction",)
    if score not in allowed:
        name = type(model).__name__
        why = "" if model.variational else f"this {name} has no posterior, so no ELBO or NLL; "
        raise invalid("score", score, f"{why}choose from: {', '.join(allowed)}")
    return score


def scores(model: Autoencoder, x: Any, y: Any = None, *, score: str | None = None, samples: int = 16,
           seed: int = 0, eps: torch.Tensor | None = None) -> np.ndarray:
    """Anomaly scores of the rows of ``x`` (N, *shape), float64 (N,) in nats, higher = more abnormal.

    Parameters
    ----------
    model : a trained model (in eval mode: scores use no dropout or noise).
    x, y : the rows, in data units, and their labels or conditions (conditional models).
    score : ``"elbo"``, ``"nll"`` or ``"reconstruction"``; default :func:`default_score`.
    samples, seed : the shared draws of the code for ``"elbo"`` and ``"nll"``: S draws seeded by
        ``seed``; ``eps`` (S, Z) gives them instead.
    """
    score = check_score(model, score or default_score(model))
    if score == "reconstruction":
        return metrics.reconstruction_error(model, x, y)
    if eps is None:
        eps = draws(model.config.latent_dim, samples, seed)
    elbo, bound = metrics.bounds_with_draws(model, x, eps, y)
    return -(elbo if score == "elbo" else bound)


def check_contamination(contamination: float) -> float:
    """``contamination`` as a float in (0, 0.5], else a ValueError saying what is allowed."""
    c = contamination
    if isinstance(c, bool) or not isinstance(c, int | float) or not math.isfinite(c) or not 0 < c <= 0.5:
        raise ValueError(f"contamination={c!r} is not allowed; give the expected share of outliers, a number "
                         "in (0, 0.5]")
    return float(c)


def threshold(scores: np.ndarray, contamination: float) -> float:
    """The (1 - ``contamination``) quantile of ``scores``: the rows above it are the outliers."""
    return float(np.quantile(np.asarray(scores, dtype=np.float64), 1.0 - check_contamination(contamination)))
