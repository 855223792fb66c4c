"""vaelab.evaluation.evaluate: every number of evaluate() against the metric it stands for, and its errors."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import KEYS, train_eval_runs

import vaelab
from vaelab.evaluation import classifier, metrics

pytestmark = pytest.mark.usefixtures("one_thread", "isolated")


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """Digits runs trained once per module (cli_helpers.train_eval_runs)."""
    return train_eval_runs(tmp_path_factory.mktemp("eval-runs"))


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
    b = metrics.bounds(model, x, k=50)  # the -ELBO and the NLL from the same 50 draws per row
    assert ev.neg_elbo == pytest.approx(b.neg_elbo.mean()) and ev.nll_iwae == pytest.approx(b.nll.mean())
    assert ev.neg_elbo_se == pytest.approx(b.neg_elbo.std(ddof=1) / math.sqrt(len(x)))
    assert ev.nll_iwae_se == pytest.approx(b.nll.std(ddof=1) / math.sqrt(len(x)))
    assert ev.neg_elbo == pytest.approx(ev.rec + ev.kl)
    assert ev.nll_iwae < ev.neg_elbo
    assert ev.bits_per_dim == pytest.approx(ev.nll_iwae / (64 * math.log(2)))
    # kl is estimated from the draws, kl_per_dim is in closed form: they agree up to Monte Carlo error
    assert abs(sum(ev.kl_per_dim) - ev.kl) < 4 * metrics.standard_error(b.kl)
    assert ev.active_units == metrics.active_units(model, x)
    assert ev.classifier_accuracy == clf.meta["test_accuracy"]
    assert 0 < ev.probe_accuracy <= 1 and 0 <= ev.precision <= 1 and 0 <= ev.recall <= 1
    # a 3-epoch model is far from the data; the training set is near the test set
    assert 0 <= ev.fd_floor < ev.fd_recon and ev.fd_floor < ev.fd_samples
    assert set(ev.seconds) >= {"likelihood", "fidelity"}
    json.dumps(ev.to_dict())  # plain JSON


def test_on_a_tiny_mixed_table_the_nll_stays_below_the_neg_elbo_and_both_have_errors(tiny_mixed) -> None:
    # Issue 17: evaluate reported an NLL above the -ELBO on 6 rows of a 30-row mixed table. With the
    # -ELBO from a draw of its own that happens for 3 of these 10 seeds; from the NLL's draws never.
    model, data = tiny_mixed
    for seed in range(10):
        ev = vaelab.evaluate(model, data, iwae_k=20, seed=seed)
        assert ev.n == 6 and ev.nll_iwae < ev.neg_elbo, seed
        assert ev.neg_elbo_se > 0 and ev.nll_iwae_se > 0
    # the errors are what make the numbers honest here: larger than the gap between them
    assert ev.neg_elbo_se > ev.neg_elbo - ev.nll_iwae
    one = vaelab.evaluate(model, data, iwae_k=20, limit=1)
    assert one.neg_elbo_se is None and one.nll_iwae_se is None  # one row has no spread to measure


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
