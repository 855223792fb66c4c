"""Latent codes as points: a scatter of codes (N, Z) projected to 2-D, and 2-D codes of several
models side by side against the prior's scale. Like :mod:`vaelab.plots`, every function takes plain
arrays (numpy or CPU tensors), returns a matplotlib Figure and never saves or shows it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Circle

from vaelab._checks import invalid, shape_error


def _marker_size(n: int) -> float:
    """Dots small enough that thousands of points do not merge into a blob."""
    return float(np.clip(3000.0 / max(n, 1), 2.0, 25.0))


# Projections to 2-D: codes (N, Z) and a seed -> (N, 2) points and the two axis labels.

def _project_identity(codes: np.ndarray, seed: int) -> tuple[np.ndarray, tuple[str, str]]:
    if codes.shape[1] == 1:  # a 1-D code: spread the points vertically so that overlaps show
        jitter = np.random.default_rng(seed).uniform(-0.1, 0.1, len(codes)) * (codes.std() or 1.0)
        return np.column_stack([codes[:, 0], jitter]), ("z0", "jitter (no meaning)")
    return codes[:, :2], ("z0", "z1")


def _project_pca(codes: np.ndarray, seed: int) -> tuple[np.ndarray, tuple[str, str]]:
    from sklearn.decomposition import PCA
    if codes.shape[1] < 2:
        raise ValueError(f"method 'pca' needs codes with at least 2 dimensions; got shape "
                         f"{codes.shape}; use 'identity' or 'auto'")
    pca = PCA(n_components=2, random_state=seed)
    xy = pca.fit_transform(codes)
    return xy, tuple(f"PC{i + 1} ({100 * r:.0f}% var)"  # type: ignore[return-value]
                     for i, r in enumerate(pca.explained_variance_ratio_))


def _project_tsne(codes: np.ndarray, seed: int) -> tuple[np.ndarray, tuple[str, str]]:
    """t-SNE (van der Maaten & Hinton 2008); its distances between clusters carry no meaning."""
    from sklearn.manifold import TSNE
    perplexity = min(30.0, (len(codes) - 1) / 3)  # scikit-learn needs perplexity < N
    tsne = TSNE(n_components=2, init="pca", perplexity=perplexity, random_state=seed)
    return tsne.fit_transform(codes), ("t-SNE 1", "t-SNE 2")


PROJECTIONS: dict[str, Callable[[np.ndarray, int], tuple[np.ndarray, tuple[str, str]]]] = {
    "identity": _project_identity, "pca": _project_pca, "tsne": _project_tsne}


def _label_style(labels: Any, n: int, class_names: Sequence[str] | None
                 ) -> tuple[dict[str, Any], list[Line2D] | None]:
    """Scatter keywords that colour n points by label, and legend handles; ``None`` handles mean
    a continuous colormap that needs a colorbar (more than 10 classes)."""
    if labels is None:
        return {"color": "tab:blue"}, []
    labels = np.asarray(labels)
    if labels.shape != (n,):
        raise ValueError(f"labels has shape {labels.shape} but codes has {n} rows; "
                         "need one label per code")
    classes, index = np.unique(labels, return_inverse=True)
    if len(classes) > 10:
        values = labels if np.issubdtype(labels.dtype, np.number) else index
        return {"c": values, "cmap": "viridis", "vmin": values.min(), "vmax": values.max()}, None
    integer = np.issubdtype(labels.dtype, np.integer) and classes[0] >= 0
    if class_names is not None and not (integer and classes[-1] < len(class_names)):
        raise ValueError(f"class_names has {len(class_names)} names; labels must be integers in "
                         f"0..{len(class_names) - 1}, got {classes.tolist()}")
    names = [class_names[c] if class_names is not None else str(c) for c in classes]
    slots = classes if integer and classes[-1] < 10 else np.arange(len(classes))
    colours = matplotlib.colormaps["tab10"](slots)  # digit k keeps colour k across plots
    handles = [Line2D([], [], ls="", marker="o", color=colours[i], label=name)
               for i, name in enumerate(names)]
    return {"c": colours[index]}, handles


def latent_scatter(codes: np.ndarray, labels: np.ndarray | None = None, method: str = "auto",
                   class_names: Sequence[str] | None = None, seed: int = 0,
                   title: str | None = None) -> Figure:
    """Codes (N, Z) as points in 2-D, coloured by label.

    Parameters
    ----------
    codes : (N, Z) latent codes, e.g. posterior means.
    labels : (N,) class indices (or any values); up to 10 classes get tab10 colours and a legend,
        more get a continuous colormap and a colorbar.
    method : ``"identity"`` plots z0 against z1; ``"pca"`` the first two principal components;
        ``"tsne"`` a t-SNE embedding (scikit-learn, ``init="pca"``, ``random_state=seed``, slow
        beyond a few thousand points); ``"auto"`` is identity for Z <= 2 and PCA for Z > 2.
        A 1-D code (Z == 1) is drawn against a small random jitter on the vertical axis.
    class_names : names of the integer labels for the legend; ``class_names[k]`` names label k.
    seed : seeds the t-SNE and the jitter of a 1-D code.

    Examples
    --------
    >>> fig = latent_scatter(model.embed(x).numpy(), y, class_names=data.info.classes)  # doctest: +SKIP
    """
    z = np.asarray(codes, dtype=np.float64)
    if z.ndim != 2 or not np.isfinite(z).all():
        raise shape_error("codes", z.shape, "(N, Z) finite numbers" + ("" if z.ndim != 2 else
                                                                      " (it holds NaN or infinite values)"))
    if method == "auto":
        method = "identity" if z.shape[1] <= 2 else "pca"
    if method not in PROJECTIONS:
        raise invalid("method", method, f"choose from: auto, {', '.join(PROJECTIONS)}")
    style, handles = _label_style(labels, len(z), class_names)
    xy, (xlabel, ylabel) = PROJECTIONS[method](z, seed)
    fig = Figure(figsize=(6.0, 4.8), layout="constrained")
    ax = fig.add_subplot()
    points = ax.scatter(xy[:, 0], xy[:, 1], s=_marker_size(len(z)), linewidths=0, **style)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title or "")
    if method != "tsne" and z.shape[1] > 1:
        ax.set_aspect("equal", adjustable="datalim")  # distances in the plot are distances in z
    if z.shape[1] == 1 and method == "identity":
        ax.set_yticks([])  # the jitter's values mean nothing
    if handles is None:
        fig.colorbar(points, ax=ax, label="label")
    elif handles:
        ax.legend(handles=handles, loc="center left", bbox_to_anchor=(1.0, 0.5), title="label")
    return fig


def latent_comparison(panels: Mapping[str, np.ndarray], labels: np.ndarray | None = None,
                      class_names: Sequence[str] | None = None, title: str | None = None) -> Figure:
    """2-D codes of several models side by side, coloured alike, against the prior's scale.

    Each panel draws the circles of radius 1 and 2 of the prior N(0, I), which hold 39% and 86%
    of its mass in 2-D. The classic picture: an AE's codes form clusters with gaps at any scale, a
    KL-only model's codes are one structureless ball, a VAE's clusters pack the prior's ball. (Show
    posterior samples to see the ball: a KL-only model maps every x to the same mean, 0.)

    Parameters
    ----------
    panels : panel title -> (N, 2) codes of the same N examples, in the order to draw.
    labels, class_names : as in :func:`latent_scatter`, one colouring for all panels.

    Examples
    --------
    >>> fig = latent_comparison({"AE": z_ae, "VAE": z_vae}, labels=y)  # doctest: +SKIP
    """
    if not panels:
        raise ValueError("panels is empty; give at least one name -> (N, 2) array of codes")
    codes = {name: np.asarray(z, dtype=np.float64) for name, z in panels.items()}
    n = len(next(iter(codes.values())))
    for name, z in codes.items():
        if z.shape != (n, 2) or not np.isfinite(z).all():
            raise ValueError(f"panel {name!r} has codes of shape {z.shape}; every panel needs "
                             f"finite codes of the same shape ({n}, 2)")
    style, handles = _label_style(labels, n, class_names)
    fig = Figure(figsize=(3.6 * len(codes) + 1.6, 4.0), layout="constrained")
    axes = fig.subplots(1, len(codes), squeeze=False)[0]
    for ax, (name, z) in zip(axes, codes.items(), strict=True):
        points = ax.scatter(z[:, 0], z[:, 1], s=_marker_size(n), linewidths=0, **style)
        for radius, linestyle in ((1.0, "-"), (2.0, "--")):
            ax.add_patch(Circle((0.0, 0.0), radius, fill=False, edgecolor="0.2",
                                linestyle=linestyle, linewidth=1.2))
        ax.set_aspect("equal", adjustable="datalim")
        ax.set(title=name, xlabel="z0", ylabel="z1")
    prior = [Line2D([], [], color="0.2", linestyle=s, label=f"prior r = {r} ({p})")
             for r, s, p in ((1, "-", "39%"), (2, "--", "86%"))]
    if handles is None:
        fig.colorbar(points, ax=axes, label="label")
    fig.legend(handles=(handles or []) + prior, loc="outside right center")
    if title:
        fig.suptitle(title)
    return fig
