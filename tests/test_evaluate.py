"""``vaelab.evaluate`` and the ``vaelab evaluate`` command on tiny digits runs: every number is
checked against the metric it stands for, and every error path for its message."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

import vaelab
from vaelab.evaluation import classifier, metrics
from vaelab.cli import main

from cli_helpers import fails, isolated, ok, one_thread, run  # noqa: F401  (fixtures)

TINY = ["--arch", "mlp", "--hidden", "16", "--latent-dim", "4", "--epochs", "3", "--quiet",
        "--no-figures", "--device", "cpu"]
KEYS = {"neg_elbo", "rec", "kl", "nll_iwae", "bits_per_dim", "active_units", "kl_per_dim", "fd_samples",
        "fd_recon", "fd_floor", "precision", "recall", "probe_accuracy", "classifier_accuracy", "iwae_k", "n"}


@pytest.fixture(scope="module")
def digits() -> vaelab.Dataset:
    return vaelab.load_dataset("digits")


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """Digits runs trained once: a VAE on grey levels, a binarized VAE, and an AE."""
    root = tmp_path_factory.mktemp("eval-runs")
    torch.set_num_threads(1)
    jobs = {"vae": [], "binary": ["--binarize", "dynamic"], "ae": ["--model", "ae"]}
    for name, extra in jobs.items():
        assert main(["train", "--data", "digits", *TINY, *extra, "--out", str(root / name)]) == 0
    return {name: root / name for name in jobs}


@pytest.fixture(scope="module")
def clf(digits) -> classifier.FeatureClassifier:
    return classifier.train_classifier(digits, epochs=5)


def test_evaluate_numbers_agree_with_the_metrics(runs, digits, clf) -> None:
    model = vaelab.load(runs["binary"])
    ev = vaelab.evaluate(model, digits, iwae_k=50, classifier=clf)
    assert KEYS <= set(ev.to_dict())
    assert ev.n == len(digits.x_test) and ev.split == "test" and ev.iwae_k == 50
    assert ev.exact_likelihood and ev.notes == []
    x = metrics.prepared(model, digits.x_test)
    terms = metrics.elbo(model, x)
    assert ev.neg_elbo == pytest.approx(terms.neg_elbo.mean())
    assert ev.neg_elbo == pytest.approx(ev.rec + ev.kl)
    assert ev.nll_iwae == pytest.approx(-metrics.log_likelihood(model, x, k=50).mean())
    assert ev.nll_iwae < ev.neg_elbo
    assert ev.bits_per_dim == pytest.approx(ev.nll_iwae / (64 * math.log(2)))
    assert sum(ev.kl_per_dim) == pytest.approx(ev.kl, rel=1e-5)  # closed-form KL either way
    assert ev.active_units == metrics.active_units(model, x)
    assert ev.classifier_accuracy == clf.meta["test_accuracy"]
    assert 0 < ev.probe_accuracy <= 1 and 0 <= ev.precision <= 1 and 0 <= ev.recall <= 1
    # a 3-epoch model is far from the data; the training set is near the test set
    assert 0 <= ev.fd_floor < ev.fd_recon and ev.fd_floor < ev.fd_samples
    assert set(ev.seconds) >= {"elbo", "nll_iwae", "fidelity"}
    json.dumps(ev.to_dict())  # plain JSON


def test_evaluate_says_when_a_bernoulli_scores_grey_levels(runs, digits) -> None:
    ev = vaelab.evaluate(vaelab.load(runs["vae"]), digits, iwae_k=0, limit=40)
    assert not ev.exact_likelihood and "cross-entropies" in ev.notes[0]
    assert ev.n == 40 and ev.nll_iwae is None and ev.bits_per_dim is None and ev.iwae_k == 0
    assert ev.fd_samples is None and ev.classifier_accuracy is None  # no classifier given


def test_an_ae_has_no_likelihood_but_a_reconstruction_and_gmm_samples(runs, digits, clf) -> None:
    model = vaelab.load(runs["ae"])
    ev = vaelab.evaluate(model, digits, iwae_k=50, classifier=clf, limit=100)
    assert ev.neg_elbo is None and ev.nll_iwae is None and ev.kl is None and ev.kl_per_dim is None
    assert ev.rec == pytest.approx(metrics.reconstruction_error(model, digits.x_test[:100]).mean())
    assert ev.fd_samples is None and ev.fd_recon is not None
    assert any("no prior" in note for note in ev.notes)
    gmm = vaelab.latent.fit_gmm(model, digits.x_train, n_components=3)
    ev = vaelab.evaluate(model, digits, iwae_k=0, classifier=clf, sampler=gmm, limit=100)
    assert ev.fd_samples is not None and ev.precision is not None


def test_evaluate_refuses_bad_arguments(runs, digits) -> None:
    model = vaelab.load(runs["vae"])
    with pytest.raises(ValueError, match=r"iwae_k=-1 is not allowed"):
        vaelab.evaluate(model, digits, iwae_k=-1)
    with pytest.raises(ValueError, match="unknown split 'val'"):
        vaelab.evaluate(model, digits, "val")
    with pytest.raises(ValueError, match="limit=0 is not allowed"):
        vaelab.evaluate(model, digits, limit=0)
    table = vaelab.Dataset.from_arrays(
        vaelab.DataInfo("t", "t", "table", (3,), (0.0, 1.0), columns=("a", "b", "c")),
        np.zeros((10, 3), np.float32))
    with pytest.raises(ValueError, match=r"shape \(1, 8, 8\)"):
        vaelab.evaluate(model, table)


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
