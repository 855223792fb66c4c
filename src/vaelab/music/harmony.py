"""Four-voice (SATB) harmonizations: how good one is (:func:`score_harmony`), the baseline a
harmonizer model must beat (:class:`MostFrequentBaseline`), and the pure helpers for harmonizing a
melody of any length and key with a model trained on fixed windows (:func:`fit_transposition`,
:func:`plan_windows`, :func:`cut_windows`, :func:`stitch`; the model calls happen elsewhere).

Voices are arrays (N, 4, T) of tokens (layout of :mod:`vaelab.data.tokens`) in the order soprano,
alto, tenor, bass. Beats fall every ``steps_per_quarter`` steps from step 0. Pure numpy, no torch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from vaelab._checks import check_int, invalid
from vaelab.data.tokens import (
    HOLD,
    REST,
    check_pitch_range,
    n_tokens,
    onsets,
    sounding_pitches,
    token_of,
)
from vaelab.music.melody import check_tokens

VOICES = ("soprano", "alto", "tenor", "bass")
# Conventional choral ranges, outer limits included, as taught in harmony textbooks (e.g. Aldwell &
# Schachter, Harmony and Voice Leading, on the ranges of the four voices): MIDI (lowest, highest).
_RANGES = {"soprano": (60, 81), "alto": (53, 74), "tenor": (48, 69), "bass": (40, 62)}
# Perfect interval classes (semitones mod 12): unison/octave and fifth.
_PERFECT = (0, 7)


def voice_ranges() -> dict[str, tuple[int, int]]:
    """Conventional range of each voice as (lowest, highest) MIDI pitch, both included: soprano C4-A5,
    alto F3-D5, tenor C3-A4, bass E2-D4.

    >>> voice_ranges()["bass"]
    (40, 62)
    """
    return dict(_RANGES)


def _check_spq(steps_per_quarter: int) -> int:
    return check_int(steps_per_quarter, "steps_per_quarter", 1)


def _satb(tokens: np.ndarray, pitch_range: tuple[int, int], name: str) -> np.ndarray:
    """Checked int64 (N, 4, T) with T >= 1."""
    x = check_tokens(tokens, n_tokens(pitch_range), name)
    if x.ndim != 3 or x.shape[1] != 4 or x.shape[0] < 1 or x.shape[2] < 1:
        raise ValueError(f"{name} has shape {x.shape}; allowed: (N, 4, T) with voices soprano, alto, "
                         "tenor, bass")
    return x


def _share(hits: np.ndarray, total: np.ndarray) -> float:
    """hits / total as a float, NaN when total is 0."""
    return float(hits) / float(total) if total else math.nan


@dataclass(frozen=True)
class HarmonyScore:
    """How good a four-voice harmonization is; see :func:`score_harmony` for every definition.

    ``*_accuracy``: share of steps whose token equals the target's (a re-struck note differs from a
    held one); ``*_pitch_accuracy``: share of steps sounding the target's pitch, or silent where it
    is (articulation ignored). Both NaN without a target. ``order``: share of beats in SATB order.
    ``in_range`` and ``<voice>_in_range``: share of note onsets inside the conventional ranges.
    ``parallels_per_100_beats``: ``n_parallels`` parallel fifths and octaves per 100 of ``n_beats``.
    """

    alto_accuracy: float
    tenor_accuracy: float
    bass_accuracy: float
    alto_pitch_accuracy: float
    tenor_pitch_accuracy: float
    bass_pitch_accuracy: float
    order: float
    in_range: float
    soprano_in_range: float
    alto_in_range: float
    tenor_in_range: float
    bass_in_range: float
    parallels_per_100_beats: float
    n_parallels: int
    n_beats: int


def _count_parallels(beat_pitch: np.ndarray) -> int:
    """Parallel perfect intervals between beats; ``beat_pitch`` (N, 4, B) with -1 for silence."""
    count = 0
    for i in range(4):
        for j in range(i + 1, 4):
            a, b = beat_pitch[:, i], beat_pitch[:, j]  # (N, B)
            sounding = (a >= 0) & (b >= 0)
            both = sounding[:, :-1] & sounding[:, 1:]  # (N, B - 1): both voices sound at both beats
            ic = np.abs(a - b) % 12
            same_perfect = np.isin(ic[:, :-1], _PERFECT) & (ic[:, :-1] == ic[:, 1:])
            step_a, step_b = np.sign(np.diff(a, axis=1)), np.sign(np.diff(b, axis=1))
            similar = (step_a == step_b) & (step_a != 0)  # both move, same direction
            count += int(np.sum(both & same_perfect & similar))
    return count


def score_harmony(predicted: np.ndarray, target: np.ndarray | None = None, *,
                  pitch_range: tuple[int, int], steps_per_quarter: int = 4) -> HarmonyScore:
    """Score four-voice harmonizations ``predicted`` (N, 4, T), against ``target`` (N, 4, T) if given.

    - Accuracy (alto, tenor, bass; only with ``target``, else NaN): ``*_accuracy`` is the share of
      steps whose token equals the target's; ``*_pitch_accuracy`` the share whose sounding pitch
      equals the target's (silence matching silence), which forgives holding where the target
      re-strikes the same pitch.
    - ``order``: beats are steps 0, s, 2s, ... (s = ``steps_per_quarter``). At each beat the voices
      that sound are compared: the beat is in order when S >= A >= T >= B holds between every two
      sounding voices (unisons allowed; a silent voice is skipped). Beats where fewer than two
      voices sound are left out; NaN when no beat is left.
    - ``in_range``: share of note onsets inside their voice's range (:func:`voice_ranges`), pooled
      over all four voices (the soprano included), and per voice; NaN for a voice with no onsets.
    - ``parallels_per_100_beats``: for every pair of voices and every two consecutive beats where
      both voices sound, one parallel is counted when (1) the interval between them, in semitones
      mod 12, is 7 (fifth) at both beats or 0 (unison/octave) at both beats, compound intervals
      included, and (2) both voices move in the same direction (both pitches change, similar
      motion). A fifth followed by an octave, contrary motion (antiparallels) and oblique motion
      are not counted, nor is movement between beats. The count is 100 * ``n_parallels`` /
      ``n_beats``, with ``n_beats`` = N * ceil(T / s) beats in all; NaN when there are none.

    >>> satb = np.full((1, 4, 8), 0)  # C-G to D-A, soprano over bass: one parallel fifth
    >>> satb[0, 0, [0, 4]] = token_of(np.array([67, 69]), (36, 84))
    >>> satb[0, 3, [0, 4]] = token_of(np.array([48, 50]), (36, 84))
    >>> score_harmony(satb, pitch_range=(36, 84)).n_parallels
    1
    """
    pitch_range = check_pitch_range(pitch_range)
    spq = _check_spq(steps_per_quarter)
    x = _satb(predicted, pitch_range, "predicted")
    pitch = sounding_pitches(x, pitch_range)  # (N, 4, T)

    acc = [math.nan] * 3
    pitch_acc = [math.nan] * 3
    if target is not None:
        y = _satb(target, pitch_range, "target")
        if y.shape != x.shape:
            raise ValueError(f"target has shape {y.shape} and predicted {x.shape}; allowed: the same shape")
        target_pitch = sounding_pitches(y, pitch_range)
        acc = [float(np.mean(x[:, v] == y[:, v])) for v in (1, 2, 3)]
        pitch_acc = [float(np.mean(pitch[:, v] == target_pitch[:, v])) for v in (1, 2, 3)]

    beat_pitch = pitch[:, :, ::spq]  # (N, 4, B)
    sounding = beat_pitch >= 0
    crossed = np.zeros(sounding[:, 0].shape, dtype=bool)  # (N, B)
    for i in range(4):
        for j in range(i + 1, 4):  # voice i must not sound below voice j
            crossed |= sounding[:, i] & sounding[:, j] & (beat_pitch[:, i] < beat_pitch[:, j])
    compared = sounding.sum(axis=1) >= 2
    order = _share(np.sum(compared & ~crossed), np.sum(compared))

    on = onsets(x)  # (N, 4, T)
    lows = np.array([_RANGES[v][0] for v in VOICES])[None, :, None]
    highs = np.array([_RANGES[v][1] for v in VOICES])[None, :, None]
    inside = on & (pitch >= lows) & (pitch <= highs)
    per_voice = [_share(inside[:, v].sum(), on[:, v].sum()) for v in range(4)]

    n_beats = int(beat_pitch.shape[0] * beat_pitch.shape[2])
    n_parallels = _count_parallels(beat_pitch)
    return HarmonyScore(*acc, *pitch_acc, order, _share(inside.sum(), on.sum()), *per_voice,
                        _share(100 * n_parallels, n_beats), n_parallels, n_beats)


class MostFrequentBaseline:
    """At every step, the (alto, tenor, bass) token triple seen most often in training with the same
    soprano state: the soprano's sounding pitch and whether it starts a note there (a struck C5, a
    held C5 and silence are three states). Ties go to the lowest (alto, tenor, bass) tokens; a
    state never seen in training gets the triple most frequent overall. The soprano is copied.

    >>> satb = np.array([[[2, 1], [3, 1], [4, 1], [5, 1]]])  # (1, 4, 2)
    >>> MostFrequentBaseline().fit(satb, (60, 72)).predict(satb[:, 0]).tolist() == satb.tolist()
    True
    """

    pitch_range: tuple[int, int] | None = None
    states_: np.ndarray | None = None  # (S,) sorted soprano states seen in training
    triples_: np.ndarray | None = None  # (S, 3) their most frequent (alto, tenor, bass) tokens
    fallback_: np.ndarray | None = None  # (3,) the most frequent triple overall

    @staticmethod
    def _states(soprano: np.ndarray, pitch_range: tuple[int, int]) -> np.ndarray:
        # (pitch + 1) * 2 + onset: silence (rest or hold after a rest) is state 0.
        return (sounding_pitches(soprano, pitch_range) + 1) * 2 + onsets(soprano)

    def fit(self, satb: np.ndarray, pitch_range: tuple[int, int]) -> MostFrequentBaseline:
        """Count soprano states and lower-voice triples in training ``satb`` (N, 4, T); returns self."""
        self.pitch_range = check_pitch_range(pitch_range)
        k = n_tokens(self.pitch_range)
        x = _satb(satb, self.pitch_range, "satb")
        state = self._states(x[:, 0], self.pitch_range).ravel()
        triple = ((x[:, 1] * k + x[:, 2]) * k + x[:, 3]).ravel()  # (N * T,) one code per step
        codes, counts = np.unique(state * k ** 3 + triple, return_counts=True)
        st, tr = codes // k ** 3, codes % k ** 3
        # Sort by state, then count (descending), then triple code; the first row of a state wins.
        rows = np.lexsort((tr, -counts, st))
        first = np.r_[True, st[rows][1:] != st[rows][:-1]]
        self.states_ = st[rows][first]
        self.triples_ = self._decode(tr[rows][first], k)
        overall, overall_counts = np.unique(triple, return_counts=True)
        self.fallback_ = self._decode(overall[np.argmax(overall_counts)], k)  # argmax: lowest on ties
        return self

    @staticmethod
    def _decode(code: np.ndarray, k: int) -> np.ndarray:
        """Triple codes (...,) -> tokens (..., 3) in the order alto, tenor, bass."""
        code = np.asarray(code)
        return np.stack([code // (k * k), (code // k) % k, code % k], axis=-1)

    def predict(self, soprano: np.ndarray) -> np.ndarray:
        """Harmonize ``soprano`` tokens (N, T): int64 (N, 4, T), the soprano copied as voice 0."""
        if self.pitch_range is None or self.states_ is None or self.triples_ is None \
                or self.fallback_ is None:
            raise ValueError("MostFrequentBaseline is not fitted; call fit(satb, pitch_range) first")
        s = check_tokens(soprano, n_tokens(self.pitch_range), "soprano")
        if s.ndim != 2 or s.size == 0:
            raise ValueError(f"soprano has shape {s.shape}; allowed: (N, T), one melody per row")
        state = self._states(s, self.pitch_range)  # (N, T)
        pos = np.minimum(np.searchsorted(self.states_, state), len(self.states_) - 1)
        seen = self.states_[pos] == state
        lower = np.where(seen[..., None], self.triples_[pos], self.fallback_)  # (N, T, 3)
        return np.concatenate([s[:, None], np.moveaxis(lower, -1, 1)], axis=1)


def fit_transposition(melody_span: tuple[int, int] | None, target_span: tuple[int, int]) -> int:
    """Semitones to shift a melody playing ``melody_span`` = (lowest, highest) MIDI pitch so that it
    lies inside ``target_span`` (e.g. the soprano's range in training), as near to centred as the
    whole-semitone grid allows; of two equally centred shifts, the smaller one. A silent melody
    (span None, as :func:`vaelab.data.tokens.pitch_span` gives) needs no shift: 0.

    >>> fit_transposition((55, 70), (60, 81))
    8
    """
    if melody_span is None:
        return 0
    (m_lo, m_hi), (t_lo, t_hi) = (check_pitch_range(melody_span, "melody_span"),
                                  check_pitch_range(target_span, "target_span"))
    if m_hi - m_lo > t_hi - t_lo:
        raise ValueError(f"melody_span {m_lo}..{m_hi} ({m_hi - m_lo} semitones) is wider than "
                         f"target_span {t_lo}..{t_hi} ({t_hi - t_lo}); allowed: a melody no wider "
                         "than the target span")
    # The shifts that fit are t_lo - m_lo .. t_hi - m_hi; the one centring the melody is their
    # midpoint, so rounding it to a whole semitone stays among them.
    ideal = ((t_lo - m_lo) + (t_hi - m_hi)) / 2
    return int(min((math.floor(ideal), math.ceil(ideal)), key=lambda s: (abs(s - ideal), abs(s))))


def _positive(value: int, name: str) -> int:
    return check_int(value, name, 1)


def plan_windows(n_steps: int, window: int, hop: int) -> list[tuple[int, int]]:
    """Windows (start, stop) of ``window`` steps, starts 0, ``hop``, 2 ``hop``, ..., until one
    reaches ``n_steps``; 1 <= ``hop`` <= ``window``. Every window is full length, so the last may
    stop past ``n_steps``: :func:`cut_windows` fills that part with rests.

    >>> plan_windows(10, 4, 3)
    [(0, 4), (3, 7), (6, 10)]
    """
    n_steps, window, hop = (_positive(n_steps, "n_steps"), _positive(window, "window"),
                            _positive(hop, "hop"))
    if hop > window:
        raise ValueError(f"hop {hop} is larger than window {window}; allowed: 1 <= hop <= window, "
                         "so that no step is skipped")
    count = 1 + -(-max(n_steps - window, 0) // hop)  # ceil division
    return [(i * hop, i * hop + window) for i in range(count)]


def _check_plan(plan: list[tuple[int, int]], n_steps: int) -> int:
    """The window length of a plan from :func:`plan_windows` that covers ``n_steps``; else an error."""
    starts = np.array([p[0] for p in plan], dtype=np.int64)
    stops = np.array([p[1] for p in plan], dtype=np.int64)
    ok = (len(plan) > 0 and starts[0] == 0 and np.all(stops - starts == stops[0] - starts[0])
          and stops[0] > starts[0] and np.all(np.diff(starts) > 0) and np.all(starts[1:] <= stops[:-1])
          and stops[-1] >= n_steps)
    if not ok:
        raise invalid("plan", plan, "give windows (start, stop) of one length from "
                         f"step 0, each starting after the last and no later than it stops, covering "
                         f"{n_steps} steps (see plan_windows)")
    return int(stops[0] - starts[0])


def cut_windows(tokens: np.ndarray, plan: list[tuple[int, int]]) -> np.ndarray:
    """Cut ``tokens`` (V, n_steps) into the windows of ``plan``: int64 (W, V, window), steps past the
    end filled with rests.

    >>> cut_windows(np.array([[2, 1, 1]]), [(0, 2), (1, 3), (2, 4)])[:, 0].tolist()
    [[2, 1], [1, 1], [1, 0]]
    """
    x = check_tokens(tokens, n_tokens((0, 127)), "tokens")
    if x.ndim != 2 or x.shape[1] < 1:
        raise ValueError(f"tokens have shape {x.shape}; allowed: (V, n_steps), one row per voice")
    window = _check_plan(plan, x.shape[1])
    padded = np.full((x.shape[0], plan[-1][1]), REST, dtype=np.int64)
    padded[:, :x.shape[1]] = x
    return np.stack([padded[:, start:start + window] for start, _ in plan])


def stitch(windows: np.ndarray, plan: list[tuple[int, int]], n_steps: int) -> np.ndarray:
    """Join ``windows`` (W, V, window), cut as in ``plan``, into one sequence: int64 (V, n_steps).

    Overlaps: where window k and k + 1 overlap, window k keeps the steps before the middle of the
    overlap and k + 1 takes the rest (floor of the midpoint), so every step comes from the window
    that sees the most context around it. Steps past ``n_steps`` (rest padding) are dropped.

    Seams: a hold at the first step taken from window k + 1 continues whatever sounds before it
    after stitching, which may not be the note the window meant. If the window itself starts that
    note inside the window (its hold continues a note-on or rest at an earlier step of the window)
    and the stitched step before sounds something else, the hold becomes that note-on (or a rest if
    the window meant silence). A hold whose chain reaches back to the window's first step carries no
    pitch of its own and is kept. Windows cut from one sequence therefore stitch back to it exactly.

    >>> x = np.array([[2, 1, 1, 3, 1, 0, 4]])
    >>> plan = plan_windows(7, 4, 2)
    >>> stitch(cut_windows(x, plan), plan, 7).tolist() == x.tolist()
    True
    """
    w = check_tokens(windows, n_tokens((0, 127)), "windows")
    n_steps = _positive(n_steps, "n_steps")
    window = _check_plan(plan, n_steps)
    if w.ndim != 3 or w.shape[0] != len(plan) or w.shape[2] != window:
        raise ValueError(f"windows have shape {w.shape}; allowed: ({len(plan)}, V, {window}), one "
                         "window per plan entry")
    # Step where window k + 1 takes over: the middle of the overlap [start_{k+1}, stop_k).
    bounds = [0] + [(plan[k + 1][0] + plan[k][1]) // 2 for k in range(len(plan) - 1)] + [plan[-1][1]]
    out = np.concatenate([w[k, :, bounds[k] - plan[k][0]:bounds[k + 1] - plan[k][0]]
                          for k in range(len(plan))], axis=1)  # (V, stop of the last window)
    # Only pitch identity matters below, so any pitch range serves, used both ways.
    any_range = (0, 127)
    for k in range(1, len(plan)):
        seam, j = bounds[k], bounds[k] - plan[k][0]  # seam step and its index in window k
        if seam >= n_steps:
            break
        own = w[k, :, :j + 1]  # (V, j + 1) window k up to the seam
        meant = sounding_pitches(own, any_range)[:, -1]  # (V,) what window k sounds at the seam
        before = sounding_pitches(out[:, :seam], any_range)[:, -1]  # (V,) stitched step before
        fix = (own[:, -1] == HOLD) & ~np.all(own == HOLD, axis=1) & (meant != before)
        out[fix, seam] = np.where(meant[fix] >= 0, token_of(np.maximum(meant[fix], 0), any_range), REST)
    return out[:, :n_steps]
