"""Music as token sequences: the built-in corpora (``chorales``, ``folk``) and MIDI files.

Every piece becomes one token per sixteenth-note step (:mod:`vaelab.data.tokens`, MusicVAE style,
Roberts et al. 2018 sec. 5.1); examples are windows of ``window`` steps (default 32, two 4/4 bars)
starting every ``stride`` steps (default 16, one bar), float32 (N, T) for one voice or (N, 4, T) for
soprano, alto, tenor and bass. How the pieces are read (grid, bar lines, which chorales and folk
songs, MIDI parts, split, transposing, the cache) and why is in docs/music-data.md.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from vaelab.config import VOICES, parse_transpose
from vaelab.data.corpora import BAR, NATURAL, SATB, Piece, corpus_pieces, make_piece
from vaelab.data.dataset import DataInfo, Dataset, split_indices
from vaelab.data.midi import melody_track, read_midi, top_notes
from vaelab.data.tokens import FIRST_PITCH, HOLD, REST, STEPS_PER_QUARTER, Note, sounding_pitches
from vaelab.data.values import check_test_fraction

MUSIC_BUILTINS = ("chorales", "folk")
BUILTIN_VOICES = {"chorales": "satb", "folk": "melody"}  # the default of each
MIDI_SUFFIXES = (".mid", ".midi")
WINDOW, STRIDE = 32, 16  # two 4/4 bars of sixteenths, one bar
AUGMENT_SHIFTS = np.array([s for s in range(-5, 7) if s != 0])
# Probe-tone key profiles for C major and C minor (Krumhansl 1990, Cognitive Foundations of Musical
# Pitch, table 2.1; Krumhansl & Kessler 1982).
MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])


def is_midi_file(path: Path) -> bool:
    return path.suffix.lower() in MIDI_SUFFIXES and path.is_file()


def has_midi_files(folder: Path) -> bool:
    return any(p.suffix.lower() in MIDI_SUFFIXES for p in folder.rglob("*"))


def load_music(source: str, *, window: int | None = None, stride: int | None = None,
               transpose: str | None = None, voices: str | None = None, test_fraction: float = 0.2,
               seed: int = 0) -> Dataset:
    """Load ``chorales``, ``folk``, a MIDI file or a folder of MIDI files as windows of tokens.

    Parameters
    ----------
    source : str
        ``"chorales"``, ``"folk"``, a ``.mid``/``.midi`` file or a folder searched recursively.
    window, stride : int, optional
        Steps per example (default 32) and between example starts (default 16).
    transpose : str, optional
        ``"none"`` (default), ``"common"`` or ``"augment:N"`` (see the module docstring).
    voices : str, optional
        ``"satb"`` (default for chorales; MIDI files with four voices) or ``"melody"`` (default
        otherwise; the soprano of the chorales).
    test_fraction : float
        Fraction of the pieces held out for testing (of the windows, for a single piece).
    seed : int
        Seeds the split and the augmenting shifts.

    Returns
    -------
    Dataset
        ``x_train``/``x_test`` float32 (N, T) or (N, 4, T) of whole-number tokens, no labels;
        ``info.kind == "sequence"`` with ``pitch_range``, ``voices`` and ``steps_per_quarter``.

    Examples
    --------
    >>> ds = load_music("chorales")  # doctest: +SKIP
    >>> ds.x_train.shape[1:], ds.info.voices  # doctest: +SKIP
    ((4, 32), ('soprano', 'alto', 'tenor', 'bass'))
    """
    window = _check_steps(source, "window", WINDOW if window is None else window)
    stride = _check_steps(source, "stride", STRIDE if stride is None else stride)
    check_test_fraction(test_fraction, source)
    try:
        mode, copies = parse_transpose("none" if transpose is None else transpose)
    except ValueError as e:
        raise ValueError(f"{source}: {e}") from None
    if voices is not None and voices not in VOICES:
        raise ValueError(f"{source}: voices={voices!r} is not allowed; allowed: {', '.join(VOICES)}")
    if source in MUSIC_BUILTINS:
        pieces, names = _builtin_pieces(source, voices)
        name = source
    else:
        pieces, names = _midi_pieces(Path(source), voices or "melody")
        name = Path(source).stem if Path(source).is_file() else Path(source).resolve().name
    if mode == "common":
        pieces = [_shifted(p, key_shift(p.tokens, NATURAL)) for p in pieces]
    on = np.concatenate([p.tokens[p.tokens >= FIRST_PITCH] for p in pieces]) - FIRST_PITCH
    if on.size == 0:
        raise ValueError(f"{source}: has no notes")
    lo, hi = int(on.min()), int(on.max())
    if lo < 0 or hi > 127:
        raise ValueError(f"{source}: transposing to C major / A minor moves a note to pitch "
                         f"{lo if lo < 0 else hi}, outside MIDI's 0..127; use transpose='none'")
    x, owner, starts = _windows(pieces, window, stride)  # (N, V, window) natural tokens
    if len(x) == 0:
        raise ValueError(f"{source}: no piece is at least {window} steps long; use a smaller window")
    x = np.where(x >= FIRST_PITCH, x - lo, x)  # natural vocabulary -> pitches lo..hi
    train, test = _split(owner, starts, window, test_fraction, seed, source)
    if copies:
        x, train = _augment(x, train, copies, (lo, hi), seed)
    shape = (window,) if x.shape[1] == 1 else (x.shape[1], window)
    info = DataInfo(name=name, source=source, kind="sequence", shape=shape, value_range=(0, hi - lo + 2),
                    pitch_range=(lo, hi), voices=names, steps_per_quarter=STEPS_PER_QUARTER)
    return Dataset.from_indices(info, x.reshape(len(x), *shape).astype(np.float32), None, train, test,
                                keep_order=source not in MUSIC_BUILTINS)


def key_shift(tokens: np.ndarray, pitch_range: tuple[int, int]) -> int:
    """Semitones (-6..+5) that move a piece to C major or A minor.

    The key is the one whose Krumhansl-Kessler profile correlates best with how long each pitch
    class sounds in ``tokens`` (any shape; all voices count), the Krumhansl-Schmuckler algorithm
    (Krumhansl 1990, ch. 4). A piece without notes gets 0.

    >>> key_shift(np.array([4, 1, 6, 1, 8, 1, 9, 1, 11, 1, 4, 1]), (60, 72))  # D major -> C
    -2
    """
    sounding = sounding_pitches(tokens, pitch_range)
    hist = np.bincount(sounding[sounding >= 0] % 12, minlength=12).astype(float)  # steps per class
    hist -= hist.mean()
    if not hist.any():  # no notes, or every pitch class equally long: no key to find
        return 0
    # Row 12 * mode + tonic: the profile of that key, centred, so that @ gives the correlation.
    profiles = np.stack([np.roll(p, tonic) for p in (MAJOR, MINOR) for tonic in range(12)])  # (24, 12)
    profiles -= profiles.mean(axis=1, keepdims=True)
    best = int(np.argmax(profiles @ hist / np.linalg.norm(profiles, axis=1)))
    tonic, target = best % 12, (0 if best < 12 else 9)  # to C major or A minor
    return (target - tonic + 6) % 12 - 6


def _check_steps(source: str, name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{source}: {name}={value!r} is not allowed; give a positive number of steps")
    return int(value)


def _shifted(piece: Piece, semitones: int) -> Piece:
    tokens = np.where(piece.tokens >= FIRST_PITCH, piece.tokens + semitones, piece.tokens)
    return Piece(piece.name, tokens, piece.bars, piece.meter)


def _windows(pieces: list[Piece], window: int, stride: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Windows int64 (N, V, window) of every piece, the piece (N,) and start step (N,) of each."""
    out, owner, where = [], [], []
    offsets = np.arange(window)
    for i, piece in enumerate(pieces):
        if piece.tokens.shape[1] < window:
            continue
        # Rests after the end, so that the last window reaches it (a final bar is never lost).
        n = -(-(piece.tokens.shape[1] - window) // stride) + 1  # windows: ceil((T - window) / stride) + 1
        tail = (n - 1) * stride + window - piece.tokens.shape[1]
        t = np.pad(piece.tokens, ((0, 0), (0, tail)), constant_values=REST)
        starts = np.arange(n) * stride
        w = t[:, starts[:, None] + offsets].transpose(1, 0, 2).copy()  # (n, V, window)
        # A window starting inside a held note starts with that note, so it stands on its own.
        sounding = sounding_pitches(t, NATURAL)[:, starts].T  # (n, V)
        first = np.where(sounding >= 0, FIRST_PITCH + sounding, REST)
        w[:, :, 0] = np.where(w[:, :, 0] == HOLD, first, w[:, :, 0])
        keep = (w >= FIRST_PITCH).any(axis=(1, 2))
        out.append(w[keep])
        owner.append(np.full(int(keep.sum()), i))
        where.append(starts[keep])
    v = pieces[0].tokens.shape[0] if pieces else 1
    if not out:
        return np.zeros((0, v, window), np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(out), np.concatenate(owner), np.concatenate(where)


def _split(owner: np.ndarray, starts: np.ndarray, window: int, test_fraction: float, seed: int,
           source: str) -> tuple[np.ndarray, np.ndarray]:
    """Train and test window indices: whole pieces on each side, or one piece split in time."""
    used = np.unique(owner)
    if len(used) >= 2:
        train_p, test_p = split_indices(len(used), None, test_fraction, seed, f"{source} (pieces)")
        is_test = np.isin(owner, used[test_p])
        return np.flatnonzero(~is_test), np.flatnonzero(is_test)
    n = len(owner)
    n_test = math.ceil(test_fraction * n)
    cut = starts[n - n_test] if n_test < n else 0
    train = np.flatnonzero(starts + window <= cut)
    if len(train) == 0:
        raise ValueError(f"{source}: one piece of {n} window(s) cannot be split into train and test windows "
                         "that share no steps; use a smaller window or stride, or more pieces")
    return train, np.arange(n - n_test, n)


def _augment(x: np.ndarray, train: np.ndarray, copies: int, pitch_range: tuple[int, int],
             seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Append ``copies`` transposed copies of each training window of ``x`` (N, V, T); return the
    rows and the extended training indices."""
    lo, hi = pitch_range
    w = x[train]
    on = w >= FIRST_PITCH
    low = np.where(on, w, np.iinfo(w.dtype).max).min(axis=(1, 2)) - FIRST_PITCH + lo  # (n,)
    high = np.where(on, w, -1).max(axis=(1, 2)) - FIRST_PITCH + lo
    fits = (low[:, None] + AUGMENT_SHIFTS >= lo) & (high[:, None] + AUGMENT_SHIFTS <= hi)  # (n, 11)
    rng = np.random.default_rng(seed)
    # A random order of the shifts that fit, per window; copy k takes the k-th (cycling if too few).
    order = np.argsort(np.where(fits, rng.random(fits.shape), np.inf), axis=1)
    n_fit = fits.sum(axis=1)
    ok = n_fit > 0
    rows = np.arange(len(w))[ok]
    extra = []
    for k in range(copies):
        shift = AUGMENT_SHIFTS[order[rows, k % n_fit[ok]]]
        extra.append(np.where(on[ok], w[ok] + shift[:, None, None], w[ok]))
    added = np.concatenate(extra)
    return np.concatenate([x, added]), np.concatenate([train, len(x) + np.arange(len(added))])


# --- built-in corpora and MIDI files ------------------------------------------------------------

def _builtin_pieces(name: str, voices: str | None) -> tuple[list[Piece], tuple[str, ...]]:
    """The pieces of ``chorales`` (four voices, or the soprano) or ``folk`` (melody only)."""
    voices = BUILTIN_VOICES[name] if voices is None else voices
    if name == "folk" and voices != "melody":
        raise ValueError(f"{name}: voices={voices!r} is not allowed; {name} has one voice; allowed: melody")
    pieces, _ = corpus_pieces(name)
    if voices == "satb":
        return pieces, SATB
    names = ("soprano",) if name == "chorales" else ("melody",)
    return [Piece(p.name, p.tokens[:1], p.bars, p.meter) for p in pieces], names



# --- MIDI files (mido) --------------------------------------------------------------------------

def _midi_pieces(path: Path, voices: str) -> tuple[list[Piece], tuple[str, ...]]:
    """One piece per MIDI file at ``path`` (a file, or a folder searched recursively)."""
    files = [path] if path.is_file() else sorted(
        p for p in path.rglob("*") if p.suffix.lower() in MIDI_SUFFIXES and p.is_file())
    if not files:
        raise ValueError(f"{path}: holds no MIDI files; allowed: {', '.join(MIDI_SUFFIXES)}")
    return [_midi_piece(f, voices) for f in files], (SATB if voices == "satb" else ("melody",))


def _midi_piece(path: Path, voices: str) -> Piece:
    score = read_midi(path)
    meter = ",".join(dict.fromkeys(f"{n}/{d}" for _, n, d in score.time_signatures))
    if voices == "melody":
        parts = [top_notes(score.tracks[melody_track(score, path)])]
        return make_piece(path.stem, parts, _grid_bars(parts, meter), meter)
    melodic = score.melodic()
    if len(melodic) != 4:
        raise ValueError(f"{path}: has {len(melodic)} non-drum track(s) with notes; voices='satb' needs "
                         "exactly 4 (soprano, alto, tenor, bass)")
    if meter != "4/4":
        raise ValueError(f"{path}: time signature {meter} is not allowed with voices='satb'; allowed: 4/4")
    parts = [top_notes(score.tracks[i]) for i in melodic]
    parts.sort(key=lambda v: -np.mean([n.pitch for n in v]))  # soprano (highest) first
    return make_piece(path.stem, parts, _grid_bars(parts, meter), meter)


def _grid_bars(parts: list[list[Note]], meter: str) -> np.ndarray:
    """Bar lines of a MIDI piece from step 0: every 4/4 bar, or none when the meter is another."""
    end = max(n.start + n.duration for v in parts for n in v)
    return np.arange(0, end, BAR) if meter == "4/4" else np.zeros(0, np.int64)
