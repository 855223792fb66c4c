"""Fixtures of the command-line tests: every test runs with one torch thread and in its own empty
folder, and the digits and table runs that several modules share."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest
from cli_helpers import TINY, write_table

import vaelab
import vaelab.latent
from vaelab.cli import main


@pytest.fixture(scope="module", autouse=True)
def one_thread(one_thread):
    """tests/conftest.py's one_thread, for every CLI test module."""
    return one_thread


@pytest.fixture(autouse=True)
def isolated(isolated):
    """tests/conftest.py's isolated, for every CLI test."""
    return isolated


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    """Factory: the run directory of a 2-epoch digits model (model, arch), trained once per module
    with figures. Tests that change a run copy it first."""
    root = tmp_path_factory.mktemp("digits-runs")
    cache: dict[tuple[str, str], tuple[Path, str]] = {}

    def get(model: str = "vae", arch: str = "conv") -> tuple[Path, str]:
        if (model, arch) not in cache:
            out = root / f"{model}-{arch}"
            stdout = io.StringIO()
            with contextlib.redirect_stdout(stdout):
                code = main(["train", "--data", "digits", "--model", model, "--arch", arch,
                             "--epochs", "2", *TINY, "--out", str(out)])
            assert code == 0
            cache[model, arch] = (out, stdout.getvalue())
        return cache[model, arch]

    return get


@pytest.fixture(scope="module")
def table_run(tmp_path_factory):
    """A 2-epoch VAE on a 60-row CSV (columns a, b, kind, c; label column 'kind')."""
    root = tmp_path_factory.mktemp("table")
    kinds = write_table(root / "table.csv")
    out = root / "run"
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        code = main(["train", "--data", str(root / "table.csv"), "--label-column", "kind",
                     "--epochs", "2", "--latent-dim", "2", "--hidden", "8", "--quiet",
                     "--out", str(out)])
    assert code == 0
    return out, root / "table.csv", kinds


@pytest.fixture
def fits(monkeypatch):
    """Counts the calls of vaelab.latent.samplers.fit_gmm (which the CLI and the report use)."""
    calls: list[int] = []
    real = vaelab.latent.samplers.fit_gmm

    def spy(*args, **kwargs):
        calls.append(kwargs.get("n_components", 10))
        return real(*args, **kwargs)

    monkeypatch.setattr(vaelab.latent.samplers, "fit_gmm", spy)
    return calls
