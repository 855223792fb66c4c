"""MIDI files in and out, on the step grid of :mod:`vaelab.data.tokens` (sixteenth notes by default).

:func:`read_midi` reads every part of a Standard MIDI File as notes on the grid (:class:`MidiScore`);
:func:`read_melody` picks the melody the way the music loader does; :func:`write_midi` writes token
arrays (T,) or (V, T) as one track per voice. mido does the byte-level work and is imported only here.

Conventions (the same for the loader, the harmonizer and the CLI):

* A *part* is one (track, channel) pair that plays notes, so a format-0 file with one track over
  several channels still has several parts. Channel 10 (9 counting from 0) is drums and is never a
  melody or a voice.
* Onsets and ends are rounded to the nearest step using the file's ticks per beat (a quarter note);
  a note shorter than half a step still lasts one step.
* The melody of a file is its first non-drum part with notes, reduced to the top note at each
  onset (:func:`top_notes`): chords and inner voices are dropped, not an error.
"""

from __future__ import annotations

import importlib
import os
from collections import defaultdict, deque
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

from vaelab.data.arrays import one_line
from vaelab.data.tokens import STEPS_PER_QUARTER, Note, check_pitch_range, n_tokens, tokens_to_notes
from vaelab.files import atomic_path

DRUM_CHANNEL = 9  # General MIDI channel 10, counted from 0
VELOCITY = 80
DEFAULT_BPM = 120.0  # MIDI's default tempo when a file sets none
# Channels for written voices: the drum channel is skipped, so 15 voices at most.
CHANNELS = tuple(c for c in range(16) if c != DRUM_CHANNEL)


@dataclass(frozen=True)
class MidiScore:
    """The parts of a MIDI file as notes on the step grid.

    Parameters
    ----------
    tracks : list of list of Note
        One list per part (a track, or a track's channel when it uses several), notes in order of
        start; polyphonic as written, drum parts included.
    names : list of str
        The track name of each part (``"track N"`` when unnamed; `` ch C`` added when a track was
        split by channel).
    drums : list of bool
        Whether each part plays on the drum channel.
    ticks_per_beat : int
        The file's resolution (ticks per quarter note).
    bpm : float
        The first tempo in quarter notes per minute (120 when the file sets none).
    time_signatures : list of (int, int, int)
        ``(step, numerator, denominator)`` of each time signature; ``[(0, 4, 4)]`` when the file
        gives none (MIDI's default).
    n_steps : int
        The end of the last note of a non-drum part, in steps (0 without notes).
    """

    tracks: list[list[Note]]
    names: list[str]
    drums: list[bool]
    ticks_per_beat: int
    bpm: float
    time_signatures: list[tuple[int, int, int]]
    n_steps: int

    def melodic(self) -> list[int]:
        """Indices of the non-drum parts that have notes, in file order."""
        return [i for i, (notes, drum) in enumerate(zip(self.tracks, self.drums, strict=True))
                if notes and not drum]


