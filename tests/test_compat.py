"""What vaelab 0.1 left behind still works: its import paths (with a DeprecationWarning naming the
new one) and the run directories it wrote (tests/fixtures/runs-0.1.0)."""

from __future__ import annotations

import importlib
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import vaelab
from vaelab import _deprecated
from vaelab.cli import main

OLD_RUNS = Path(__file__).parent / "fixtures" / "runs-0.1.0"


@pytest.mark.parametrize("old", sorted(_deprecated.MODULES))
def test_an_old_import_path_warns_and_gives_the_new_module(old: str, monkeypatch) -> None:
    monkeypatch.delitem(sys.modules, old, raising=False)
    new = _deprecated.MODULES[old]
    with pytest.warns(DeprecationWarning, match=f"{old} is deprecated .*; use {new}"):
        module = importlib.import_module(old)
    if old in _deprecated.BUILT:  # a module of wrappers around the new API
        assert module.__name__ == old
    else:
        assert module is importlib.import_module(new)


def test_old_checkpoint_functions_still_work(monkeypatch) -> None:
    monkeypatch.delitem(sys.modules, "vaelab.checkpoint", raising=False)
    with pytest.warns(DeprecationWarning):
        import vaelab.checkpoint as checkpoint
    run = OLD_RUNS / "vae-digits"
    assert checkpoint.read_config(run)["model"].latent_dim == 4
    assert len(checkpoint.read_metrics(run)) == 2 and checkpoint.is_run_dir(run)
    assert isinstance(checkpoint.load_model(run), vaelab.VAE)


def test_old_top_level_name_warns(monkeypatch) -> None:
    monkeypatch.delattr(vaelab, "plots_latent", raising=False)  # set by an import of the old path
    with pytest.warns(DeprecationWarning, match="vaelab.plots_latent is deprecated; use vaelab.plots.latent"):
        module = vaelab.plots_latent
    assert module.latent_scatter is vaelab.plots.latent_scatter


def test_a_run_written_by_0_1_loads_and_computes_what_it_did() -> None:
    model = vaelab.load(OLD_RUNS / "vae-digits")
    assert isinstance(model, vaelab.VAE) and model.data_info.name == "digits"
    expected = np.load(OLD_RUNS / "vae-digits-expected.npz")
    x = torch.from_numpy(expected["x"])
    np.testing.assert_allclose(model.reconstruct(x).numpy(), expected["reconstruction"], rtol=1e-5, atol=1e-5)
    samples = model.sample(3, generator=torch.Generator().manual_seed(0)).numpy()
    np.testing.assert_allclose(samples, expected["samples"], rtol=1e-5, atol=1e-5)
    run = vaelab.RunDir(OLD_RUNS / "vae-digits")
    assert run.read_config().vaelab_version == "0.1.0" and run.read_evaluation()["iwae_k"] == 10


def test_a_conditional_table_run_written_by_0_1_loads() -> None:
    model = vaelab.load(OLD_RUNS / "cvae-table")
    expected = np.load(OLD_RUNS / "cvae-table-expected.npz")
    out = model.reconstruct(torch.from_numpy(expected["x"]), torch.from_numpy(expected["y"])).numpy()
    np.testing.assert_allclose(out, expected["reconstruction"], rtol=1e-5, atol=1e-5)
    assert model.data_info.classes == ("blue", "green", "red")
    assert model.data_info.categories == ((), (), ("1", "2", "3"))


def test_the_cli_works_on_old_runs_and_resumes_them(tmp_path, monkeypatch, capsys) -> None:
    work = tmp_path / "runs"
    shutil.copytree(OLD_RUNS, work)
    monkeypatch.chdir(work)
    monkeypatch.setenv("VAELAB_CACHE", str(tmp_path / "cache"))
    assert main(["info", "vae-digits", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["epochs_done"] == 2
    assert main(["sample", "vae-digits", "--sampler", "gmm", "-n", "4", "--out", "s.png"]) == 0
    assert main(["reconstruct", "cvae-table", "--out", "r.csv"]) == 0  # reads mixed.csv by its columns
    assert main(["train", "--resume", "--out", "vae-digits", "--epochs", "3", "--quiet", "--no-figures"]) == 0
    assert len(vaelab.RunDir("vae-digits").read_metrics()) == 3
