"""The built-in music corpora: the Bach chorales and Essen folk songs that ship inside music21,
parsed once into :class:`Piece` objects on the sixteenth-note grid and cached on disk.

How they are parsed (grid, ties, chords, pickups, which chorales are kept and which folk songs) is
described in :mod:`vaelab.data.music`, which turns pieces into windows of tokens. Parsing with
music21 is slow (chorales about 30 s, folk about a minute on 2 CPU cores), so the pieces go to
``$VAELAB_CACHE/music/<corpus>-music21-<version>-v1.npz`` (else ``~/.cache/vaelab/music``), written
atomically and rebuilt when unreadable or built from other files.
"""

from __future__ import annotations

import math
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vaelab.data.builtin import cache_dir
from vaelab.data.midi import music_extra, top_notes
from vaelab.data.tokens import STEPS_PER_QUARTER, Note, notes_to_tokens
from vaelab.files import atomic_path

SATB = ("soprano", "alto", "tenor", "bass")
BAR = 4 * STEPS_PER_QUARTER  # steps in a 4/4 bar
NATURAL = (0, 127)  # the vocabulary of cached tokens: FIRST_PITCH + MIDI pitch
#: Essen collections loaded as ``folk``: Erk's Deutscher Liederhort, old German and children's songs.
FOLK_COLLECTIONS = ("altdeu10", "altdeu20", "erk5", "erk10", "erk20", "erk30", "kinder0")
CACHE_VERSION = "v1"


@dataclass(frozen=True)
class Piece:
    """One parsed piece: ``tokens`` int64 (V, T) at the written pitch in the :data:`NATURAL`
    vocabulary, ``bars`` int64 (B,) the steps where bars start (empty when unknown), and ``meter``
    such as ``"4/4"`` (distinct time signatures joined by commas; ``""`` when unknown)."""

    name: str
    tokens: np.ndarray
    bars: np.ndarray
    meter: str


def _music21(where: str):
    return music_extra("music21", where)


def corpus_pieces(name: str) -> tuple[list[Piece], list[str]]:
    """The parsed pieces of built-in corpus ``name`` and the skipped ones (``"id: reason"``), read
    from the cache when it holds exactly the current source files, else parsed and cached."""
    m21 = _music21(name)
    files = _corpus_files(name)
    root = Path(m21.corpus.__file__).parent
    sources = [p.relative_to(root).as_posix() for p in files]
    path = corpus_cache_path(name)
    cached = _read_cache(path, sources)
    if cached is not None:
        return cached
    pieces, skipped = [], []
    for file in files:
        kept, dropped = CORPORA[name][1](file)
        pieces += kept
        skipped += dropped
    if not pieces:
        raise ValueError(f"{name}: no piece could be read from the music21 corpus ({len(skipped)} skipped)")
    _write_cache(path, sources, pieces, skipped)
    return pieces, skipped


def corpus_cache_path(name: str) -> Path:
    """Where the parsed pieces of built-in ``name`` are cached; while it does not exist, the next
    load parses the corpus (chorales about 30 s, folk about a minute), which a CLI may announce."""
    return cache_dir() / "music" / f"{name}-music21-{_music21(name).__version__}-{CACHE_VERSION}.npz"


def _corpus_files(name: str) -> list[Path]:
    """The music21 corpus files behind built-in ``name``."""
    return CORPORA[name][0]()


def _chorale_files() -> list[Path]:
    """One file per chorale of the Riemenschneider edition (21 are listed twice, read once)."""
    from music21 import corpus
    from music21.corpus import chorales

    files = []
    for work in dict.fromkeys(chorales.Iterator(returnType="filename")):
        found = corpus.getWork(work)
        found = found if isinstance(found, list) else [found]
        stem = work.rsplit("/", 1)[-1]  # 'bach/bwv245.3' also finds bwv245.37: take the exact one
        exact = [p for p in found if p.name.rsplit(".", 1)[0] == stem] or found
        files.append(sorted(exact, key=lambda p: p.suffix == ".krn")[0])  # MusicXML over Humdrum
    return files


def _folk_files() -> list[Path]:
    """One ABC file per Essen collection of :data:`FOLK_COLLECTIONS`."""
    from music21 import corpus

    return [Path(corpus.getWork(f"essenFolksong/{c}")) for c in FOLK_COLLECTIONS]


def _step(quarters: float) -> int:
    return math.floor(float(quarters) * STEPS_PER_QUARTER + 0.5)


def _meter(score) -> str:
    signatures = score.recurse().getElementsByClass("TimeSignature")
    return ",".join(dict.fromkeys(ts.ratioString for ts in signatures))


def _bars(part) -> tuple[float, np.ndarray, list[tuple[int, float]]]:
    """The pickup padding in quarters, the bar-line steps after padding, and (step, length) of
    every measure of ``part``."""
    measures = list(part.getElementsByClass("Measure"))
    ts = part.recurse().getElementsByClass("TimeSignature").first()
    if not measures or ts is None:
        return 0.0, np.zeros(0, np.int64), []
    bar = float(ts.barDuration.quarterLength)
    first = float(measures[0].duration.quarterLength)
    pad = bar - first if 0 < first < bar else 0.0
    spans = [(_step(m.offset + pad), float(m.duration.quarterLength)) for m in measures]
    lines = [0] + [s for s, _ in spans[1:]] if pad else [s for s, _ in spans]
    return pad, np.array(lines, dtype=np.int64), spans


