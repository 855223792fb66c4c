"""The token layout of note sequences: one token per time step (a sixteenth note by default), in the
style of MusicVAE (Roberts et al. 2018, section 5.1).

For a pitch range ``(lo, hi)`` of MIDI note numbers the vocabulary is

    0 = rest            no note sounds at this step
    1 = hold            the note of the previous step continues
    2 + (p - lo)        a note of MIDI pitch p (lo <= p <= hi) starts at this step

so ``n_tokens(lo, hi) == hi - lo + 3``. A hold after a rest (or at the start) means a rest. Token
arrays are integer-valued; datasets store them as float32 like every other array in vaelab.

Every module that reads or writes tokens goes through these functions; nothing else knows the
layout. Pure numpy, no torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

REST = 0
HOLD = 1
FIRST_PITCH = 2
#: sixteenth notes: four steps per quarter note
STEPS_PER_QUARTER = 4


@dataclass(frozen=True)
class Note:
    """One note on the step grid: MIDI ``pitch``, ``start`` step and ``duration`` in steps (>= 1)."""

    pitch: int
    start: int
    duration: int


def n_tokens(pitch_range: tuple[int, int]) -> int:
    """Vocabulary size for ``pitch_range`` = (lowest, highest) MIDI pitch: rest, hold and one token
    per pitch."""
    lo, hi = pitch_range
    return hi - lo + 1 + FIRST_PITCH


def check_pitch_range(pitch_range: tuple[int, int], where: str = "pitch_range") -> tuple[int, int]:
    """``(lo, hi)`` as ints, or a ``ValueError`` naming what is allowed (0 <= lo <= hi <= 127)."""
    try:
        lo, hi = (int(p) for p in pitch_range)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: {pitch_range!r} is not allowed; give (lowest, highest) MIDI "
                         "pitches from 0 to 127") from None
    if not 0 <= lo <= hi <= 127:
        raise ValueError(f"{where}: {pitch_range!r} is not allowed; give (lowest, highest) MIDI "
                         "pitches with 0 <= lowest <= highest <= 127")
    return lo, hi


def token_of(pitch: int | np.ndarray, pitch_range: tuple[int, int]) -> int | np.ndarray:
    """The note-on token of MIDI ``pitch`` (which must lie in ``pitch_range``)."""
    return FIRST_PITCH + (np.asarray(pitch) - pitch_range[0]) if isinstance(pitch, np.ndarray) \
        else FIRST_PITCH + int(pitch) - pitch_range[0]


def sounding_pitches(tokens: np.ndarray, pitch_range: tuple[int, int]) -> np.ndarray:
    """The MIDI pitch sounding at each step, -1 where silent: ``tokens`` (..., T) -> int64 (..., T).

    A hold continues the note before it; a hold after a rest (or at step 0) is silent.

    >>> sounding_pitches(np.array([2, 1, 0, 1, 3]), (60, 72)).tolist()
    [60, 60, -1, -1, 61]
    """
    t = np.asarray(tokens).astype(np.int64)
    pitch = np.where(t >= FIRST_PITCH, t - FIRST_PITCH + pitch_range[0], -1)
    starts = t != HOLD  # steps that set the pitch (rest or note-on)
    # Index of the last step at or before t that set the pitch; holds copy from it.
    idx = np.where(starts, np.arange(t.shape[-1]), 0)
    np.maximum.accumulate(idx, axis=-1, out=idx)
    out = np.take_along_axis(pitch, idx, axis=-1)
    # Holds before any setting step (idx 0 that is itself a hold) are silent.
    leading = ~np.logical_or.accumulate(starts, axis=-1)
    return np.where(leading, -1, out)


def onsets(tokens: np.ndarray) -> np.ndarray:
    """Boolean (..., T): where a note starts."""
    return np.asarray(tokens).astype(np.int64) >= FIRST_PITCH


def tokens_to_notes(tokens: np.ndarray, pitch_range: tuple[int, int]) -> list[Note]:
    """One voice's tokens (T,) -> the notes it plays, in order of start."""
    t = np.asarray(tokens).astype(np.int64)
    if t.ndim != 1:
        raise ValueError(f"tokens_to_notes: one voice (T,) is needed, got shape {t.shape}")
    notes: list[Note] = []
    for step in np.flatnonzero(t >= FIRST_PITCH):
        end = step + 1
        while end < len(t) and t[end] == HOLD:
            end += 1
        notes.append(Note(int(t[step]) - FIRST_PITCH + pitch_range[0], int(step), int(end - step)))
    return notes


