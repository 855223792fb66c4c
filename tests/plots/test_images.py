"""vaelab.plots.images: the image figures, KL bars and training curves, and their input errors."""

from __future__ import annotations

from collections.abc import Sequence
from statistics import NormalDist

import numpy as np
import pytest
import torch
from helpers import png, texts
from matplotlib.colors import to_rgba
from matplotlib.patches import Rectangle

from vaelab import plots
from vaelab.plots import HIGHLIGHT

VR = (0.0, 16.0)  # value range of the digits data


def images(*lead: int, seed: int = 0) -> np.ndarray:
    """Random 8x8 grey images in 0..16, shape (*lead, 1, 8, 8)."""
    return np.random.default_rng(seed).uniform(*VR, size=(*lead, 1, 8, 8)).astype(np.float32)


def frames(ax) -> list[Rectangle]:
    """The highlight frames of an image figure."""
    return [p for p in ax.patches
            if isinstance(p, Rectangle) and p.get_edgecolor() == to_rgba(HIGHLIGHT)]


def cell(shown: np.ndarray, row: int, col: int, pad: int) -> np.ndarray:
    """The 8x8 pixels of cell (row, col) in a tiled array drawn with padding ``pad``."""
    top, left = pad + row * (8 + pad), pad + col * (8 + pad)
    return shown[top:top + 8, left:left + 8]


def test_interpolation_strip_is_one_row_with_framed_labelled_endpoints() -> None:
    x = images(6)
    fig = plots.interpolation_strip(x, VR, title="3 to 8")
    (ax,) = fig.axes
    shown = ax.images[0].get_array()
    assert shown.shape == (8 + 2 * 2, 6 * (8 + 2) + 2)  # one row of six cells, padding 2
    np.testing.assert_allclose(cell(shown, 0, 5, pad=2), x[5, 0] / 16.0, rtol=1e-6)
    assert texts(ax.get_xticklabels()) == ["start", "end"]
    assert ax.get_title() == "3 to 8"
    ticks = ax.get_xticks()
    boxes = sorted(frames(ax), key=lambda p: p.get_x())
    assert len(boxes) == 2
    for box, tick, col in zip(boxes, ticks, (0, 5), strict=True):
        left, right = 2 + col * 10 - 0.5, 2 + col * 10 + 7.5  # pixel edges of the cell
        assert box.get_x() < left and box.get_x() + box.get_width() > right
        assert box.get_x() + box.get_width() / 2 == pytest.approx(tick)
    png(fig)


def test_interpolation_strip_takes_tensors_and_rejects_bad_shapes() -> None:
    x = images(4)
    from_tensor = plots.interpolation_strip(torch.from_numpy(x), VR).axes[0].images[0].get_array()
    np.testing.assert_array_equal(from_tensor, plots.tile(x, VR, ncols=4, pad=2))
    with pytest.raises(ValueError, match="at least 2 steps; got 1"):
        plots.interpolation_strip(x[:1], VR)
    with pytest.raises(ValueError, match=r"images has shape \(4, 8, 8\); allowed: \(steps, C, H, W\)"):
        plots.interpolation_strip(x[:, 0], VR)


def test_traversal_grid_labels_rows_by_dim_and_columns_by_value() -> None:
    x = images(3, 7)
    values = np.linspace(-3, 3, 7)
    fig = plots.traversal_grid(x, VR, dims=[0, 4, 9], values=values, title="traversals")
    (ax,) = fig.axes
    shown = ax.images[0].get_array()
    assert shown.shape == (3 * 9 + 1, 7 * 9 + 1)
    np.testing.assert_allclose(cell(shown, 1, 6, pad=1), x[1, 6, 0] / 16.0, rtol=1e-6)
    assert texts(ax.get_yticklabels()) == ["z0", "z4", "z9"]
    assert texts(ax.get_xticklabels()) == ["-3.0", "-2.0", "-1.0", "0.0", "1.0", "2.0", "3.0"]
    np.testing.assert_allclose(ax.get_xticks(), 1 + 9 * np.arange(7) + 3.5)
    png(fig)


