"""vaelab.music.melody: melody features and next-token baselines, on tokens with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vaelab.data.tokens import HOLD, REST, n_tokens
from vaelab.music.melody import (
    FEATURES,
    RepeatBaseline,
    SequenceScore,
    UnigramBaseline,
    check_tokens,
    feature,
    split_by_feature,
    token_accuracy,
)

R = (60, 72)  # melody pitch range: token 2 = C4 (60), 4 = D4, 6 = E4


# ---------------------------------------------------------------- melody features

MELODY = np.array([[2, 1, 6, 1, 0, 0, 4, 1],   # C4 (2 steps), E4 (2), rest (2), D4 (2)
                   [0, 0, 0, 0, 0, 0, 0, 0],   # silent
                   [1, 1, 8, 1, 1, 1, 1, 1]],  # leading holds are silent; F#4 for 6 steps
                  dtype=np.float32)


def test_density_counts_onsets_per_step():
    np.testing.assert_allclose(feature("density", MELODY, R), [3 / 8, 0, 1 / 8])


def test_interval_is_mean_absolute_jump_and_nan_below_two_notes():
    got = feature("interval", MELODY, R)
    assert got[0] == pytest.approx(3.0)  # |64 - 60| = 4, |62 - 64| = 2
    assert np.isnan(got[1]) and np.isnan(got[2])


def test_interval_ignores_rests_and_counts_repeated_notes_as_zero():
    x = np.array([[2, 0, 0, 14, 2, 2]])  # C4, rest, C5, C4, C4: jumps 12, 12, 0
    assert feature("interval", x, R)[0] == pytest.approx(8.0)


def test_height_is_duration_weighted_and_nan_when_silent():
    got = feature("height", MELODY, R)
    assert got[0] == pytest.approx((60 * 2 + 64 * 2 + 62 * 2) / 6)
    assert np.isnan(got[1])
    assert got[2] == pytest.approx(66.0)
    x = np.array([[2, 1, 1, 14]])  # C4 three steps, C5 one step
    assert feature("height", x, R)[0] == pytest.approx((60 * 3 + 72) / 4)


def test_rests_share_counts_leading_holds_as_silence():
    np.testing.assert_allclose(feature("rests", MELODY, R), [2 / 8, 1.0, 2 / 8])


def test_feature_registry_and_direct_call_agree():
    assert set(FEATURES) == {"density", "interval", "height", "rests"}
    np.testing.assert_array_equal(FEATURES["density"](MELODY, R), feature("density", MELODY, R))


def test_feature_errors():
    with pytest.raises(ValueError, match=r"feature='loudness' is not allowed; choose from: density, height"):
        feature("loudness", MELODY, R)
    with pytest.raises(ValueError, match=r"tokens have shape \(8,\); allowed: \(N, T\)"):
        feature("density", MELODY[0], R)
    with pytest.raises(ValueError, match=r"tokens holds 15; allowed: integer tokens 0..14"):
        feature("density", np.array([[2, 15]]), R)
    with pytest.raises(ValueError, match=r"tokens holds 1.5; allowed: integer tokens"):
        feature("density", np.array([[2, 1.5]]), R)
    with pytest.raises(ValueError, match=r"pitch_range: \(72, 60\) is not allowed"):
        feature("density", MELODY, (72, 60))


def test_check_tokens_accepts_float32_and_rejects_nan_and_text():
    assert check_tokens(np.array([0, 1, 2], dtype=np.float32), 3).dtype == np.int64
    with pytest.raises(ValueError, match=r"tokens holds nan; allowed"):
        check_tokens(np.array([0, np.nan]), 3)
    with pytest.raises(ValueError, match=r"voices cannot be read as numbers"):
        check_tokens(np.array(["a"]), 3, "voices")


def test_split_by_feature_takes_bottom_and_top_quartiles():
    # Densities 1/8 .. 8/8 in scrambled row order.
    counts = [5, 1, 8, 3, 2, 7, 4, 6]
    x = np.zeros((8, 8), dtype=np.int64)
    for row, c in enumerate(counts):
        x[row, :c] = 2
    low, high = split_by_feature(x, "density", R)
    assert low.tolist() == [1, 4]  # counts 1, 2
    assert high.tolist() == [2, 5]  # counts 8, 7


def test_split_by_feature_skips_undefined_values_and_breaks_ties_by_index():
    x = np.array([[2, 4, 0, 0],    # interval 2
                  [2, 0, 0, 0],    # one note: NaN, left out
                  [2, 6, 0, 0],    # 4
                  [2, 4, 0, 0],    # 2 (tie with row 0)
                  [2, 8, 0, 0]])   # 6
    low, high = split_by_feature(x, "interval", R, quantile=0.5)
    assert low.tolist() == [0, 3] and high.tolist() == [2, 4]


def test_split_by_feature_errors():
    x = np.array([[2, 0], [2, 2], [2, 2], [2, 2]])
    with pytest.raises(ValueError, match=r"quantile=0.6 is not allowed; give a share in \(0, 0.5\]"):
        split_by_feature(x, "density", R, quantile=0.6)
    with pytest.raises(ValueError, match=r"quantile 0.1 of the 4 sequence\(s\) with a defined 'density' "
                                         r"selects none"):
        split_by_feature(x, "density", R, quantile=0.1)
    with pytest.raises(ValueError, match=r"feature 'rests' is 0.0 for every sequence; nothing to split"):
        split_by_feature(np.full((4, 3), 2), "rests", R)


def test_token_accuracy_and_its_error():
    assert token_accuracy(np.array([[2, 1, 0, 3]]), np.array([[2, 1, 1, 3]], dtype=np.float32)) == 0.75
    with pytest.raises(ValueError, match=r"predicted has shape \(1, 2\) and target \(1, 3\); allowed: "
                                         r"the same non-empty shape"):
        token_accuracy(np.zeros((1, 2)), np.zeros((1, 3)))


# ---------------------------------------------------------------- melody baselines

TRAIN = np.array([[2, 1, 1, 1]])  # K = 3: counts 0, 3, 1 -> Laplace (1, 4, 2) / 7
TEST = np.array([[1, 1, 2, 2]])


def test_unigram_nll_and_accuracy_by_hand():
    model = UnigramBaseline().fit(TRAIN, 3)
    np.testing.assert_allclose(model.probs_, [1 / 7, 4 / 7, 2 / 7])
    got = model.score(TEST)
    assert isinstance(got, SequenceScore)
    assert got.nll_per_step == pytest.approx(-(2 * math.log(4 / 7) + 2 * math.log(2 / 7)) / 4)
    assert got.accuracy == 0.5  # always predicts token 1


def test_repeat_baseline_lambda_nll_and_accuracy_by_hand():
    model = RepeatBaseline().fit(TRAIN, 3)
    # Pairs: 2->1 (change), 1->1, 1->1 (repeats, u = 4/7). d/dlam log L = 0:
    # 2 (3/7) / (lam + (1 - lam) 4/7) = 1 / (1 - lam)  =>  lam = 2/9.
    assert model.lam_ == pytest.approx(2 / 9, abs=1e-9)
    lam, u = 2 / 9, np.array([1, 4, 2]) / 7
    first = np.array([1, 1, 2]) / 4  # Laplace over first tokens (one "2")
    test = np.array([[1, 1, 0, 0, 2]])
    p = [first[1], lam + (1 - lam) * u[1], (1 - lam) * u[0], lam + (1 - lam) * u[0], (1 - lam) * u[2]]
    got = model.score(test)
    assert got.nll_per_step == pytest.approx(-np.mean(np.log(p)))
    # Predictions: 2 (most frequent first token), then the previous token 1 twice; after a rest
    # lam + (1 - lam) u(0) = 3/9 < (1 - lam) max u = 4/9, so the most frequent token 1 instead of
    # a repeat, twice: right at step 1 only.
    assert got.accuracy == pytest.approx(1 / 5)


def test_repeat_lambda_maximizes_training_likelihood():
    rng = np.random.default_rng(0)
    x = np.repeat(rng.integers(0, 6, size=(20, 8)), 2, axis=1)  # every token played twice
    x[:, ::5] = rng.integers(0, 6, size=(20, 4))
    model = RepeatBaseline().fit(x, 6)
    grid = np.linspace(0, 0.999, 2000)
    u, prev, cur = model.probs_, x[:, :-1].ravel(), x[:, 1:].ravel()
    loglik = [np.log(g * (cur == prev) + (1 - g) * u[cur]).sum() for g in grid]
    assert model.lam_ == pytest.approx(grid[int(np.argmax(loglik))], abs=1e-3)


def test_repeat_lambda_is_zero_without_repeats_and_capped_with_only_repeats():
    assert RepeatBaseline().fit(np.array([[2, 3, 4, 2, 3, 4]]), 5).lam_ == 0.0
    model = RepeatBaseline().fit(np.array([[1, 1, 1, 1]]), 3)  # 3 pairs, all repeats
    assert model.lam_ == pytest.approx(1 - 1 / 5)
    assert np.isfinite(model.score(np.array([[1, 2, 0]])).nll_per_step)


def test_repeat_beats_unigram_on_held_notes_and_rests():
    rng = np.random.default_rng(1)
    x = np.full((40, 64), HOLD)
    x[:, ::16] = rng.integers(2, 14, size=(40, 4))  # a note held for 8 steps, then 8 steps of rest
    for k in range(8, 16):
        x[:, k::16] = REST
    train, test = x[:30], x[30:]
    uni = UnigramBaseline().fit(train, n_tokens(R)).score(test)
    rep = RepeatBaseline().fit(train, n_tokens(R)).score(test)
    assert rep.nll_per_step < uni.nll_per_step - 0.2
    assert uni.accuracy == 0.5  # always a rest
    assert rep.accuracy > 0.8  # holds after holds, rests after rests


def test_repeat_lambda_is_zero_when_holds_dominate_without_rests():
    # Every repeat is a hold after a hold, which the unigram already gives 7/8; each note-on and
    # the hold after it are changes. The likelihood is highest without the repeat term.
    x = np.full((10, 32), HOLD)
    x[:, ::8] = 5
    assert RepeatBaseline().fit(x, n_tokens(R)).lam_ == 0.0


def test_baselines_treat_voices_as_separate_sequences():
    rng = np.random.default_rng(2)
    x = rng.integers(0, 5, size=(3, 4, 10)).astype(np.float32)
    for cls in (UnigramBaseline, RepeatBaseline):
        a = cls().fit(x, 5).score(x)
        b = cls().fit(x.reshape(12, 10), 5).score(x.reshape(12, 10))
        assert a == b


def test_baseline_errors():
    for cls in (UnigramBaseline, RepeatBaseline):
        with pytest.raises(ValueError, match=rf"{cls.__name__} is not fitted; call fit"):
            cls().score(TEST)
        with pytest.raises(ValueError, match=r"n_tokens=2 is not allowed; it must be an integer >= 3"):
            cls().fit(TRAIN, 2)
        with pytest.raises(ValueError, match=r"train_tokens have shape \(4,\); allowed: \(N, T\) or "
                                             r"\(N, V, T\)"):
            cls().fit(TRAIN[0], 3)
        with pytest.raises(ValueError, match=r"test_tokens holds 3; allowed: integer tokens 0..2"):
            cls().fit(TRAIN, 3).score(np.array([[1, 3]]))