def notes_to_tokens(notes: list[Note], n_steps: int, pitch_range: tuple[int, int]) -> np.ndarray:
    """Notes of one voice -> int64 tokens (n_steps,).

    Notes must be monophonic (a later note start cuts the previous note short) and inside
    ``pitch_range``; a note outside it is a ``ValueError`` naming the pitch and the range. Notes
    reaching past ``n_steps`` are cut at the end.
    """
    lo, hi = pitch_range
    out = np.full(n_steps, REST, dtype=np.int64)
    for note in sorted(notes, key=lambda n: n.start):
        if not lo <= note.pitch <= hi:
            raise ValueError(f"note pitch {note.pitch} at step {note.start} is outside the pitch range "
                             f"{lo}..{hi}")
        if note.duration < 1 or note.start < 0 or note.start >= n_steps:
            continue
        end = min(note.start + note.duration, n_steps)
        out[note.start] = FIRST_PITCH + note.pitch - lo
        out[note.start + 1:end] = HOLD
    return out


def transpose_tokens(tokens: np.ndarray, semitones: int, pitch_range: tuple[int, int]) -> np.ndarray:
    """Shift every note-on token by ``semitones``; a ``ValueError`` if a note leaves the range.

    Works on any shape; rests and holds stay as they are. Returns the same dtype as ``tokens``.
    """
    t = np.asarray(tokens)
    notes = t >= FIRST_PITCH
    shifted = np.where(notes, t + semitones, t)
    top = n_tokens(pitch_range) - 1
    if notes.any() and (shifted[notes].min() < FIRST_PITCH or shifted[notes].max() > top):
        raise ValueError(f"transposing by {semitones:+d} semitones leaves the pitch range "
                         f"{pitch_range[0]}..{pitch_range[1]}")
    return shifted.astype(t.dtype)


def pitch_span(tokens: np.ndarray, pitch_range: tuple[int, int]) -> tuple[int, int] | None:
    """(lowest, highest) MIDI pitch played in ``tokens``, or None when nothing is played."""
    t = np.asarray(tokens).astype(np.int64)
    on = t[t >= FIRST_PITCH]
    if on.size == 0:
        return None
    return int(on.min()) - FIRST_PITCH + pitch_range[0], int(on.max()) - FIRST_PITCH + pitch_range[0]


def check_sequence_fields(kind: str, shape: tuple[int, ...], value_range: tuple[float, float],
                          pitch_range: Any, voices: Any, steps_per_quarter: Any,
                          where: str) -> tuple[int, int] | None:
    """Check the three music fields of a :class:`vaelab.data.DataInfo`: set exactly for sequence
    data, and in agreement with each other and with the shape and value range; returns the pitch
    range as ints (None for other data)."""
    music = {"pitch_range": pitch_range, "voices": voices, "steps_per_quarter": steps_per_quarter}
    if kind != "sequence":
        given = [name for name, value in music.items() if value is not None]
        if given:
            raise ValueError(f"{where}: {', '.join(given)} only apply to sequence data, not {kind}")
        return None
    missing = [name for name, value in music.items() if value is None]
    if missing:
        raise ValueError(f"{where}: sequence data need {', '.join(missing)}")
    lo, hi = check_pitch_range(pitch_range, f"{where}: pitch_range")
    top = float(n_tokens((lo, hi)) - 1)
    if value_range != (0.0, top):
        raise ValueError(f"{where}: value_range {value_range} does not match the token vocabulary of pitches "
                         f"{lo}..{hi}; allowed: (0, {top:g})")
    n_voices = shape[0] if len(shape) == 2 else 1
    if len(voices) != n_voices or not all(isinstance(v, str) and v for v in voices):
        raise ValueError(f"{where}: voices must be {n_voices} non-empty name(s), one per voice of shape "
                         f"{shape}, got {voices!r}")
    if not isinstance(steps_per_quarter, int) or steps_per_quarter < 1:
        raise ValueError(f"{where}: steps_per_quarter must be a positive int, got {steps_per_quarter!r}")
    return lo, hi
