"""The scikit-learn estimators of vaelab.estimators: sklearn's estimator checks, pipelines and
grid search, and anomaly detection on the breast cancer data."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from vaelab.estimators import (
    AUTO_MAX_EPOCHS,
    AETransformer,
    VAEAnomalyDetector,
    VAETransformer,
    auto_epochs,
    expected_failed_checks,
)


def _rows(n: int = 60, d: int = 5, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)) @ rng.normal(size=(d, d)) + 3.0  # (n, d), correlated columns


@parametrize_with_checks(
    [VAETransformer(epochs=2, random_state=0), AETransformer(epochs=2, random_state=0),
     VAEAnomalyDetector(epochs=2, random_state=0),
     VAEAnomalyDetector(epochs=2, score_type="nll", random_state=0),
     VAEAnomalyDetector(epochs=2, scaling="shared", random_state=0)],
    expected_failed_checks=expected_failed_checks,
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


@pytest.mark.parametrize("cls", [VAETransformer, AETransformer])
def test_transformer_shapes_and_determinism(cls):
    x = _rows()
    est = cls(latent_dim=3, epochs=5, random_state=1)
    codes = est.fit_transform(x)
    assert codes.shape == (60, 3) and codes.dtype == np.float64
    assert est.n_features_in_ == 5
    np.testing.assert_array_equal(codes, est.transform(x))
    np.testing.assert_array_equal(codes, clone(est).fit(x).transform(x))  # seeded: same fit twice
    back = est.inverse_transform(codes)
    assert back.shape == (60, 5) and np.isfinite(back).all()
    scores = est.score_samples(x)
    assert scores.shape == (60,) and np.isfinite(scores).all()
    np.testing.assert_array_equal(scores, est.score_samples(x))
    assert list(est.get_feature_names_out()) == [f"{cls.__name__.lower()}{i}" for i in range(3)]
    with pytest.raises(ValueError, match="allowed"):
        est.inverse_transform(np.zeros((2, 4)))


def test_fit_leaves_global_torch_rng_alone():
    state = torch.get_rng_state()
    VAETransformer(epochs=1, random_state=0).fit(_rows(20))
    assert torch.equal(state, torch.get_rng_state())


def test_vae_score_samples_prefers_training_like_rows():
    x = _rows(200)
    est = VAETransformer(epochs=40, random_state=0).fit(x)
    far = x[:20] + 25.0  # far outside the training cloud
    assert est.score_samples(far).mean() < est.score_samples(x[:20]).mean()
    assert est.score(x) == pytest.approx(est.score_samples(x).mean())


def test_auto_epochs_counts_optimizer_steps():
    assert auto_epochs(214, 16) == AUTO_MAX_EPOCHS  # a small table: capped passes
    assert auto_epochs(6000, 16) == 14  # 375 steps per pass -> 5,250 steps
    assert auto_epochs(10**6, 16) == 1  # one pass is already more than AUTO_STEPS
    est = VAETransformer(batch_size=64, random_state=0).fit(_rows(100))
    assert est.n_epochs_ == auto_epochs(100, 64) == AUTO_MAX_EPOCHS
    assert VAETransformer(epochs=3, random_state=0).fit(_rows(10)).n_epochs_ == 3


def test_shared_scaling_tames_a_nearly_blank_pixel():
    """Pixel-like rows: a column that is blank in all but one training row. Scaled on its own,
    a faint speck there outweighs a wholly wrong image; with a shared scale the wrong image scores
    higher."""
    rng = np.random.default_rng(0)
    proto = rng.uniform(0.2, 1.0, 16)  # normal rows: a noisy copy of one pattern in the first 16 columns
    x = np.column_stack([np.clip(proto + rng.normal(0, 0.05, (300, 16)), 0, 1), np.zeros((300, 4))])
    x[0, 16] = 0.05  # (300, 20): column 16 nearly blank, columns 17-19 blank
    speck = x[1].copy()
    speck[16] = 0.3  # a normal image with a faint speck in the nearly blank column
    wrong = x[2].copy()
    wrong[:16] = 1.0 - wrong[:16]  # the pattern inverted
    test = np.stack([speck, wrong])
    own = VAEAnomalyDetector(epochs=20, random_state=0).fit(x)
    shared = VAEAnomalyDetector(epochs=20, scaling="shared", random_state=0).fit(x)
    s_own, s_shared = own.decision_function(test), shared.decision_function(test)
    assert s_own[0] > s_own[1]  # the speck dominates with per-column scales ...
    assert s_shared[1] > s_shared[0]  # ... and the inverted pattern is the anomaly with a shared one


@pytest.mark.parametrize("bad", [{"latent_dim": 0}, {"hidden": (0,)}, {"epochs": 0}, {"epochs": "many"},
                                 {"lr": float("nan")}, {"scaling": "pixel"},
                                 {"contamination": 0.0}, {"contamination": 0.6}, {"score_type": "bogus"}])
def test_bad_parameters_raise_at_fit(bad):
    with pytest.raises(ValueError, match="not allowed"):
        VAEAnomalyDetector(**{"epochs": 1, **bad}).fit(_rows(10))


def test_pipeline_grid_search_over_latent_dim():
    x, y = load_breast_cancer(return_X_y=True)
    pipe = Pipeline([("scale", StandardScaler()),
                     ("vae", VAETransformer(epochs=10, batch_size=64, random_state=0)),
                     ("clf", LogisticRegression(max_iter=500))])
    search = GridSearchCV(pipe, {"vae__latent_dim": [2, 4]}, cv=2).fit(x, y)
    assert search.best_params_["vae__latent_dim"] in (2, 4)
    assert search.best_score_ > 0.85
    assert search.predict(x[:5]).shape == (5,)


def test_detector_api():
    x = _rows(100)
    det = VAEAnomalyDetector(contamination=0.1, epochs=5, random_state=0).fit(x)
    assert det.decision_scores_.shape == (100,)
    assert det.threshold_ == pytest.approx(np.quantile(det.decision_scores_, 0.9))
    np.testing.assert_array_equal(det.decision_function(x), det.decision_scores_)
    labels = det.predict(x)
    assert set(np.unique(labels)) <= {0, 1}
    np.testing.assert_array_equal(labels, det.labels_)
    assert labels.sum() == 10
    proba = det.predict_proba(x)
    assert proba.shape == (100, 2)
    np.testing.assert_allclose(proba.sum(1), 1.0)
    assert proba.min() >= 0 and proba.max() <= 1
    assert proba[np.argmax(det.decision_scores_), 1] == 1.0
    # row-wise scores: a subset scores as it does inside the whole
    np.testing.assert_allclose(det.decision_function(x[::-1][:7]), det.decision_scores_[::-1][:7])


@pytest.mark.parametrize("score_type", ["elbo", "reconstruction", "nll"])
def test_detector_finds_malignant_tumours(score_type):
    x, y = load_breast_cancer(return_X_y=True)  # y: 0 malignant, 1 benign
    benign, malignant = x[y == 1], x[y == 0]
    rng = np.random.default_rng(0)
    order = rng.permutation(len(benign))
    train, held_out = benign[order[:250]], benign[order[250:]]
    det = VAEAnomalyDetector(score_type=score_type, latent_dim=4, epochs=60, random_state=0).fit(train)
    x_test = np.concatenate([held_out, malignant])
    is_outlier = np.r_[np.zeros(len(held_out)), np.ones(len(malignant))]
    assert roc_auc_score(is_outlier, det.decision_function(x_test)) > 0.8
