"""vaelab.evaluation.classifier: the feature classifier: training, fingerprint, cache, features."""

from __future__ import annotations

import dataclasses
import json
import re

import numpy as np
import pytest
import torch
from helpers import image_data, table_data

import vaelab
from vaelab.data import DataInfo, Dataset
from vaelab.evaluation.classifier import (
    FeatureClassifier,
    dataset_fingerprint,
    feature_classifier,
    features,
    is_cached,
    load_classifier,
    save_classifier,
    train_classifier,
)

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def digits_clf(digits) -> FeatureClassifier:
    return train_classifier(digits)  # default epochs: 14 for 1437 rows


def labelled_table(n: int = 120, d: int = 6, seed: int = 0) -> Dataset:
    """Two classes told apart by the sign of the first column; columns on very different scales."""
    rng = np.random.default_rng(seed)
    x = (rng.normal(size=(n, d)) * np.logspace(0, 3, d) + 50.0).astype(np.float32)
    y = (x[:, 0] > 50.0).astype(np.int64)
    info = DataInfo("toy-labelled", "test", "table", (d,), (float(x.min()), float(x.max())),
                    columns=tuple(f"c{i}" for i in range(d)), classes=("low", "high"))
    return Dataset.from_arrays(info, x, y, test_fraction=0.25, seed=0)


def with_labels(data: Dataset, y_train: np.ndarray) -> Dataset:
    return dataclasses.replace(data, y_train=y_train)


# -- training -----------------------------------------------------------------------------------


def test_digits_classifier_is_accurate_and_reports_its_accuracy(digits, digits_clf):
    with torch.no_grad():
        predicted = digits_clf(torch.as_tensor(digits.x_test)).argmax(1).numpy()
    accuracy = float((predicted == digits.y_test).mean())
    assert accuracy > 0.85
    assert digits_clf.meta["test_accuracy"] == pytest.approx(accuracy, abs=1e-12)
    assert digits_clf.meta["fingerprint"] == dataset_fingerprint(digits)
    assert digits_clf.meta["epochs"] == 14 and not digits_clf.training


def test_training_is_seeded_and_leaves_the_global_rng_alone(digits):
    state = torch.random.get_rng_state()
    a, b = (train_classifier(digits, epochs=1, seed=3) for _ in range(2))
    assert torch.equal(torch.random.get_rng_state(), state)
    c = train_classifier(digits, epochs=1, seed=4)
    fa, fb, fc = (features(clf, digits.x_test[:50]) for clf in (a, b, c))
    np.testing.assert_array_equal(fa, fb)
    assert not np.allclose(fa, fc)


def test_features_are_float64_penultimate_activations(digits, digits_clf):
    out = features(digits_clf, digits.x_test, batch_size=100)  # 360 rows: a partial last batch
    assert out.shape == (360, 128) and out.dtype == np.float64
    assert (out >= 0).all() and (out > 0).any()  # after a ReLU, not all dead
    with torch.no_grad():
        direct = digits_clf.features(torch.as_tensor(digits.x_test[:7])).double().numpy()
    np.testing.assert_allclose(out[:7], direct, rtol=1e-6, atol=1e-6)
    # Inputs are in data units (0..16): the network sees them scaled to [0, 1].
    assert digits_clf.shift.item() == 0.0 and digits_clf.scale.item() == 16.0


@pytest.mark.parametrize("shape", [(1, 5, 5), (3, 7, 9), (3, 32, 32)])
def test_image_classifier_fits_any_size(shape):
    clf = FeatureClassifier(image_data(shape=shape, n=8).info)
    x = torch.zeros(2, *shape)
    assert clf.features(x).shape == (2, 128) and clf(x).shape == (2, 4)


def test_table_classifier_standardizes_columns_and_learns():
    data = labelled_table()
    clf = train_classifier(data, epochs=30)
    np.testing.assert_allclose(clf.shift.numpy(), data.x_train.mean(0), rtol=1e-5)
    np.testing.assert_allclose(clf.scale.numpy(), data.x_train.std(0), rtol=1e-5)
    assert features(clf, data.x_test).shape == (len(data.x_test), 128)
    assert clf.meta["test_accuracy"] > 0.8  # the label is a threshold on one column


def test_training_shows_a_bar_over_the_epochs_only_when_asked(capsys):
    data = labelled_table()
    train_classifier(data, epochs=3)
    assert capsys.readouterr().err == ""  # the library is silent by default
    train_classifier(data, epochs=3, progress=True)
    err = capsys.readouterr().err
    assert "feature classifier" in err and "/3 [" in err and "epoch" in err  # a bar over 3 epochs


