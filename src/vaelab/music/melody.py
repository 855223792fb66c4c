"""Features and baselines for one-voice token sequences (the layout of :mod:`vaelab.data.tokens`).

Features are per-sequence numbers of the kind MusicVAE shifts along with attribute vectors (note
density and average interval, Roberts et al. 2018, section 5.4); :func:`split_by_feature` picks the
low and high groups an attribute vector is the difference of. The baselines are the numbers a
sequence model has to beat: token frequencies (:class:`UnigramBaseline`) and "repeat the previous
token" (:class:`RepeatBaseline`), both scored in nats per step and by accuracy per step.

Pure numpy, no torch. Token arrays may be float32 (as datasets store them) or integers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from vaelab._checks import check_int, invalid
from vaelab.data.tokens import check_pitch_range, n_tokens, onsets, sounding_pitches


def check_tokens(tokens: np.ndarray, vocabulary: int, name: str = "tokens") -> np.ndarray:
    """``tokens`` as int64 of the same shape, or a ``ValueError`` naming the first bad value.

    Allowed: integer values (any numeric dtype, float32 included) from 0 to ``vocabulary - 1``.

    >>> check_tokens(np.array([0.0, 1.0, 5.0], dtype=np.float32), 6).tolist()
    [0, 1, 5]
    """
    try:
        x = np.asarray(tokens, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} cannot be read as numbers; allowed: integer tokens "
                         f"0..{vocabulary - 1}") from None
    bad = ~np.isfinite(x) | (x != np.round(x)) | (x < 0) | (x >= vocabulary)
    if bad.any():
        raise ValueError(f"{name} holds {x[bad].flat[0]:g}; allowed: integer tokens 0..{vocabulary - 1}")
    return x.astype(np.int64)


def _batch(tokens: np.ndarray, pitch_range: tuple[int, int]) -> np.ndarray:
    """Checked int64 tokens (N, T) with N, T >= 1 for the feature functions."""
    pitch_range = check_pitch_range(pitch_range)
    x = check_tokens(tokens, n_tokens(pitch_range))
    if x.ndim != 2 or x.shape[1] < 1:
        raise ValueError(f"tokens have shape {x.shape}; allowed: (N, T) with T >= 1, one sequence per row")
    return x


def _density(tokens: np.ndarray, pitch_range: tuple[int, int]) -> np.ndarray:
    """Note onsets per step, in [0, 1]: (N, T) -> (N,). Times 16 it is notes per 4/4 bar of sixteenths."""
    return onsets(_batch(tokens, pitch_range)).mean(axis=1, dtype=np.float64)


def _interval(tokens: np.ndarray, pitch_range: tuple[int, int]) -> np.ndarray:
    """Mean absolute interval in semitones between consecutive notes (rests between them ignored):
    (N, T) -> (N,); NaN for a sequence of fewer than two notes, where no interval exists."""
    x = _batch(tokens, pitch_range)
    on = onsets(x)
    pitch = sounding_pitches(x, pitch_range)
    # Index of the latest onset strictly before each step (-1 if none), by a running maximum.
    last = np.maximum.accumulate(np.where(on, np.arange(x.shape[1]), -1), axis=1)
    prev = np.concatenate([np.full((len(x), 1), -1), last[:, :-1]], axis=1)  # (N, T)
    has_prev = on & (prev >= 0)
    prev_pitch = np.take_along_axis(pitch, np.maximum(prev, 0), axis=1)
    jumps = np.where(has_prev, np.abs(pitch - prev_pitch), 0)
    count = has_prev.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, jumps.sum(axis=1) / count, np.nan)


def _height(tokens: np.ndarray, pitch_range: tuple[int, int]) -> np.ndarray:
    """Mean sounding MIDI pitch over the sounding steps (so weighted by duration): (N, T) -> (N,);
    NaN for a silent sequence."""
    pitch = sounding_pitches(_batch(tokens, pitch_range), pitch_range)
    sounding = pitch >= 0
    count = sounding.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, np.where(sounding, pitch, 0).sum(axis=1) / count, np.nan)


def _rests(tokens: np.ndarray, pitch_range: tuple[int, int]) -> np.ndarray:
    """Share of silent steps, in [0, 1]: (N, T) -> (N,)."""
    return (sounding_pitches(_batch(tokens, pitch_range), pitch_range) < 0).mean(axis=1, dtype=np.float64)


#: name -> function(tokens (N, T), pitch_range) -> float64 (N,); see each function for the definition.
FEATURES: dict[str, Callable[[np.ndarray, tuple[int, int]], np.ndarray]] = {
    "density": _density,
    "interval": _interval,
    "height": _height,
    "rests": _rests,
}


def feature(name: str, tokens: np.ndarray, pitch_range: tuple[int, int]) -> np.ndarray:
    """One feature per sequence: ``tokens`` (N, T) -> float64 (N,).

    ``density``: note onsets per step (x16 = notes per 4/4 bar of sixteenths); ``interval``: mean
    absolute interval in semitones between consecutive notes, NaN with fewer than two notes;
    ``height``: mean sounding MIDI pitch weighted by duration, NaN when silent; ``rests``: share of
    silent steps.

    >>> feature("interval", np.array([[2, 1, 6, 0, 4]]), (60, 72)).tolist()
    [3.0]
    """
    if name not in FEATURES:
        raise invalid("feature", name, f"choose from: {', '.join(sorted(FEATURES))}")
    return FEATURES[name](tokens, pitch_range)


def split_by_feature(tokens: np.ndarray, name: str, pitch_range: tuple[int, int],
                     quantile: float = 0.25) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the sequences lowest and highest in a feature: the two groups whose mean latent
    codes an attribute vector subtracts (Roberts et al. 2018, section 5.4).

    Of the n sequences with a defined (non-NaN) value, the k = floor(``quantile`` * n) lowest and the
    k highest, ordered by value with ties broken by index (a stable sort), so the groups have equal
    size and never overlap. ``quantile`` must lie in (0, 0.5] and k must be >= 1; a feature with
    one value for every sequence cannot be split and is an error.

    Returns ``(low_idx, high_idx)``, int64 arrays (k,) of row indices into ``tokens`` (N, T), sorted.

    >>> x = np.array([[2, 0, 0, 0], [2, 2, 0, 0], [2, 2, 2, 0], [2, 2, 2, 2]])
    >>> low, high = split_by_feature(x, "density", (60, 72), quantile=0.5)
    >>> low.tolist(), high.tolist()
    ([0, 1], [2, 3])
    """
    if not 0.0 < quantile <= 0.5:
        raise invalid("quantile", quantile, "give a share in (0, 0.5]")
    values = feature(name, tokens, pitch_range)
    defined = np.flatnonzero(~np.isnan(values))
    k = int(np.floor(quantile * len(defined)))
    if k < 1:
        raise ValueError(f"quantile {quantile} of the {len(defined)} sequence(s) with a defined "
                         f"{name!r} selects none; give more sequences or a larger quantile")
    if np.all(values[defined] == values[defined[0]]):
        raise ValueError(f"feature {name!r} is {values[defined[0]]} for every sequence; nothing to split")
    order = defined[np.argsort(values[defined], kind="stable")]
    return np.sort(order[:k]), np.sort(order[-k:])


