"""Harmonizing whole melodies with a trained chorale harmonizer (``model="accompany"``).

The model harmonizes fixed windows of soprano tokens in the pitch range it was trained on. A
user's melody has any length and any key, so :func:`accompany`

1. transposes the melody so that its span sits inside the soprano's range (the conventional
   soprano range C4-A5, within the model's vocabulary), nearest to the middle;
2. cuts it into windows of the model's length that overlap by half a window, the last one padded
   with rests;
3. lets the model write alto, tenor and bass for every window (``n`` variations, each from its own
   draw of z per window);
4. stitches the windows back together (:func:`vaelab.harmony.stitch`), puts the melody back on
   top exactly as given, and transposes everything back to the melody's key.

Everything here is data in, tokens out; reading and writing MIDI is the caller's business.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from vaelab._checks import check_int
from vaelab.data.tokens import Note, notes_to_tokens
from vaelab.models import Autoencoder
from vaelab.music import harmony


@dataclass(frozen=True)
class Accompaniment:
    """Four-voice harmonizations of one melody.

    tokens : int64 (n_variations, 4, n_steps) soprano, alto, tenor, bass, in the token layout of
        :mod:`vaelab.data.tokens` with vocabulary ``pitch_range``.
    pitch_range : the vocabulary of ``tokens``: the model's, moved by the transposition so that the
        tokens read in the melody's own key.
    shift : semitones the melody was moved by to fit the model's soprano range (and moved back).
    """

    tokens: np.ndarray
    pitch_range: tuple[int, int]
    shift: int


def soprano_span(model: Autoencoder) -> tuple[int, int]:
    """Where a melody must lie for ``model``: the conventional soprano range within its vocabulary."""
    lo, hi = model.data_info.pitch_range
    s_lo, s_hi = harmony.voice_ranges()["soprano"]
    return max(lo, s_lo), min(hi, s_hi)


@torch.no_grad()
def accompany(model: Autoencoder, melody: list[Note], n_steps: int, variations: int = 1,
              temperature: float = 1.0, generator: torch.Generator | None = None) -> Accompaniment:
    """Alto, tenor and bass for a melody of any length and key.

    Parameters
    ----------
    model : a trained ``accompany`` model.
    melody : the melody's notes on the model's step grid (monophonic), e.g. from
        :func:`vaelab.data.midi.read_melody`.
    n_steps : length of the melody in steps (its last note's end, or the end of its last bar).
    variations : how many harmonizations to write.
    temperature : softmax temperature of the voices' tokens; 0 takes the most likely token.
    generator : seeds the codes and the token draws.

    Examples
    --------
    >>> notes, n_steps = read_melody("melody.mid")
    >>> result = accompany(model, notes, n_steps, variations=3)
    >>> result.tokens.shape                   # (3, 4, n_steps)
    """
    if not model.harmonizes:
        raise ValueError(f"accompany needs a harmonizer (--model accompany); this run holds a "
                         f"{model.config.model}")
    check_int(variations, "variations", 1)
    check_int(n_steps, "n_steps", 1, what=" (the melody's length in steps)")
    if not melody:
        raise ValueError("the melody has no notes; give a MIDI file with a melody")
    span = (min(n.pitch for n in melody), max(n.pitch for n in melody))
    shift = harmony.fit_transposition(span, soprano_span(model))
    lo, hi = model.data_info.pitch_range
    moved = [Note(n.pitch + shift, n.start, n.duration) for n in melody]
    soprano = notes_to_tokens(moved, n_steps, (lo, hi))  # (n_steps,)
    window = int(model.config.input_shape[-1])
    plan = harmony.plan_windows(n_steps, window, max(window // 2, 1))
    windows = harmony.cut_windows(soprano[None], plan)[:, 0].astype(np.float32)  # (W, window)
    out = model.harmonize(torch.from_numpy(windows).to(model.device), n_variations=variations,
                          temperature=temperature, generator=generator)  # (W, n, 4, window)
    voices = np.rint(out.cpu().numpy()).astype(np.int64)
    tokens = np.stack([harmony.stitch(voices[:, v], plan, n_steps) for v in range(variations)])
    tokens[:, 0] = soprano  # the melody stays exactly as given
    return Accompaniment(tokens=tokens, pitch_range=(lo - shift, hi - shift), shift=shift)