def test_traversal_grid_rejects_dims_or_values_that_do_not_match_the_images() -> None:
    with pytest.raises(ValueError, match="3 dims x 7 values but got 2 dims and 7 values"):
        plots.traversal_grid(images(3, 7), VR, dims=[0, 1], values=range(7))
    with pytest.raises(ValueError, match=r"\(n_dims, n_values, C, H, W\)"):
        plots.traversal_grid(images(7), VR, dims=[0], values=range(7))


def test_labelled_rows_names_rows_in_order_and_columns_when_given() -> None:
    x = images(3, 4)
    fig = plots.labelled_rows(x, VR, ["zero", "one", "two"], ["a", "b", "c", "d"], title="classes")
    (ax,) = fig.axes
    shown = ax.images[0].get_array()
    assert shown.shape == (3 * (8 + 1) + 1, 4 * (8 + 1) + 1)  # R x K cells, padding 1
    np.testing.assert_array_equal(shown, plots.tile(x.reshape(12, 1, 8, 8), VR, ncols=4))
    np.testing.assert_allclose(cell(shown, 2, 1, pad=1), x[2, 1, 0] / 16.0, rtol=1e-6)
    assert texts(ax.get_yticklabels()) == ["zero", "one", "two"]
    np.testing.assert_allclose(ax.get_yticks(), 1 + 9 * np.arange(3) + 3.5)  # row centres
    assert texts(ax.get_xticklabels()) == ["a", "b", "c", "d"]
    np.testing.assert_allclose(ax.get_xticks(), 1 + 9 * np.arange(4) + 3.5)
    assert ax.get_title() == "classes"
    png(fig)
    bare = plots.labelled_rows(torch.from_numpy(x[:2, :3]), VR, ["7", "9"]).axes[0]
    assert bare.images[0].get_array().shape == (2 * 9 + 1, 3 * 9 + 1)
    assert texts(bare.get_yticklabels()) == ["7", "9"]
    assert list(bare.get_xticks()) == [] and bare.get_title() == ""


@pytest.mark.parametrize("x, rows, cols, message", [
    (images(6), ["a"], None, r"images has shape \(6, 1, 8, 8\); allowed: \(R, K, C, H, W\)"),
    (images(2, 3), ["a"], None, r"row_labels must have .* length R = 2; got 1"),
    (images(2, 3), ["a", "b"], ["x", "y"], r"col_labels must have .* length K = 3; got 2"),
])
def test_labelled_rows_rejects_labels_that_do_not_match_the_images(x, rows, cols, message) -> None:
    with pytest.raises(ValueError, match=message):
        plots.labelled_rows(x, VR, rows, cols)


def test_denoising_grid_shows_clean_noisy_and_denoised_rows() -> None:
    clean, noisy, denoised = images(5, seed=0), images(5, seed=1), images(5, seed=2)
    fig = plots.denoising_grid(clean, noisy, denoised, VR, title="PSNR 12.0 dB -> 20.5 dB")
    (ax,) = fig.axes
    shown = ax.images[0].get_array()
    assert shown.shape == (3 * 9 + 1, 5 * 9 + 1)
    for row, x in enumerate((clean, noisy, denoised)):
        np.testing.assert_allclose(cell(shown, row, 4, pad=1), x[4, 0] / 16.0, rtol=1e-6)
    assert texts(ax.get_yticklabels()) == ["clean", "noisy", "denoised"]
    assert ax.get_title() == "PSNR 12.0 dB -> 20.5 dB"
    png(fig)


def test_denoising_grid_rejects_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match=r"same shape \(N, C, H, W\); got \(5, 1, 8, 8\), "
                                         r"\(4, 1, 8, 8\) and \(5, 1, 8, 8\)"):
        plots.denoising_grid(images(5), images(4), images(5), VR)
    with pytest.raises(ValueError, match=r"images has shape \(5, 8, 8\); allowed: \(N, C, H, W\)"):
        plots.denoising_grid(images(5), images(5)[:, 0], images(5), VR)


