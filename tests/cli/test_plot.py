"""vaelab plot (vaelab.cli.plot): latent, kl, curves and manifold figures, and what it refuses."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from cli_helpers import fails, is_png, ok, train_latent_runs


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """Tiny runs trained once per module (cli_helpers.train_latent_runs)."""
    return train_latent_runs(tmp_path_factory.mktemp("latent-runs"))


@pytest.mark.parametrize(("name", "what"), [("vae4", "latent"), ("ae2", "latent"),
                                            ("table", "latent"), ("vae4", "kl"),
                                            ("vae4", "curves"), ("vae2", "manifold")])
def test_plot_writes_a_png(runs, capsys, tmp_path, name, what):
    out = ok(capsys, "plot", runs[name], what, "--n", 4, "--out", "p.png")
    assert is_png(tmp_path / "p.png") and what in out


@pytest.mark.parametrize(("name", "words"), [
    ("vae4", ("plot manifold", "latent_dim is 4, not 2", "plot", "latent' instead")),
    ("ae2", ("an AE has no prior", "latent' instead")),
    ("table", ("this run holds table data", "latent' instead"))])
def test_plot_manifold_refuses_what_it_cannot_draw(runs, capsys, name, words):
    fails(capsys, "plot", runs[name], "manifold", "--out", "p.png", words=words)


def test_plot_kl_of_an_ae_is_refused(runs, capsys):
    fails(capsys, "plot", runs["ae2"], "kl", "--out", "p.png",
          words=("AE has no posterior", "KL per dimension", "use a VAE"))


def test_plot_needs_png_and_a_grid_of_two(runs, capsys):
    fails(capsys, "plot", runs["vae4"], "latent", "--out", "p.jpg",
          words=("--out p.jpg", "'.jpg'", "allowed: .png"))
    fails(capsys, "plot", runs["vae2"], "manifold", "--n", 1, "--out", "p.png",
          words=("--n 1", "at least 2"))


def test_plot_curves_without_metrics_is_refused(runs, capsys, tmp_path):
    run_dir = shutil.copytree(runs["vae2"], tmp_path / "copy")
    (run_dir / "metrics.jsonl").unlink()
    fails(capsys, "plot", run_dir, "curves", "--out", "p.png",
          words=("metrics.jsonl is missing", "manifest.json names it"))


def test_plot_manifold_refuses_a_grid_larger_than_a_picture_can_show(runs, capsys, tmp_path):
    fails(capsys, "plot", runs["vae2"], "manifold", "--n", 60, "--out", "p.png",
          words=("--n 60 is not allowed", "a PNG of 3,600 images", "at most 2,500"))
    assert not (tmp_path / "p.png").exists()