def test_unlabelled_or_one_class_data_are_rejected():
    with pytest.raises(ValueError, match=r"toy-table: the data have no labels"):
        train_classifier(table_data())
    data = labelled_table()
    one = dataclasses.replace(data, y_train=np.zeros_like(data.y_train), y_test=np.zeros_like(data.y_test))
    with pytest.raises(ValueError, match=r"toy-labelled: the training labels hold only one class"):
        train_classifier(one)
    with pytest.raises(ValueError, match=r"epochs=0 is not allowed"):
        train_classifier(data, epochs=0)


def test_features_checks_the_input_shape(digits_clf):
    with pytest.raises(ValueError, match=r"x has shape \(4, 64\); allowed: \(N, 1, 8, 8\).*'digits'"):
        features(digits_clf, np.zeros((4, 64), np.float32))
    with pytest.raises(ValueError, match=r"x has shape \(1, 8, 8\); allowed: \(N, 1, 8, 8\)"):
        features(digits_clf, np.zeros((1, 8, 8), np.float32))


# -- fingerprint and cache ----------------------------------------------------------------------


def test_fingerprint_follows_pixels_and_labels(digits):
    fp = dataset_fingerprint(digits)
    assert len(fp) == 32 and fp == dataset_fingerprint(vaelab.load_dataset("digits"))
    y = digits.y_train.copy()
    y[0] = (y[0] + 1) % 10
    assert dataset_fingerprint(with_labels(digits, y)) != fp
    x = digits.x_train.copy()
    x[5, 0, 3, 3] += 1.0
    assert dataset_fingerprint(dataclasses.replace(digits, x_train=x)) != fp
    # The test split is not part of it: the classifier is trained on the training split only.
    assert dataset_fingerprint(dataclasses.replace(digits, x_test=digits.x_test + 1)) == fp


def test_feature_classifier_trains_once_then_loads_from_the_cache(tmp_path, digits):
    cache = tmp_path / "cache"
    assert not is_cached(digits, cache)
    first, loaded = feature_classifier(digits, cache)
    assert loaded is False and is_cached(digits, cache)
    fp = dataset_fingerprint(digits)
    assert sorted(p.name for p in cache.iterdir()) == [f"{fp}.json", f"{fp}.safetensors"]
    second, loaded = feature_classifier(digits, cache)
    assert loaded is True and second.meta == first.meta
    np.testing.assert_array_equal(features(first, digits.x_test), features(second, digits.x_test))
    assert json.loads((cache / f"{fp}.json").read_text())["meta"]["test_accuracy"] == first.meta[
        "test_accuracy"]


def test_feature_classifier_without_cache_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    clf, loaded = feature_classifier(labelled_table())
    assert loaded is False and clf.meta["n_classes"] == 2
    assert list(tmp_path.iterdir()) == []


def test_cache_of_other_data_is_not_used(tmp_path, digits, digits_clf):
    save_classifier(digits_clf, tmp_path)
    y = digits.y_train.copy()
    y[0] = (y[0] + 1) % 10
    changed = with_labels(digits, y)
    with pytest.raises(FileNotFoundError, match=dataset_fingerprint(changed)):
        load_classifier(tmp_path, changed)
    assert load_classifier(tmp_path).meta == digits_clf.meta  # the only one there


@pytest.mark.parametrize("suffix", [".safetensors", ".json"])
def test_damaged_cache_file_is_a_value_error_naming_it(tmp_path, digits, digits_clf, suffix):
    save_classifier(digits_clf, tmp_path)
    path = tmp_path / f"{digits_clf.meta['fingerprint']}{suffix}"
    path.write_bytes(path.read_bytes()[:40])  # truncated
    with pytest.raises(ValueError, match=rf"{re.escape(str(path))}.*delete it"):
        feature_classifier(digits, tmp_path)


def test_cache_with_one_file_missing_is_a_value_error(tmp_path, digits, digits_clf):
    weights = save_classifier(digits_clf, tmp_path)
    weights.unlink()
    left = re.escape(str(weights.with_suffix(".json")))
    with pytest.raises(ValueError, match=rf"{re.escape(str(weights))} is missing.*delete {left} to train"):
        feature_classifier(digits, tmp_path)


def test_json_of_other_data_is_refused(tmp_path, digits, digits_clf):
    save_classifier(digits_clf, tmp_path)
    path = tmp_path / f"{digits_clf.meta['fingerprint']}.json"
    record = json.loads(path.read_text())
    record["meta"]["fingerprint"] = "0" * 32
    path.write_text(json.dumps(record))
    with pytest.raises(ValueError, match=rf"{re.escape(str(path))}.*other data.*delete it"):
        load_classifier(tmp_path, digits)
