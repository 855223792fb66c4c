"""vaelab evaluate (vaelab.cli.evaluate) on tiny digits runs: its JSON, its table and its errors."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import KEYS, fails, ok, run, train, train_eval_runs
from helpers import iris_csv

from vaelab.report.html import fmt


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """Digits runs trained once per module (cli_helpers.train_eval_runs)."""
    return train_eval_runs(tmp_path_factory.mktemp("eval-runs"))


def test_cli_evaluate_json_matches_the_file_and_has_every_key(capsys, runs) -> None:
    out = ok(capsys, "evaluate", runs["binary"], "--iwae-k", "20", "--limit", "100", "--json",
             "--device", "cpu")
    record = json.loads(out)
    assert KEYS <= set(record)
    assert record == json.loads((runs["binary"] / "evaluation.json").read_text())
    assert record["n"] == 100 and record["iwae_k"] == 20 and record["classifier"] == "trained now, cached"
    assert record["nll_iwae"] < record["neg_elbo"]
    assert len(record["kl_per_dim"]) == 4
    assert 0.5 < record["classifier_accuracy"] <= 1
    assert record["fd_floor"] < record["fd_samples"]
    # the second run finds the classifier in the cache ($VAELAB_CACHE/classifiers)
    assert len(list(Path("cache/classifiers").glob("*.safetensors"))) == 1
    again = json.loads(ok(capsys, "evaluate", runs["binary"], "--iwae-k", "20", "--limit", "100",
                          "--json", "--device", "cpu"))
    assert again["classifier"] == "cached" and again["fd_samples"] == record["fd_samples"]


def test_cli_evaluate_prints_a_table(capsys, runs) -> None:
    out = ok(capsys, "evaluate", runs["vae"], "--iwae-k", "10", "--no-fidelity", "--device", "cpu")
    assert "-ELBO (nats)" in out and "NLL, IWAE k=10 (nats)" in out and "bits/dim" in out
    assert "active units" in out and "linear probe accuracy" in out
    assert "note: the Bernoulli likelihood scores grey levels" in out
    assert f"wrote {runs['vae'] / 'evaluation.json'}" in out
    ok(capsys, "report", runs["vae"], "--device", "cpu")  # the report shows the evaluation
    page = (runs["vae"] / "report.html").read_text()
    assert "NLL, importance-weighted (nats)" in page and "cross-entropies" in page
    out = ok(capsys, "evaluate", runs["ae"], "--iwae-k", "10", "--sampler", "gmm", "--limit", "50",
             "--device", "cpu")
    assert "reconstruction (nats)" in out and "NLL, IWAE" not in out and "Fréchet: samples" in out


NOTE = "training the feature classifier of the Fréchet distances on table once"


def test_cli_evaluate_says_when_it_trains_the_classifier_and_shows_bars_on_a_terminal(capsys, monkeypatch,
                                                                                      table_run) -> None:
    run_dir = table_run[0]
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    code, out, err = run(capsys, "evaluate", run_dir, "--iwae-k", "5", "--json", "--device", "cpu")
    assert code == 0 and json.loads(out)["classifier"] == "trained now, cached"  # stdout: the JSON only
    assert err.count(NOTE) == 1 and "cache/classifiers" in err and "(50 epochs)" in err
    assert "epoch/s" not in err and "log p(x)" not in err  # --json: no bars
    shutil.rmtree("cache/classifiers")  # train it again, now for the table
    code, out, err = run(capsys, "evaluate", run_dir, "--iwae-k", "5", "--device", "cpu")
    assert code == 0 and "Fréchet: samples" in out and "\r" not in out
    assert err.count(NOTE) == 1 and "epoch/s" in err and "log p(x), k=5" in err  # the note and the bars
    code, out, err = run(capsys, "evaluate", run_dir, "--iwae-k", "5", "--device", "cpu")
    assert code == 0 and NOTE not in err and "epoch/s" not in err  # cached: nothing to train
    assert "log p(x), k=5" in err


def test_cli_evaluate_shows_standard_errors_on_a_tiny_mixed_table(capsys, tmp_path) -> None:
    # Issue 17: on such a table the -ELBO and the NLL differ by less than their standard errors
    train("--data", iris_csv(tmp_path / "iris.csv"), "--epochs", 30, "--batch-size", 32, "--latent-dim", 2,
          "--hidden", 16, "--quiet", "--no-figures", "--device", "cpu", "--out", tmp_path / "iris")
    record = json.loads(ok(capsys, "evaluate", tmp_path / "iris", "--iwae-k", "20", "--json"))
    assert record["n"] == 6 and record["nll_iwae"] < record["neg_elbo"]
    assert record["neg_elbo_se"] > 0 and record["nll_iwae_se"] > 0
    out = ok(capsys, "evaluate", tmp_path / "iris", "--iwae-k", "20")
    assert f"{record['neg_elbo']:.2f} ± {record['neg_elbo_se']:.2f}" in out
    assert f"{record['nll_iwae']:.2f} ± {record['nll_iwae_se']:.2f}" in out
    assert "standard error over the 6 rows; from the same 20 draws per row" in out
    ok(capsys, "report", tmp_path / "iris", "--device", "cpu")
    page = (tmp_path / "iris" / "report.html").read_text()
    assert f"{fmt(record['neg_elbo'])} ± {record['neg_elbo_se']:.2g}" in page
    assert f"{fmt(record['nll_iwae'])} ± {record['nll_iwae_se']:.2g}" in page
    assert "± is the standard error of the mean over the rows" in page


def test_cli_evaluate_errors(capsys, runs, tmp_path) -> None:
    before = (runs["vae"] / "model.safetensors").read_bytes()
    fails(capsys, "evaluate", runs["vae"], "--iwae-k", "-1", words=("--iwae-k -1", ">= 0"))
    fails(capsys, "evaluate", runs["vae"], "--limit", "0", words=("--limit 0",))
    fails(capsys, "evaluate", tmp_path / "nowhere", words=("nowhere",))
    np.savetxt(tmp_path / "t.csv", np.ones((20, 3)), delimiter=",", header="a,b,c", comments="")
    fails(capsys, "evaluate", runs["vae"], "--data", tmp_path / "t.csv", words=("rows have shape (3,)",))
    with pytest.raises(SystemExit) as exit_info:  # argparse's own usage error
        run(capsys, "evaluate", runs["vae"], "--split", "val")
    assert exit_info.value.code == 2 and "invalid choice: 'val'" in capsys.readouterr().err
    assert (runs["vae"] / "model.safetensors").read_bytes() == before  # nothing lost
