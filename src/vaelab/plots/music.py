"""Pictures of note sequences: piano rolls. Like :mod:`vaelab.plots`, every function returns a
matplotlib Figure and never saves or shows it.

Inputs are token arrays in the layout of :mod:`vaelab.data.tokens`: (N, T) for one voice or
(N, V, T) for V voices, with the ``pitch_range`` of their vocabulary. Each note is drawn as a bar
from its start step for its duration at its pitch; voices get their own colours; bar lines are
drawn every ``steps_per_bar`` steps.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

from vaelab._checks import shape_error
from vaelab.data.tokens import pitch_span, tokens_to_notes

VOICE_COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown")
NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


def note_name(pitch: int) -> str:
    """MIDI pitch -> scientific pitch name: 60 -> "C4"."""
    return f"{NOTE_NAMES[pitch % 12]}{pitch // 12 - 1}"


def _voices(tokens: np.ndarray) -> np.ndarray:
    """(N, T) or (N, V, T) -> int64 (N, V, T)."""
    t = np.asarray(tokens)
    if t.ndim == 2:
        t = t[:, None]
    if t.ndim != 3:
        raise shape_error("tokens", t.shape, "(N, T) or (N, V, T)")
    return np.rint(t).astype(np.int64)


def piano_rolls(tokens: np.ndarray, pitch_range: tuple[int, int], titles: Sequence[str] | None = None,
                voices: Sequence[str] | None = None, steps_per_bar: int = 16, ncols: int | None = None,
                title: str | None = None) -> Figure:
    """One piano roll per example, in a grid: ``tokens`` (N, T) or (N, V, T).

    Parameters
    ----------
    titles : one caption per example, e.g. "sample 3" or "t = 0.25".
    voices : names of the V voices, for the legend (only when V > 1).
    steps_per_bar : where bar lines go (16 sixteenths in 4/4).
    ncols : examples per row; default one column for up to 4 examples, else about sqrt(N).

    Examples
    --------
    >>> fig = piano_rolls(np.array([[2, 1, 1, 1, 4, 1, 0, 0]]), (60, 72))
    """
    x = _voices(tokens)
    n, n_voices, n_steps = x.shape
    if titles is not None and len(titles) != n:
        raise ValueError(f"piano_rolls: {len(titles)} titles for {n} examples; give one per example")
    ncols = ncols or (1 if n <= 4 else math.ceil(math.sqrt(n)))
    nrows = math.ceil(n / ncols)
    spans = [s for s in (pitch_span(e, pitch_range) for e in x) if s is not None]
    lo = min((s[0] for s in spans), default=pitch_range[0]) - 1
    hi = max((s[1] for s in spans), default=pitch_range[1]) + 1
    width = min(4.0 + n_steps / 8.0, 12.0) if ncols == 1 else 3.2
    height = 1.0 + 0.06 * (hi - lo) if ncols == 1 else 2.2
    fig = Figure(figsize=(width * ncols, height * nrows + (0.4 if title else 0.0)), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, sharex=True, sharey=True)
    for i, ax in enumerate(axes.flat):
        if i >= n:
            ax.set_axis_off()
            continue
        for v in range(n_voices):
            notes = tokens_to_notes(x[i, v], pitch_range)
            color = VOICE_COLORS[v % len(VOICE_COLORS)]
            label = voices[v] if voices is not None and n_voices > 1 and i == 0 else None
            ax.barh([note.pitch for note in notes], [note.duration for note in notes],
                    left=[note.start for note in notes], height=0.8, color=color, edgecolor="black",
                    linewidth=0.4, label=label)
        for bar_line in range(0, n_steps + 1, steps_per_bar):
            ax.axvline(bar_line, color="0.6", linewidth=0.8, zorder=0)
        ax.set_xlim(0, n_steps)
        ax.set_ylim(lo, hi)
        if titles is not None:
            ax.set_title(titles[i], fontsize=9)
    ticks = [p for p in range(lo, hi + 1) if p % 12 == 0] or [lo + (hi - lo) // 2]
    for ax in axes[:, 0]:
        ax.set_yticks(ticks, [note_name(p) for p in ticks])
    for ax in axes[-1, :]:
        ax.set_xlabel("step (sixteenth notes)")
    if voices is not None and n_voices > 1:
        fig.legend(loc="outside lower center", ncols=n_voices, fontsize=8)
    if title:
        fig.suptitle(title)
    return fig