def music_extra(module: str, where: object):
    """Import ``module`` (``"mido"`` or ``"music21"``) of the optional music extra, or a one-line
    ``ValueError`` saying how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ValueError(f"{where}: needs {module}; install the music extra: pip install "
                         "'vaelab[music]'") from None


def _mido(where: object):
    return music_extra("mido", where)


def _step(tick: int, ticks_per_beat: int, steps_per_quarter: int) -> int:
    """The nearest step to ``tick`` (halves round up), in exact integer arithmetic."""
    return (2 * tick * steps_per_quarter + ticks_per_beat) // (2 * ticks_per_beat)


def read_midi(path: str | os.PathLike[str], *, steps_per_quarter: int = STEPS_PER_QUARTER) -> MidiScore:
    """Read a Standard MIDI File (format 0, 1 or 2) into notes on the step grid.

    Parameters
    ----------
    path : path
        The file. A one-line ``ValueError`` names it when it is empty, corrupt or uses SMPTE time.
    steps_per_quarter : int
        Grid steps per quarter note (4: sixteenths).

    Examples
    --------
    >>> score = read_midi("song.mid")  # doctest: +SKIP
    >>> score.names, len(score.tracks[0]), score.n_steps  # doctest: +SKIP
    (['Melody'], 48, 64)
    """
    mido = _mido(path)
    path = Path(path)
    try:
        mid = mido.MidiFile(path)
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such MIDI file") from None
    except Exception as e:  # mido raises OSError, EOFError, KeyError, ValueError... on bad bytes
        raise ValueError(f"{path}: cannot read the MIDI file ({one_line(e)}); allowed: a Standard "
                         "MIDI File (.mid, .midi)") from None
    tpb = int(mid.ticks_per_beat)
    if tpb <= 0:
        raise ValueError(f"{path}: uses SMPTE time (ticks_per_beat={tpb}); allowed: ticks per quarter note")
    step = partial(_step, ticks_per_beat=tpb, steps_per_quarter=steps_per_quarter)  # tick -> step
    tracks, names, drums, signatures, tempos = [], [], [], [], []
    for number, track in enumerate(mid.tracks):
        name, tick = "", 0
        open_notes: dict[tuple[int, int], deque[int]] = defaultdict(deque)  # (channel, pitch) -> starts
        parts: dict[int, list[Note]] = {}
        for msg in track:
            tick += msg.time
            if msg.type == "track_name" and not name:
                name = msg.name.strip()
            elif msg.type == "set_tempo":
                tempos.append((tick, msg.tempo))
            elif msg.type == "time_signature":
                signatures.append((step(tick), msg.numerator, msg.denominator))
            elif msg.type == "note_on" and msg.velocity > 0:
                open_notes[msg.channel, msg.note].append(tick)
                parts.setdefault(msg.channel, [])
            elif msg.type in ("note_on", "note_off") and open_notes[msg.channel, msg.note]:
                start = open_notes[msg.channel, msg.note].popleft()  # first on, first off
                parts[msg.channel].append(_note(msg.note, step(start), step(tick)))
        for (channel, pitch), starts in open_notes.items():  # never switched off: end with the track
            if starts:  # a note_on on this channel made parts[channel]
                parts[channel] += [_note(pitch, step(s), step(tick)) for s in starts]
        for channel, notes in sorted(parts.items()):
            label = name or f"track {number}"
            tracks.append(sorted(notes, key=lambda n: (n.start, n.pitch)))
            names.append(label if len(parts) == 1 else f"{label} ch {channel + 1}")
            drums.append(channel == DRUM_CHANNEL)
    bpm = float(mido.tempo2bpm(min(tempos)[1])) if tempos else DEFAULT_BPM
    ends = [n.start + n.duration for notes, drum in zip(tracks, drums, strict=True) if not drum
            for n in notes]
    return MidiScore(tracks=tracks, names=names, drums=drums, ticks_per_beat=tpb, bpm=bpm,
                     time_signatures=sorted(set(signatures)) or [(0, 4, 4)], n_steps=max(ends, default=0))


def _note(pitch: int, start: int, end: int) -> Note:
    return Note(int(pitch), start, max(end - start, 1))


def top_notes(notes: list[Note]) -> list[Note]:
    """Reduce polyphony to one voice: the highest note at each onset, cut short where the next
    onset comes. Notes are returned in order of start."""
    top: dict[int, Note] = {}
    for note in notes:
        if note.start not in top or note.pitch > top[note.start].pitch:
            top[note.start] = note
    starts = sorted(top)
    out = []
    for i, start in enumerate(starts):
        note = top[start]
        until = starts[i + 1] - start if i + 1 < len(starts) else note.duration
        out.append(Note(note.pitch, start, min(note.duration, until)))
    return out


def melody_track(score: MidiScore, where: object) -> int:
    """Index of the melody part of ``score``: its first non-drum part with notes."""
    melodic = score.melodic()
    if not melodic:
        raise ValueError(f"{where}: has no notes outside the drum channel; a melody needs a track of "
                         "pitched notes")
    return melodic[0]


def read_melody(path: str | os.PathLike[str]) -> tuple[list[Note], int]:
    """The melody of a MIDI file, any length: its first non-drum part with notes, top notes only.

    Returns
    -------
    notes : list of Note
        Monophonic notes on the sixteenth grid, in order of start.
    n_steps : int
        The end of the melody's last note, in steps.

    Examples
    --------
    >>> notes, n_steps = read_melody("melody.mid")  # doctest: +SKIP
    >>> notes[0]  # doctest: +SKIP
    Note(pitch=67, start=0, duration=4)
    """
    score = read_midi(path)
    notes = top_notes(score.tracks[melody_track(score, path)])
    return notes, max(n.start + n.duration for n in notes)


def write_midi(path: str | os.PathLike[str], tokens: np.ndarray, pitch_range: tuple[int, int], *,
               steps_per_quarter: int = STEPS_PER_QUARTER, bpm: float = 100, names: list[str] | None = None,
               programs: list[int] | None = None) -> Path:
    """Write tokens as a MIDI file (format 1): a tempo track, then one track per voice.

    Parameters
    ----------
    path : path
        The file to write (atomically: a temporary file, then a rename); its folder is created.
    tokens : np.ndarray
        (T,) for one voice or (V, T) for V <= 15 voices, whole numbers from 0 to
        ``n_tokens(pitch_range) - 1`` (any numeric dtype, e.g. float32 from a model).
    pitch_range : (int, int)
        The lowest and highest MIDI pitch of the token vocabulary, within 0..127.
    steps_per_quarter : int
        Steps per quarter note (4: sixteenths).
    bpm : float
        Tempo in quarter notes per minute.
    names : list of str, optional
        Track name per voice (default ``"voice 1"``, ...).
    programs : list of int, optional
        General MIDI program (instrument, 0..127) per voice (default 0, piano).

    Returns
    -------
    Path
        ``path``.

    Examples
    --------
    >>> write_midi("c.mid", np.array([2, 1, 1, 1, 0, 6]), (60, 72))  # doctest: +SKIP
    PosixPath('c.mid')
    """
    mido = _mido(path)
    path = Path(path)
    lo, hi = check_pitch_range(pitch_range, f"{path}: pitch_range")
    x = np.asarray(tokens)
    top = n_tokens((lo, hi)) - 1
    if x.ndim not in (1, 2) or x.size == 0 or x.dtype.kind not in "biuf":
        raise ValueError(f"{path}: tokens of shape {x.shape} and dtype {x.dtype} are not allowed; allowed: "
                         "numbers shaped (T,) or (V, T)")
    x = x.reshape(1, -1) if x.ndim == 1 else x  # (V, T)
    if not (np.isfinite(x).all() and (x == np.round(x)).all() and x.min() >= 0 and x.max() <= top):
        raise ValueError(f"{path}: tokens must be whole numbers from 0 to {top} (rest, hold and the pitches "
                         f"{lo}..{hi})")
    n_voices = len(x)
    names = [f"voice {i + 1}" for i in range(n_voices)] if names is None else list(names)
    programs = [0] * n_voices if programs is None else [int(p) for p in programs]
    if n_voices > len(CHANNELS) or len(names) != n_voices or len(programs) != n_voices:
        raise ValueError(f"{path}: {n_voices} voices with {len(names)} names and {len(programs)} programs; "
                         f"give one name and one program per voice, at most {len(CHANNELS)} voices")
    if not all(0 <= p <= 127 for p in programs):
        raise ValueError(f"{path}: programs {programs} are not allowed; allowed: 0..127 (General MIDI)")
    if isinstance(steps_per_quarter, bool) or not isinstance(steps_per_quarter, int) or steps_per_quarter < 1:
        raise ValueError(f"{path}: steps_per_quarter={steps_per_quarter!r} is not allowed; give a "
                         "positive int")
    if not (np.isfinite(bpm) and bpm > 0):
        raise ValueError(f"{path}: bpm={bpm!r} is not allowed; give a positive tempo")
    tick = 120  # ticks per step, so ticks_per_beat = 120 * steps_per_quarter (480 for sixteenths)
    mid = mido.MidiFile(type=1, ticks_per_beat=tick * steps_per_quarter)
    mid.tracks.append(mido.MidiTrack([
        mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm), time=0),
        mido.MetaMessage("time_signature", numerator=4, denominator=4, time=0),
    ]))
    for voice, (name, program, channel) in enumerate(zip(names, programs, CHANNELS, strict=False)):
        events = []  # (absolute tick, 0 = off before 1 = on at the same tick, pitch)
        for note in tokens_to_notes(x[voice], (lo, hi)):
            end = note.start + note.duration
            events += [(note.start * tick, 1, note.pitch), (end * tick, 0, note.pitch)]
        track = mido.MidiTrack([mido.MetaMessage("track_name", name=str(name), time=0),
                                mido.Message("program_change", program=program, channel=channel, time=0)])
        now = 0
        for at, on, pitch in sorted(events):
            kind = "note_on" if on else "note_off"
            track.append(mido.Message(kind, note=pitch, velocity=VELOCITY if on else 0, channel=channel,
                                      time=at - now))
            now = at
        mid.tracks.append(track)
    with atomic_path(path) as tmp:
        mid.save(filename=tmp)
    return path