def token_accuracy(predicted: np.ndarray, target: np.ndarray) -> float:
    """Share of steps where ``predicted`` equals ``target`` (same shape, any, not empty), in [0, 1].

    >>> token_accuracy(np.array([[2, 1, 0]]), np.array([[2, 1, 1]]))
    0.6666666666666666
    """
    p, t = np.asarray(predicted), np.asarray(target)
    if p.shape != t.shape or p.size == 0:
        raise ValueError(f"predicted has shape {p.shape} and target {t.shape}; allowed: the same "
                         "non-empty shape")
    return float(np.mean(p.astype(np.float64) == t.astype(np.float64)))


@dataclass(frozen=True)
class SequenceScore:
    """A model's fit to token sequences: ``nll_per_step`` = mean over all steps of -log p(x_t | ...)
    in nats, and ``accuracy`` = share of steps where the most probable token is the actual one."""

    nll_per_step: float
    accuracy: float


def _sequences(tokens: np.ndarray, vocabulary: int, name: str) -> np.ndarray:
    """(N, T) or (N, V, T) -> checked int64 (M, T); voices become separate sequences."""
    x = check_tokens(tokens, vocabulary, name)
    if x.ndim not in (2, 3) or x.size == 0:
        raise ValueError(f"{name} have shape {x.shape}; allowed: (N, T) or (N, V, T), not empty")
    return x.reshape(-1, x.shape[-1])


def _check_vocabulary(vocabulary: int) -> int:
    return check_int(vocabulary, "n_tokens", 3, what=" (rest, hold and at least one pitch), e.g. "
                     "vaelab.data.tokens.n_tokens(pitch_range)")


def _laplace(counts: np.ndarray) -> np.ndarray:
    """Add-one (Laplace) smoothed probabilities from counts (K,): (c + 1) / (sum c + K)."""
    return (counts + 1.0) / (counts.sum() + len(counts))


