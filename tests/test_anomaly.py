"""vaelab.anomaly: row-wise anomaly scores of a model on a mixed table, and the threshold."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import table_data

import vaelab
from vaelab import anomaly

pytestmark = pytest.mark.usefixtures("one_thread")


def test_anomaly_scores_are_row_wise_and_find_the_outliers(mixed_run):
    model, data, outliers = mixed_run
    x = data.split("all")[0]
    for score in anomaly.SCORES:
        s = anomaly.scores(model, x, score=score)
        assert s.shape == (len(x),) and np.isfinite(s).all()
        np.testing.assert_allclose(anomaly.scores(model, x[::-1][:50], score=score), s[::-1][:50], rtol=1e-5)
        labels = np.zeros(len(x))
        labels[outliers] = 1
        from sklearn.metrics import roc_auc_score

        assert roc_auc_score(labels, s) > 0.9, score
    t = anomaly.threshold(s, 0.05)
    assert np.sum(s > t) == pytest.approx(0.05 * len(x), abs=1)


def test_anomaly_score_errors():
    data = table_data(d=3, n=40)
    ae = vaelab.build_model(data=data, model="ae", hidden=(8,), seed=0)
    with pytest.raises(ValueError, match="score='elbo' is not allowed; this AE has no posterior"):
        anomaly.scores(ae, data.x_test, score="elbo")
    assert anomaly.scores(ae, data.x_test).shape == (len(data.x_test),)  # reconstruction by default
    for bad in (0, 0.7, float("nan"), True):
        with pytest.raises(ValueError, match="contamination=.* is not allowed"):
            anomaly.threshold(np.zeros(3), bad)
