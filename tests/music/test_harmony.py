"""vaelab.music.harmony: SATB scoring, the harmony baseline and long-melody windows, by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vaelab.data.tokens import HOLD, REST, token_of
from vaelab.music.harmony import (
    MostFrequentBaseline,
    cut_windows,
    fit_transposition,
    plan_windows,
    score_harmony,
    stitch,
    voice_ranges,
)

R = (60, 72)  # melody pitch range: token 2 = C4 (60), 4 = D4, 6 = E4
WIDE = (36, 84)  # SATB pitch range


def on(pitch: int, pitch_range=WIDE) -> int:
    return token_of(pitch, pitch_range)


# ---------------------------------------------------------------- harmony scoring

def satb(*voices) -> np.ndarray:
    """(1, 4, T) from four lists of tokens."""
    return np.array([voices], dtype=np.int64)


def two_voice(top, bottom, steps=4):
    """Soprano and bass each play one note per beat (``steps`` per beat); alto and tenor rest."""
    def voice(pitches):
        out = []
        for p in pitches:
            out += [on(p)] + [HOLD] * (steps - 1)
        return out
    t = len(voice(top))
    return satb(voice(top), [REST] * t, [REST] * t, voice(bottom))


def test_voice_ranges_are_the_conventional_ones():
    assert voice_ranges() == {"soprano": (60, 81), "alto": (53, 74), "tenor": (48, 69), "bass": (40, 62)}
    voice_ranges()["bass"] = (0, 1)  # a copy: the module's table is untouched
    assert voice_ranges()["bass"] == (40, 62)


def test_parallel_fifth_counted_c_g_to_d_a():
    got = score_harmony(two_voice([67, 69], [60, 62]), pitch_range=WIDE)  # G4/C4 -> A4/D4
    assert got.n_parallels == 1 and got.n_beats == 2
    assert got.parallels_per_100_beats == pytest.approx(50.0)


def test_parallel_compound_fifth_and_octaves_counted():
    assert score_harmony(two_voice([67, 69], [48, 50]), pitch_range=WIDE).n_parallels == 1  # 12th
    assert score_harmony(two_voice([72, 74, 71], [48, 50, 47]), pitch_range=WIDE).n_parallels == 2
    unison = satb([on(60), on(62)], [on(60), on(62)], [REST, REST], [REST, REST])
    assert score_harmony(unison, pitch_range=WIDE, steps_per_quarter=1).n_parallels == 1


def test_no_parallel_for_contrary_oblique_fifth_to_octave_or_between_beats():
    assert score_harmony(two_voice([67, 69], [48, 38]), pitch_range=WIDE).n_parallels == 0  # contrary
    assert score_harmony(two_voice([67, 67], [48, 36]), pitch_range=WIDE).n_parallels == 0  # oblique
    assert score_harmony(two_voice([67, 74], [60, 62]), pitch_range=WIDE).n_parallels == 0  # 5th -> 8ve
    restruck = satb([on(67), on(67)], [REST] * 2, [REST] * 2, [on(60), on(60)])
    assert score_harmony(restruck, pitch_range=WIDE, steps_per_quarter=1).n_parallels == 0
    # The fifths sit on off-beat steps 1 and 5 only: beats (steps 0, 4) are thirds.
    x = satb([on(64), on(67), HOLD, HOLD, on(65), on(69), HOLD, HOLD], [REST] * 8, [REST] * 8,
             [on(60), HOLD, HOLD, HOLD, on(62), HOLD, HOLD, HOLD])
    assert score_harmony(x, pitch_range=WIDE).n_parallels == 0


def test_parallels_between_any_pair_of_voices():
    x = satb([on(76), on(77)], [on(67), on(69)], [on(60), on(62)], [on(48), on(41)])
    # alto/tenor: 7 -> 7 similar: one. soprano/alto 9 -> 8, soprano/tenor 16 -> 15: none.
    assert score_harmony(x, pitch_range=WIDE, steps_per_quarter=1).n_parallels == 1


def test_order_detects_voice_crossing_and_skips_silent_voices():
    good = satb([on(72)], [on(67)], [on(64)], [on(48)])
    assert score_harmony(good, pitch_range=WIDE, steps_per_quarter=1).order == 1.0
    crossed = satb([on(72), on(72)], [on(67), on(74)], [on(64), on(64)], [on(48), on(48)])
    assert score_harmony(crossed, pitch_range=WIDE, steps_per_quarter=1).order == 0.5
    # Silent alto skipped (tenor under soprano is fine); a lone voice is not a comparable beat.
    sparse = satb([on(72), on(72)], [REST, REST], [on(64), REST], [REST, REST])
    got = score_harmony(sparse, pitch_range=WIDE, steps_per_quarter=1)
    assert got.order == 1.0
    unison = satb([on(64)], [on(64)], [REST], [on(70)])  # bass above soprano: crossing
    assert score_harmony(unison, pitch_range=WIDE, steps_per_quarter=1).order == 0.0
    silent = satb([on(64)], [REST], [REST], [REST])
    assert math.isnan(score_harmony(silent, pitch_range=WIDE, steps_per_quarter=1).order)


def test_order_looks_at_beats_only():
    # Alto crosses above the soprano on step 1 only; beats are steps 0 and 2.
    x = satb([on(72), HOLD, HOLD, HOLD], [on(67), on(74), on(67), HOLD], [REST] * 4, [REST] * 4)
    assert score_harmony(x, pitch_range=WIDE, steps_per_quarter=2).order == 1.0
    assert score_harmony(x, pitch_range=WIDE, steps_per_quarter=1).order == 0.75


def test_in_range_shares_per_voice_and_overall():
    x = satb([on(60), on(84), HOLD],     # C4 in, C6 out
             [on(53), HOLD, HOLD],       # F3 in (holds are not notes)
             [REST, REST, REST],         # no notes: NaN
             [on(38), on(40), on(62)])   # D2 out, E2 and D4 in
    got = score_harmony(x, pitch_range=WIDE, steps_per_quarter=1)
    assert got.soprano_in_range == 0.5 and got.alto_in_range == 1.0
    assert math.isnan(got.tenor_in_range)
    assert got.bass_in_range == pytest.approx(2 / 3)
    assert got.in_range == pytest.approx(4 / 6)


def test_accuracy_against_target_tokens_and_pitches():
    target = satb([on(72)] * 4, [on(67), HOLD, on(65), HOLD], [on(64), on(64), HOLD, HOLD],
                  [on(48), HOLD, HOLD, HOLD])
    pred = satb([on(72)] * 4, [on(67), HOLD, on(67), HOLD], [on(64), HOLD, HOLD, HOLD],
                [on(48), HOLD, HOLD, HOLD])
    got = score_harmony(pred, target, pitch_range=WIDE)
    assert got.alto_accuracy == 0.75 and got.alto_pitch_accuracy == 0.5  # the G4 hold is no F4
    assert got.tenor_accuracy == 0.75 and got.tenor_pitch_accuracy == 1.0  # held vs re-struck E4
    assert got.bass_accuracy == 1.0 and got.bass_pitch_accuracy == 1.0
    no_target = score_harmony(pred, pitch_range=WIDE)
    assert math.isnan(no_target.alto_accuracy) and math.isnan(no_target.bass_pitch_accuracy)


def test_score_harmony_errors():
    x = two_voice([67, 69], [60, 62])
    with pytest.raises(ValueError, match=r"predicted has shape \(4, 8\); allowed: \(N, 4, T\)"):
        score_harmony(x[0], pitch_range=WIDE)
    with pytest.raises(ValueError, match=r"target has shape \(1, 4, 4\) and predicted \(1, 4, 8\); "
                                         r"allowed: the same shape"):
        score_harmony(x, x[..., :4], pitch_range=WIDE)
    with pytest.raises(ValueError, match=r"steps_per_quarter=0 is not allowed; it must be an integer >= 1"):
        score_harmony(x, pitch_range=WIDE, steps_per_quarter=0)
    with pytest.raises(ValueError, match=r"predicted holds 33; allowed: integer tokens 0..14"):
        score_harmony(x, pitch_range=R)


# ---------------------------------------------------------------- harmony baseline

def test_most_frequent_baseline_learns_a_deterministic_mapping():
    rng = np.random.default_rng(3)
    chords = {60: (55, 52, 48), 62: (57, 53, 50), 64: (59, 55, 52), 67: (62, 59, 43)}
    sop = rng.choice(list(chords), size=(12, 8))
    x = np.zeros((12, 4, 16), dtype=np.int64)
    for v in range(4):
        pitches = sop if v == 0 else np.vectorize(lambda s, v=v: chords[s][v - 1])(sop)
        x[:, v, ::2] = token_of(pitches, WIDE)  # a note-on every 2 steps, then a hold
        x[:, v, 1::2] = HOLD
    model = MostFrequentBaseline().fit(x.astype(np.float32), WIDE)
    pred = model.predict(x[:, 0])
    assert pred.dtype == np.int64
    np.testing.assert_array_equal(pred, x)
    assert score_harmony(pred, x, pitch_range=WIDE).alto_accuracy == 1.0


def test_most_frequent_baseline_majority_ties_and_unseen_soprano():
    # Soprano C4 struck: triple a twice, b once -> a. D4 struck: b and c once each -> the lower
    # tokens, c. Overall b is the most frequent (3 times), so unseen soprano states get b.
    a, b, c = (on(55), on(52), on(48)), (on(57), on(53), on(50)), (on(53), on(50), on(41))
    rows = [(60, a), (60, a), (60, b), (62, c), (62, b), (64, b)]
    x = np.array([[[on(s)], [t[0]], [t[1]], [t[2]]] for s, t in rows])  # (6, 4, 1)
    model = MostFrequentBaseline().fit(x, WIDE)
    pred = model.predict(np.array([[on(60), on(62), on(79)]]))  # G5 never seen
    assert [tuple(pred[0, 1:, t]) for t in range(3)] == [a, c, b]
    # A held soprano note is its own state: unseen here, so it also falls back.
    assert tuple(model.predict(np.array([[on(60), HOLD]]))[0, 1:, 1]) == b


def test_most_frequent_baseline_errors():
    with pytest.raises(ValueError, match=r"MostFrequentBaseline is not fitted; call fit"):
        MostFrequentBaseline().predict(np.array([[2]]))
    model = MostFrequentBaseline().fit(two_voice([67, 69], [60, 62]), WIDE)
    with pytest.raises(ValueError, match=r"soprano has shape \(3,\); allowed: \(N, T\)"):
        model.predict(np.array([2, 1, 1]))
    with pytest.raises(ValueError, match=r"satb has shape \(1, 3, 2\); allowed: \(N, 4, T\)"):
        MostFrequentBaseline().fit(np.zeros((1, 3, 2)), WIDE)


# ---------------------------------------------------------------- long melodies

def test_fit_transposition_centres_inside_the_target():
    assert fit_transposition((55, 70), (60, 81)) == 8  # 63..78: 3 free below, 3 above
    assert fit_transposition((60, 81), (60, 81)) == 0
    assert fit_transposition((60, 60), (60, 63)) == 1  # 1.5 ideal: 1 and 2 equally centred -> smaller
    assert fit_transposition((70, 70), (60, 63)) == -8  # -8.5 ideal: -9 and -8 tie -> smaller |shift|
    assert fit_transposition(None, (60, 81)) == 0
    for span in [(40, 52), (75, 90), (61, 62)]:
        s = fit_transposition(span, (60, 81))
        assert 60 <= span[0] + s and span[1] + s <= 81


def test_fit_transposition_errors():
    with pytest.raises(ValueError, match=r"melody_span 50..80 \(30 semitones\) is wider than target_span "
                                         r"60..81 \(21\)"):
        fit_transposition((50, 80), (60, 81))
    with pytest.raises(ValueError, match=r"melody_span: \(70, 60\) is not allowed"):
        fit_transposition((70, 60), (60, 81))
    with pytest.raises(ValueError, match=r"target_span: 'C4' is not allowed"):
        fit_transposition((60, 62), "C4")


def test_plan_windows_covers_every_step():
    assert plan_windows(10, 4, 3) == [(0, 4), (3, 7), (6, 10)]
    assert plan_windows(11, 4, 3) == [(0, 4), (3, 7), (6, 10), (9, 13)]
    assert plan_windows(3, 8, 4) == [(0, 8)]
    assert plan_windows(16, 8, 8) == [(0, 8), (8, 16)]


def test_plan_windows_errors():
    with pytest.raises(ValueError, match=r"hop 5 is larger than window 4; allowed: 1 <= hop <= window"):
        plan_windows(10, 4, 5)
    with pytest.raises(ValueError, match=r"window=0 is not allowed; it must be an integer >= 1"):
        plan_windows(10, 0, 1)
    with pytest.raises(ValueError, match=r"n_steps=2.5 is not allowed; it must be an integer >= 1"):
        plan_windows(2.5, 4, 1)


@pytest.mark.parametrize("window,hop", [(8, 8), (8, 4), (8, 3), (5, 1), (16, 8)])
def test_cut_then_stitch_gives_back_the_sequence(window, hop):
    rng = np.random.default_rng(window * 10 + hop)
    x = rng.choice([REST, HOLD, HOLD, HOLD, 2, 5, 9], size=(4, 37))  # many long holds across seams
    plan = plan_windows(37, window, hop)
    windows = cut_windows(x.astype(np.float32), plan)
    assert windows.shape == (len(plan), 4, window)
    np.testing.assert_array_equal(windows[-1, :, 37 - plan[-1][0]:], REST)  # padding is rests
    np.testing.assert_array_equal(stitch(windows, plan, 37), x)


def test_stitch_takes_each_overlap_from_both_sides_of_its_midpoint():
    plan = plan_windows(8, 6, 2)  # (0, 6), (2, 8): overlap 2..5, midpoint 4
    windows = np.stack([np.full((1, 6), 2), np.full((1, 6), 3)])  # struck notes everywhere
    assert stitch(windows, plan, 8).tolist() == [[2, 2, 2, 2, 3, 3, 3, 3]]


def test_stitch_repairs_holds_at_seams():
    plan = [(0, 4), (2, 6)]  # seam at step 3
    first = [on(60), HOLD, HOLD, HOLD]         # C4 held over the seam
    meant_d = [on(62), HOLD, HOLD, HOLD]       # window 2 struck D4 at step 2 and holds it at the seam
    meant_rest = [REST, HOLD, HOLD, HOLD]      # window 2 is silent from step 2
    same = [HOLD, HOLD, HOLD, HOLD]            # chain reaches the window start: kept as a hold
    windows = np.array([[first, first, first], [meant_d, meant_rest, same]])  # (2, 3, 4)
    got = stitch(windows, plan, 6)
    # The step before the seam (step 2) comes from window 1 (C4 sounding); window 2's holds at the
    # seam meant D4 / silence, so they become a note-on of D4 / a rest.
    assert got[0].tolist() == [on(60), HOLD, HOLD, on(62), HOLD, HOLD]
    assert got[1].tolist() == [on(60), HOLD, HOLD, REST, HOLD, HOLD]
    assert got[2].tolist() == [on(60), HOLD, HOLD, HOLD, HOLD, HOLD]


def test_stitch_keeps_a_hold_when_both_windows_agree_on_the_pitch():
    plan = [(0, 4), (2, 6)]
    windows = np.array([[[on(62), on(60), HOLD, HOLD]], [[on(60), HOLD, HOLD, on(64)]]])
    assert stitch(windows, plan, 6)[0].tolist() == [on(62), on(60), HOLD, HOLD, HOLD, on(64)]


def test_stitch_and_cut_errors():
    plan = plan_windows(10, 4, 3)
    with pytest.raises(ValueError, match=r"windows have shape \(2, 1, 4\); allowed: \(3, V, 4\)"):
        stitch(np.zeros((2, 1, 4)), plan, 10)
    with pytest.raises(ValueError, match=r"plan=\[\(0, 4\), \(5, 9\)\] is not allowed; give windows"):
        stitch(np.zeros((2, 1, 4)), [(0, 4), (5, 9)], 9)  # gap at step 4
    with pytest.raises(ValueError, match=r"covering 12 steps"):
        stitch(np.zeros((3, 1, 4)), plan, 12)
    with pytest.raises(ValueError, match=r"windows holds -1; allowed: integer tokens 0..129"):
        stitch(-np.ones((3, 1, 4)), plan, 10)
    with pytest.raises(ValueError, match=r"tokens have shape \(10,\); allowed: \(V, n_steps\)"):
        cut_windows(np.zeros(10), plan)