class UnigramBaseline:
    """Every step is an independent draw from the training token frequencies, add-one (Laplace)
    smoothed over the K-token vocabulary: p(k) = (c_k + 1) / (C + K). Predicts the most frequent
    token (the lowest one on a tie) at every step.

    >>> UnigramBaseline().fit(np.array([[2, 1, 1, 1]]), 3).score(np.array([[1, 1]])).accuracy
    1.0
    """

    probs_: np.ndarray | None = None  # (K,)

    def fit(self, train_tokens: np.ndarray, n_tokens: int) -> UnigramBaseline:
        """Count tokens (N, T) or (N, V, T) from a vocabulary of ``n_tokens``; returns self."""
        k = _check_vocabulary(n_tokens)
        x = _sequences(train_tokens, k, "train_tokens")
        self.probs_ = _laplace(np.bincount(x.ravel(), minlength=k).astype(np.float64))
        return self

    def score(self, test_tokens: np.ndarray) -> SequenceScore:
        """NLL in nats per step and accuracy per step on ``test_tokens`` (N, T) or (N, V, T)."""
        if self.probs_ is None:
            raise ValueError("UnigramBaseline is not fitted; call fit(train_tokens, n_tokens) first")
        x = _sequences(test_tokens, len(self.probs_), "test_tokens")
        return SequenceScore(float(-np.log(self.probs_[x]).mean()),
                             float(np.mean(x == np.argmax(self.probs_))))


class RepeatBaseline:
    """"Repeat the previous token", made a proper distribution by mixing with the unigram:

        p(x_t | x_{t-1}) = lam [x_t == x_{t-1}] + (1 - lam) u(x_t),     t >= 1,

    with u the add-one smoothed token frequencies (as :class:`UnigramBaseline`), and at t = 0 the
    add-one smoothed frequencies of first tokens. In this layout a repeat is a hold after a hold
    (a note or a rest going on), a rest after a rest, or the same pitch struck again; all count,
    because the mixture only sees token equality.

    ``lam`` maximizes the training log-likelihood given u (the log-likelihood is concave in lam, so
    bisection on its derivative finds the maximum). It is capped at 1 - 1/(P + 2), P the number of
    training pairs (x_{t-1}, x_t), so a change of token keeps a nonzero probability even when every
    training step repeats. The prediction is the mixture's most probable token: the previous token
    whenever lam + (1 - lam) u(prev) >= (1 - lam) max u (ties go to the previous token), else the
    most frequent token; at t = 0 the most frequent first token.

    >>> round(RepeatBaseline().fit(np.array([[2, 1, 1, 1]]), 3).lam_, 6)  # 2/9, see the tests
    0.222222
    """

    lam_: float | None = None
    probs_: np.ndarray | None = None  # (K,) unigram
    first_probs_: np.ndarray | None = None  # (K,) first tokens

    def fit(self, train_tokens: np.ndarray, n_tokens: int) -> RepeatBaseline:
        """Fit u, the first-token frequencies and lam on tokens (N, T) or (N, V, T); returns self."""
        k = _check_vocabulary(n_tokens)
        x = _sequences(train_tokens, k, "train_tokens")
        u = _laplace(np.bincount(x.ravel(), minlength=k).astype(np.float64))
        self.probs_ = u
        self.first_probs_ = _laplace(np.bincount(x[:, 0], minlength=k).astype(np.float64))
        prev, cur = x[:, :-1].ravel(), x[:, 1:].ravel()
        repeats = np.bincount(cur[cur == prev], minlength=k).astype(np.float64)  # (K,) repeats by token
        n_change = float(np.sum(cur != prev))
        lam_max = 1.0 - 1.0 / (len(cur) + 2)

        def slope(lam: float) -> float:
            # d/dlam of sum_t log p: repeats give (1 - u)/(lam + (1 - lam) u), changes -1/(1 - lam).
            return float(np.sum(repeats * (1.0 - u) / (lam + (1.0 - lam) * u))) - n_change / (1.0 - lam)

        if slope(0.0) <= 0.0:
            self.lam_ = 0.0
        elif slope(lam_max) >= 0.0:
            self.lam_ = lam_max
        else:
            lo, hi = 0.0, lam_max
            for _ in range(60):  # the slope decreases in lam (concave log-likelihood)
                mid = 0.5 * (lo + hi)
                lo, hi = (mid, hi) if slope(mid) > 0.0 else (lo, mid)
            self.lam_ = 0.5 * (lo + hi)
        return self

    def score(self, test_tokens: np.ndarray) -> SequenceScore:
        """NLL in nats per step and accuracy per step on ``test_tokens`` (N, T) or (N, V, T)."""
        if self.lam_ is None or self.probs_ is None or self.first_probs_ is None:
            raise ValueError("RepeatBaseline is not fitted; call fit(train_tokens, n_tokens) first")
        u, lam = self.probs_, self.lam_
        x = _sequences(test_tokens, len(u), "test_tokens")
        prev, cur = x[:, :-1], x[:, 1:]  # (M, T - 1)
        p = lam * (cur == prev) + (1.0 - lam) * u[cur]
        log_p = np.concatenate([np.log(self.first_probs_[x[:, :1]]), np.log(p)], axis=1)  # (M, T)
        keep_prev = lam + (1.0 - lam) * u[prev] >= (1.0 - lam) * u.max()
        guess = np.concatenate([np.full((len(x), 1), np.argmax(self.first_probs_)),
                                np.where(keep_prev, prev, np.argmax(u))], axis=1)
        return SequenceScore(float(-log_p.mean()), float(np.mean(guess == x)))