def test_attribute_strip_labels_strengths_and_frames_the_zero_column() -> None:
    x = images(4, 5)
    fig = plots.attribute_strip(x, VR, strengths=[-2, -1, 0, 1, 2])
    (ax,) = fig.axes
    shown = ax.images[0].get_array()
    np.testing.assert_allclose(cell(shown, 3, 2, pad=2), x[3, 2, 0] / 16.0, rtol=1e-6)
    labels = ax.get_xticklabels()
    assert texts(labels) == ["-2", "-1", "0", "+1", "+2"]
    assert labels[2].get_fontweight() == "bold" and labels[1].get_fontweight() != "bold"
    (box,) = frames(ax)
    assert box.get_x() + box.get_width() / 2 == pytest.approx(ax.get_xticks()[2])
    assert box.get_y() < 1.5 and box.get_y() + box.get_height() > 39.5  # rows 0..3: 2 + 3 * 10 + 8
    png(fig)


def test_attribute_strip_without_zero_strength_frames_nothing_and_checks_lengths() -> None:
    fig = plots.attribute_strip(images(2, 3), VR, strengths=[0.5, 1.0, 1.5])
    assert frames(fig.axes[0]) == []
    assert texts(fig.axes[0].get_xticklabels()) == ["+0.5", "+1", "+1.5"]
    with pytest.raises(ValueError, match="3 strengths per input but got 2 strengths"):
        plots.attribute_strip(images(2, 3), VR, strengths=[0, 1])


def test_normal_grid_is_symmetric_monotone_and_centred() -> None:
    g = plots.normal_grid(5).reshape(5, 5, 2)
    z0, z1 = g[..., 0], g[..., 1]
    assert (z0 == z0[:1]).all() and (z1 == z1[:, :1]).all()  # z0 varies along columns only
    assert (np.diff(z0[0]) > 0).all() and (np.diff(z1[:, 0]) < 0).all()  # z1 points up
    np.testing.assert_array_equal(z0[0], -z0[0, ::-1])
    assert g[2, 2].tolist() == [0.0, 0.0]
    assert z0[0, 0] == pytest.approx(NormalDist().inv_cdf(0.05))  # -1.645
    even = plots.normal_grid(4, eps=0.1)[:4, 0]
    assert 0.0 not in even and even[0] == pytest.approx(NormalDist().inv_cdf(0.1))
    with pytest.raises(ValueError, match="n=1 is not allowed; it must be an integer >= 2"):
        plots.normal_grid(1)
    with pytest.raises(ValueError, match=r"eps=0.5 is not allowed; it must be a number in \(0, 0.5\)"):
        plots.normal_grid(3, eps=0.5)


def test_manifold_grid_tiles_n_by_n_and_labels_axes_with_z_values() -> None:
    grid = plots.normal_grid(9)
    x = images(81)
    fig = plots.manifold_grid(x, VR, grid, title="manifold")
    (ax,) = fig.axes
    shown = ax.images[0].get_array()
    assert shown.shape == (9 * 9 + 1, 9 * 9 + 1)
    np.testing.assert_allclose(cell(shown, 2, 7, pad=1), x[2 * 9 + 7, 0] / 16.0, rtol=1e-6)
    # ticks on cells 0, 2, 4, 6, 8: Phi^-1 of u = 0.05, 0.275, 0.5, 0.725, 0.95
    assert texts(ax.get_xticklabels()) == ["-1.64", "-0.6", "0.0", "0.6", "1.64"]
    assert texts(ax.get_yticklabels()) == ["1.64", "0.6", "0.0", "-0.6", "-1.64"]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("z0", "z1")
    png(fig)


def test_manifold_grid_needs_a_square_number_of_images_matching_the_grid() -> None:
    with pytest.raises(ValueError, match="got 10 images"):
        plots.manifold_grid(images(10), VR, np.zeros((10, 2)))
    with pytest.raises(ValueError, match=r"grid values of shape \(9, 3\)"):
        plots.manifold_grid(images(9), VR, np.zeros((9, 3)))


def bars(ax) -> list[Rectangle]:
    return sorted((p for p in ax.patches if isinstance(p, Rectangle)), key=lambda p: p.get_x())


