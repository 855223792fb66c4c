"""vaelab.plots.latent: latent codes as points, read back from the returned Figure."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest
import torch
from helpers import png, texts
from matplotlib.patches import Circle
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE
from threadpoolctl import threadpool_limits

from vaelab.plots import latent as plots_latent


@pytest.fixture
def clusters() -> tuple[np.ndarray, np.ndarray]:
    """60 codes (60, 5) in three well separated clusters, labels 0..2."""
    rng = np.random.default_rng(1)
    labels = np.repeat(np.arange(3), 20)
    centres = 6.0 * rng.normal(size=(3, 5))
    return centres[labels] + rng.normal(size=(60, 5)), labels


def offsets(ax) -> np.ndarray:
    return np.asarray(ax.collections[0].get_offsets())


def test_latent_scatter_auto_projects_wide_codes_with_pca(clusters) -> None:
    z, y = clusters
    fig = plots_latent.latent_scatter(z, y, class_names=["zero", "one", "two"], title="codes")
    ax = fig.axes[0]
    pca = PCA(n_components=2).fit(z)
    np.testing.assert_allclose(offsets(ax), pca.transform(z), atol=1e-8)
    ratio = pca.explained_variance_ratio_
    assert ax.get_xlabel() == f"PC1 ({100 * ratio[0]:.0f}% var)"
    assert ax.get_ylabel() == f"PC2 ({100 * ratio[1]:.0f}% var)"
    assert texts(ax.get_legend().get_texts()) == ["zero", "one", "two"]
    tab10 = matplotlib.colormaps["tab10"]
    np.testing.assert_allclose(ax.collections[0].get_facecolors(), tab10(y))  # label k: colour k
    assert ax.get_title() == "codes"
    png(fig)


def test_latent_scatter_identity_plots_the_codes_themselves(clusters) -> None:
    z, y = clusters
    ax = plots_latent.latent_scatter(torch.tensor(z[:, :2]), y).axes[0]
    np.testing.assert_allclose(offsets(ax), z[:, :2])
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("z0", "z1")
    assert texts(ax.get_legend().get_texts()) == ["0", "1", "2"]
    wide = plots_latent.latent_scatter(z, method="identity").axes[0]
    np.testing.assert_allclose(offsets(wide), z[:, :2])
    assert wide.get_legend() is None


def test_latent_scatter_draws_a_1d_code_against_a_small_jitter(clusters) -> None:
    z = clusters[0][:, :1]
    ax = plots_latent.latent_scatter(z, seed=3).axes[0]
    xy = offsets(ax)
    np.testing.assert_allclose(xy[:, 0], z[:, 0])
    assert 0 < np.abs(xy[:, 1]).max() <= 0.1 * z.std()
    assert list(ax.get_yticks()) == [] and ax.get_ylabel() == "jitter (no meaning)"
    np.testing.assert_array_equal(offsets(plots_latent.latent_scatter(z, seed=3).axes[0]), xy)


def test_latent_scatter_tsne_matches_scikit_learn_and_keeps_clusters_apart(clusters) -> None:
    z, y = clusters
    # One OpenMP thread: Barnes-Hut t-SNE slows down by 100x when its threads share busy cores.
    with threadpool_limits(1):
        ax = plots_latent.latent_scatter(z[::2], y[::2], method="tsne", seed=2).axes[0]
        expected = TSNE(init="pca", perplexity=29 / 3, random_state=2).fit_transform(z[::2])
    xy = offsets(ax)
    np.testing.assert_allclose(xy, expected, rtol=1e-5, atol=1e-5)
    distance = np.linalg.norm(xy[:, None] - xy[None], axis=-1) + np.diag(np.full(len(xy), np.inf))
    assert (y[::2][distance.argmin(1)] == y[::2]).all()  # every nearest neighbour shares its label
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("t-SNE 1", "t-SNE 2")


def test_latent_scatter_with_many_classes_uses_a_colorbar(clusters) -> None:
    z, _ = clusters
    values = np.linspace(0.0, 1.0, len(z))
    fig = plots_latent.latent_scatter(z, values)
    assert len(fig.axes) == 2 and fig.axes[1].get_ylabel() == "label"  # the colorbar
    assert fig.axes[0].get_legend() is None
    np.testing.assert_allclose(fig.axes[0].collections[0].get_array(), values)
    png(fig)


@pytest.mark.parametrize("kwargs, message", [
    ({"method": "umap"}, r"method='umap' is not allowed; choose from: auto, identity, pca, tsne"),
    ({"labels": np.zeros(50, dtype=int)}, r"labels has shape \(50,\) but codes has 60 rows"),
    ({"labels": np.arange(60) % 3, "class_names": ["a", "b"]},
     r"class_names has 2 names; labels must be integers in 0..1, got \[0, 1, 2\]"),
])
def test_latent_scatter_rejects_bad_arguments(clusters, kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        plots_latent.latent_scatter(clusters[0], **kwargs)


def test_latent_scatter_rejects_bad_codes() -> None:
    with pytest.raises(ValueError, match=r"codes has shape \(4,\); allowed: \(N, Z\)"):
        plots_latent.latent_scatter(np.zeros(4))
    with pytest.raises(ValueError, match="NaN or infinite"):
        plots_latent.latent_scatter(np.array([[0.0, np.nan]]))
    with pytest.raises(ValueError, match="'pca' needs codes with at least 2 dimensions"):
        plots_latent.latent_scatter(np.zeros((5, 1)), method="pca")


def test_latent_comparison_draws_panels_alike_with_the_prior_circles() -> None:
    rng = np.random.default_rng(0)
    y = np.arange(30) % 3
    panels = {"AE (reconstruction only)": 5.0 * rng.normal(size=(30, 2)),
              "KL only": rng.normal(size=(30, 2)), "VAE": rng.normal(size=(30, 2))}
    fig = plots_latent.latent_comparison(panels, y, class_names=["a", "b", "c"], title="seed")
    assert [ax.get_title() for ax in fig.axes] == list(panels)
    for ax, z in zip(fig.axes, panels.values(), strict=True):
        np.testing.assert_allclose(offsets(ax), z)
        circles = [p for p in ax.patches if isinstance(p, Circle)]
        assert sorted(c.get_radius() for c in circles) == [1.0, 2.0]
        assert all(tuple(c.center) == (0.0, 0.0) for c in circles)
    colours = [ax.collections[0].get_facecolors() for ax in fig.axes]
    np.testing.assert_array_equal(colours[0], colours[2])
    assert texts(fig.legends[0].get_texts()) == ["a", "b", "c", "prior r = 1 (39%)",
                                                 "prior r = 2 (86%)"]
    assert fig.get_suptitle() == "seed"
    png(fig)


def test_latent_comparison_rejects_empty_or_mismatched_panels() -> None:
    with pytest.raises(ValueError, match="panels is empty"):
        plots_latent.latent_comparison({})
    with pytest.raises(ValueError, match=r"panel 'VAE' has codes of shape \(9, 2\)"):
        plots_latent.latent_comparison({"AE": np.zeros((10, 2)), "VAE": np.zeros((9, 2))})
    with pytest.raises(ValueError, match=r"panel 'AE' has codes of shape \(10, 3\)"):
        plots_latent.latent_comparison({"AE": np.zeros((10, 3))})
    with pytest.raises(ValueError, match=r"labels has shape \(4,\) but codes has 10 rows"):
        plots_latent.latent_comparison({"AE": np.zeros((10, 2))}, labels=np.zeros(4, dtype=int))
