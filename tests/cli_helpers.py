"""Shared pieces of the command-line tests: calling ``vaelab.cli.main`` in-process and checking
its one-line errors, and the tiny runs and files several CLI test modules train or write. Fixtures
live in conftest.py, not here."""

from __future__ import annotations

import contextlib
import csv
import io
import shutil
from pathlib import Path

import numpy as np
import torch

from vaelab.cli import main

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def run(capsys, *argv) -> tuple[int, str, str]:
    """Call the CLI in-process; return (exit status, stdout, stderr)."""
    capsys.readouterr()  # drop anything printed before
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def ok(capsys, *argv) -> str:
    """Assert the CLI succeeds; return its stdout."""
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    return out


def fails(capsys, *argv, words: tuple[str, ...]) -> str:
    """Assert the CLI exits 2 with one line ``vaelab: error: ...`` holding every word; return it."""
    code, _, err = run(capsys, *argv)
    lines = err.strip().splitlines()
    assert code == 2, f"exit {code}; stderr: {err}"
    assert len(lines) == 1 and lines[0].startswith("vaelab: error: "), err
    assert "Traceback" not in err
    for word in words:
        assert word in lines[0], f"{word!r} not in {lines[0]!r}"
    return lines[0]


def is_png(path: Path) -> bool:
    return path.is_file() and path.read_bytes()[:8] == PNG_MAGIC


# -- tiny runs and files of the train/use tests ----------------------------------------------------

TINY = ["--latent-dim", "2", "--hidden", "16", "--channels", "4", "--quiet"]


def read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def write_table(path: Path, n: int = 60, seed: int = 0) -> list[str]:
    """A CSV with numeric columns a, b, c and a text label column 'kind'; returns the labels."""
    rng = np.random.default_rng(seed)
    kinds = ["red" if i % 3 else "blue" for i in range(n)]
    x = rng.normal(size=(n, 3)) * [1.0, 10.0, 0.1] + [0.0, 50.0, -3.0]
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["a", "b", "kind", "c"])
        for row, kind in zip(x, kinds, strict=True):
            writer.writerow([f"{row[0]:.5f}", f"{row[1]:.5f}", kind, f"{row[2]:.5f}"])
    return kinds


def copy_run(run_dir: Path, dest: Path) -> Path:
    shutil.copytree(run_dir, dest)
    return dest


# -- the latent commands' runs --------------------------------------------------------------------

LATENT_TINY = ["--arch", "mlp", "--hidden", "16", "--epochs", "2", "--quiet", "--no-figures",
               "--device", "cpu"]


def train_latent_runs(root: Path) -> dict[str, Path]:
    """Tiny runs trained in ``root``: digits VAEs with latent 2 and 4, a digits AE, and a VAE on a
    60-row CSV (columns a, b, c; text labels red/blue in the column 'kind')."""
    rng = np.random.default_rng(0)
    with open(root / "table.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["a", "b", "kind", "c"])
        for i in range(60):
            a, b, c = rng.normal(size=3) * [1.0, 10.0, 0.1] + [0.0, 50.0, -3.0]
            writer.writerow([f"{a:.4f}", f"{b:.4f}", "red" if i % 3 else "blue", f"{c:.4f}"])
    with open(root / "table.csv") as f, open(root / "unlabelled.csv", "w") as g:
        g.writelines(",".join(v for j, v in enumerate(line.strip().split(",")) if j != 2) + "\n"
                     for line in f)
    jobs = {"vae2": ["--data", "digits", "--model", "vae", "--latent-dim", "2"],
            "vae4": ["--data", "digits", "--model", "vae", "--latent-dim", "4"],
            "ae2": ["--data", "digits", "--model", "ae", "--latent-dim", "2"],
            "table": ["--data", root / "table.csv", "--label-column", "kind", "--latent-dim", "2"]}
    for name, argv in jobs.items():
        with contextlib.redirect_stdout(io.StringIO()):
            assert main(["train", *map(str, argv), *LATENT_TINY, "--out", str(root / name)]) == 0
    return {**{name: root / name for name in jobs}, "csv": root / "table.csv",
            "unlabelled": root / "unlabelled.csv"}


# -- the evaluate runs ----------------------------------------------------------------------------

EVAL_TINY = ["--arch", "mlp", "--hidden", "16", "--latent-dim", "4", "--epochs", "3", "--quiet",
             "--no-figures", "--device", "cpu"]
KEYS = {"neg_elbo", "neg_elbo_se", "rec", "kl", "nll_iwae", "nll_iwae_se", "bits_per_dim", "active_units",
        "kl_per_dim", "fd_samples", "fd_recon", "fd_floor", "precision", "recall", "probe_accuracy",
        "classifier_accuracy", "iwae_k", "n"}


def train_eval_runs(root: Path) -> dict[str, Path]:
    """Digits runs trained in ``root``: a VAE on grey levels, a binarized VAE, and an AE."""
    torch.set_num_threads(1)
    jobs = {"vae": [], "binary": ["--binarize", "dynamic"], "ae": ["--model", "ae"]}
    for name, extra in jobs.items():
        assert main(["train", "--data", "digits", *EVAL_TINY, *extra, "--out", str(root / name)]) == 0
    return {name: root / name for name in jobs}


# -- the report runs ------------------------------------------------------------------------------

REPORT_TINY = ["--latent-dim", "3", "--hidden", "16", "--channels", "4", "--quiet", "--no-figures"]
IMG = '<img src="data:image/png;base64,'
HOSTILE = "<script>alert(1)</script>"
HOSTILE_CLASS = "<b>red</b>"


def train(*argv) -> None:
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["train", *map(str, argv)]) == 0


def train_report_runs(root: Path) -> Path:
    """1-epoch digits runs (VAE and AE, conv) and a 2-epoch VAE on a CSV whose column and class
    names are hostile HTML, trained in ``root``."""
    for model in ("vae", "ae"):
        train("--data", "digits", "--model", model, "--arch", "conv", "--epochs", 1, *REPORT_TINY,
              "--out", root / model)
    rng = np.random.default_rng(0)
    with open(root / "table.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["a", HOSTILE, "kind", "c"])
        for i in range(60):
            a, b, c = rng.normal(size=3) * [1.0, 10.0, 0.1] + [0.0, 50.0, -3.0]
            writer.writerow([f"{a:.4f}", f"{b:.4f}", HOSTILE_CLASS if i % 3 else "blue", f"{c:.4f}"])
    train("--data", root / "table.csv", "--label-column", "kind", "--epochs", 2, "--latent-dim", 2,
          "--hidden", 8, "--quiet", "--no-figures", "--out", root / "table")
    return root
