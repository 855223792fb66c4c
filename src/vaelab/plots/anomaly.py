"""The picture of anomaly scores: their histogram with the threshold (see :mod:`vaelab.anomaly`).

Like every plot module it returns a matplotlib Figure and saves nothing; inputs are plain arrays.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

from vaelab._checks import shape_error

#: classes drawn as separate histograms at most; with more, one histogram of all rows
MAX_CLASSES = 10


def score_histogram(scores: np.ndarray, threshold: float, score_name: str,
                    labels: np.ndarray | None = None, classes: Sequence[str] | None = None,
                    title: str | None = None) -> Figure:
    """Histogram of ``scores`` (N,) with a line at ``threshold``; rows above it are the outliers.

    With ``labels`` (N,) ids into ``classes`` (up to :data:`MAX_CLASSES`), one histogram per class
    on shared bins, so that one sees which classes the scores separate.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 1 or len(scores) == 0 or not np.isfinite(scores).all():
        raise shape_error("scores", scores.shape, "(N,) finite numbers, N >= 1")
    flagged = int(np.sum(scores > threshold))
    fig = Figure(figsize=(7.0, 3.8), layout="constrained")
    ax = fig.add_subplot()
    bins = np.histogram_bin_edges(scores, bins=min(60, max(10, len(scores) // 10)))
    if labels is not None and classes is not None and len(classes) <= MAX_CLASSES:
        labels = np.asarray(labels)
        for k, name in enumerate(classes):
            if np.any(labels == k):
                ax.hist(scores[labels == k], bins=bins, alpha=0.55, label=f"{name} ({np.sum(labels == k)})")
        ax.legend(title="class", fontsize="small")
    else:
        ax.hist(scores, bins=bins, color="tab:blue", alpha=0.8)
    ax.axvline(threshold, color="tab:red", linestyle="--", linewidth=1.5)
    lo, hi = ax.get_xlim()
    right = threshold > (lo + hi) / 2  # the note goes on the side with room
    ax.annotate(f"threshold {threshold:.4g}\n{flagged} of {len(scores)} rows above", (threshold, 1.0),
                xycoords=("data", "axes fraction"), xytext=(-4 if right else 4, -4),
                textcoords="offset points", va="top", ha="right" if right else "left", color="tab:red",
                fontsize="small")
    ax.set_xlabel(f"{score_name} (higher = more abnormal)")
    ax.set_ylabel("rows")
    ax.set_title(title or f"anomaly scores of {len(scores)} rows")
    return fig