def _part_notes(part, pad: float) -> list[Note]:
    """The notes of a music21 part on the sixteenth grid, ties merged, top note at each onset."""
    notes: list[Note] = []
    for el in part.flatten().notes:
        length = float(el.quarterLength)
        if el.duration.isGrace or length <= 0:
            continue
        pitch = max(p.midi for p in el.pitches)
        start, end = _step(el.offset + pad), _step(el.offset + pad + length)
        last = notes[-1] if notes else None
        tied = el.tie is not None and el.tie.type in ("continue", "stop")
        if tied and last is not None and last.pitch == pitch and last.start + last.duration >= start:
            notes[-1] = Note(pitch, last.start, max(end - last.start, 1))
        else:
            notes.append(Note(pitch, start, max(end - start, 1)))
    return top_notes(notes)


def make_piece(name: str, voices: list[list[Note]], bars: np.ndarray, meter: str) -> Piece:
    n_steps = max(n.start + n.duration for v in voices for n in v)
    tokens = np.stack([notes_to_tokens(v, n_steps, NATURAL) for v in voices])
    return Piece(name, tokens, bars, meter)


def _parse_chorale(path: Path) -> tuple[list[Piece], list[str]]:
    """One chorale, kept when it is 4/4 with soprano, alto, tenor and bass parts on the bar grid."""
    from music21 import converter

    score = converter.parse(path, forceSource=True, storePickle=False)
    name = path.name.rsplit(".", 1)[0]
    meter = _meter(score)
    if meter != "4/4":
        return [], [f"{name}: meter {meter or 'unknown'}, not 4/4"]
    parts = {str(p.partName or p.id).lower()[:3]: p for p in score.parts}
    if len(score.parts) != 4 or sorted(parts) != sorted(v[:3] for v in SATB):
        return [], [f"{name}: {len(score.parts)} parts, not soprano, alto, tenor and bass"]
    pad, bars, spans = _bars(score.parts[0])
    if any(s % BAR for s, length in spans if length == 4.0):  # a full 4/4 bar off the grid
        return [], [f"{name}: bars drift off the 4/4 grid after an odd-length bar"]
    voices = [_part_notes(parts[v[:3]], pad) for v in SATB]
    if not all(voices):
        return [], [f"{name}: a voice has no notes"]
    return [make_piece(name, voices, bars, meter)], []


def _parse_folk(path: Path) -> tuple[list[Piece], list[str]]:
    """Every tune of one Essen collection (an ABC file of many tunes), melody only."""
    from music21 import converter, stream

    parsed = converter.parse(path, forceSource=True, storePickle=False)
    scores = parsed.scores if isinstance(parsed, stream.Opus) else [parsed]
    pieces, skipped = [], []
    for i, score in enumerate(scores):
        number = score.metadata.number if score.metadata and score.metadata.number else i + 1
        name = f"{path.stem}/{number}"
        part = score.parts[0] if score.parts else score
        pad, bars, _ = _bars(part)
        notes = _part_notes(part, pad)
        if notes:
            pieces.append(make_piece(name, [notes], bars, _meter(score)))
        else:
            skipped.append(f"{name}: no notes")
    return pieces, skipped


# Built-in name -> (its corpus files, the parser of one file into kept pieces and skipped reasons).
CORPORA: dict[str, tuple[Callable[[], list[Path]], Callable[[Path], tuple[list[Piece], list[str]]]]] = {
    "chorales": (_chorale_files, _parse_chorale), "folk": (_folk_files, _parse_folk),
}


def _write_cache(path: Path, sources: list[str], pieces: list[Piece], skipped: list[str]) -> None:
    arrays = {
        "sources": np.array(sources, dtype=np.str_),
        "names": np.array([p.name for p in pieces], dtype=np.str_),
        "meters": np.array([p.meter for p in pieces], dtype=np.str_),
        "shapes": np.array([p.tokens.shape for p in pieces], dtype=np.int64),  # (P, 2): voices, steps
        "tokens": np.concatenate([p.tokens.ravel() for p in pieces]).astype(np.uint8),  # 0..129
        "n_bars": np.array([len(p.bars) for p in pieces], dtype=np.int64),
        "bars": np.concatenate([p.bars for p in pieces]).astype(np.int64),
        "skipped": np.array(skipped, dtype=np.str_),
    }
    try:
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            np.savez_compressed(f, **arrays)
    except OSError:  # the cache only saves time: a read-only home must not stop the data from loading
        pass


def _read_cache(path: Path, sources: list[str]) -> tuple[list[Piece], list[str]] | None:
    """The cached pieces, or None when the cache is missing, unreadable or built from other files."""
    try:
        with np.load(path, allow_pickle=False) as z:
            if z["sources"].tolist() != sources:
                return None
            shapes = z["shapes"]
            tokens = np.split(z["tokens"].astype(np.int64), np.cumsum(shapes.prod(axis=1))[:-1])
            bars = np.split(z["bars"], np.cumsum(z["n_bars"])[:-1])
            pieces = [Piece(str(n), t.reshape(s), b, str(m)) for n, t, s, b, m in
                      zip(z["names"], tokens, shapes, bars, z["meters"], strict=True)]
            return pieces, z["skipped"].tolist()
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None