def test_kl_per_dimension_sorts_bars_and_counts_active_dims() -> None:
    kl = np.array([0.5, 0.001, 2.0, 0.02, 0.0])
    fig = plots.kl_per_dimension(kl, title="digits")
    (ax,) = fig.axes
    assert [b.get_height() for b in bars(ax)] == [2.0, 0.5, 0.02, 0.001, 0.0]
    assert texts(ax.get_xticklabels()) == ["z2", "z0", "z3", "z1", "z4"]
    assert ax.get_title() == "digits: 3 of 5 active"
    assert texts(ax.get_legend().get_texts()) == ["active: 3 of 5", "inactive: 2",
                                                  "threshold 0.01 nats"]
    assert ax.get_lines()[0].get_ydata()[0] == 0.01
    colours = [b.get_facecolor() for b in bars(ax)]
    assert colours[2] != colours[3] and len(set(colours[:3])) == 1
    png(fig)


def test_kl_per_dimension_in_index_order_with_another_threshold() -> None:
    kl = np.array([0.5, 0.001, 2.0, 0.02, 0.0])
    ax = plots.kl_per_dimension(torch.tensor(kl), threshold=0.6, sort=False).axes[0]
    assert [b.get_height() for b in bars(ax)] == kl.tolist()
    assert texts(ax.get_xticklabels()) == ["z0", "z1", "z2", "z3", "z4"]
    assert ax.get_title().endswith("1 of 5 active")


@pytest.mark.parametrize("kl, threshold, message", [
    (np.ones((2, 3)), 0.01, r"kl has shape \(2, 3\); allowed: \(Z,\)"),
    (np.array([1.0, np.nan]), 0.01, "finite"),
    (np.ones(3), -1.0, "threshold=-1.0 is not allowed; it must be a number of nats >= 0"),
])
def test_kl_per_dimension_rejects_bad_input(kl, threshold, message) -> None:
    with pytest.raises(ValueError, match=message):
        plots.kl_per_dimension(kl, threshold=threshold)


def history(weights: Sequence[float] | None = None) -> list[dict[str, float]]:
    """Six epochs of metrics.jsonl records, with validation and, if given, the KL weights."""
    records = [{"epoch": e, "train_loss": 10.0 - e, "train_rec": 8.0 - e, "train_kl": 2.0 / e,
                "val_loss": 11.0 - e, "val_rec": 9.0 - e, "val_kl": 2.5 / e} for e in range(1, 7)]
    for record, w in zip(records, weights or [], strict=False):
        record["kl_weight"] = w
    return records


def test_training_curves_draw_train_and_validation_per_panel() -> None:
    fig = plots.training_curves(history(), title="run")
    assert [ax.get_title() for ax in fig.axes] == ["loss (nats)", "reconstruction (nats)", "KL (nats)"]
    kl = fig.axes[2]
    assert [line.get_label() for line in kl.lines] == ["train", "validation"]
    np.testing.assert_allclose(kl.lines[0].get_ydata(), 2.0 / np.arange(1, 7))
    assert fig.get_suptitle() == "run" and texts(kl.texts) == []
    assert all(line.get_linestyle() == "-" for ax in fig.axes for line in ax.lines)  # no marker
    png(fig)


def test_training_curves_mark_the_collapse_epoch_on_every_panel() -> None:
    fig = plots.training_curves(history(), collapse_epoch=4)
    assert len(fig.axes) == 3
    for ax in fig.axes:
        (marker,) = [line for line in ax.lines if line.get_linestyle() == "--"]
        assert list(marker.get_xdata()) == [4, 4]
        assert marker.get_color() == "tab:red"
    assert texts(fig.axes[2].texts) == ["KL collapsed (epoch 4)"]
    assert texts(fig.axes[0].texts) == [] and texts(fig.axes[1].texts) == []
    png(fig)


def test_training_curves_add_a_kl_weight_axis_only_when_the_weight_varies() -> None:
    assert len(plots.training_curves(history([1.0] * 6)).axes) == 3
    warm_up = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    fig = plots.training_curves(history(warm_up))
    assert len(fig.axes) == 4
    twin = fig.axes[3]
    assert twin.get_ylabel() == "KL weight"
    assert twin.get_shared_x_axes().joined(twin, fig.axes[2])  # drawn on the KL panel
    (line,) = twin.lines
    np.testing.assert_allclose(line.get_xdata(), np.arange(1, 7))
    np.testing.assert_allclose(line.get_ydata(), warm_up)
    png(fig)
