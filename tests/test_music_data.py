"""Music data: the chorales and folk corpora of music21, MIDI files in and out, windows, splits and
transpositions. The corpora are parsed from a few real pieces into a temporary cache, so the file
runs in seconds; the full corpora are timed in the module docstring of vaelab.data.music."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

mido = pytest.importorskip("mido")

from vaelab.data import load_dataset  # noqa: E402
from vaelab.data import corpora as corpus_module  # noqa: E402
from vaelab.data import music  # noqa: E402
from vaelab.data.midi import read_melody, read_midi, top_notes, write_midi  # noqa: E402
from vaelab.data.tokens import FIRST_PITCH, Note, n_tokens, notes_to_tokens, sounding_pitches  # noqa: E402

TPB = 480  # ticks per quarter of the files written here; a sixteenth is 120 ticks
# Chorales read in these tests: seven kept, bwv269 (3/4) and bwv4.8 (bars off the grid) skipped.
CHORALES = ("bwv347", "bwv153.1", "bwv86.6", "bwv267", "bwv33.6", "bwv184.5", "bwv311", "bwv269", "bwv4.8")
SATB = ("soprano", "alto", "tenor", "bass")


# --- helpers -------------------------------------------------------------------------------------

def write_tracks(path: Path, tracks: list[list[tuple[int, int, int]]], *, meter: tuple[int, int] = (4, 4),
                 drums: tuple[int, ...] = (), tpb: int = TPB, names: list[str] | None = None) -> Path:
    """A format-1 MIDI file written with mido alone: one track per list of (pitch, start, steps) in
    sixteenths; tracks whose index is in ``drums`` play on channel 10."""
    mid = mido.MidiFile(type=1, ticks_per_beat=tpb)
    mid.tracks.append(mido.MidiTrack([mido.MetaMessage("time_signature", numerator=meter[0],
                                                       denominator=meter[1], time=0)]))
    step = tpb // 4
    for i, notes in enumerate(tracks):
        channel = 9 if i in drums else i % 9
        ons = [(s * step, 1, p) for p, s, _ in notes]
        events = sorted(ons + [((s + d) * step, 0, p) for p, s, d in notes])  # offs first at a tick
        name = names[i] if names else f"t{i}"
        track = mido.MidiTrack([mido.MetaMessage("track_name", name=name, time=0)])
        now = 0
        for at, on, pitch in events:
            track.append(mido.Message("note_on" if on else "note_off", note=pitch, velocity=64 if on else 0,
                                      channel=channel, time=at - now))
            now = at
        mid.tracks.append(track)
    mid.save(path)
    return path


def scale_melody(tonic: int, bars: int, minor: bool = False) -> list[tuple[int, int, int]]:
    """Quarter notes up and down a scale (tonic held longest), ``bars`` 4/4 bars."""
    steps = (0, 2, 3, 5, 7, 8, 11, 12) if minor else (0, 2, 4, 5, 7, 9, 11, 12)
    line = list(steps) + list(steps[::-1])
    notes = []
    for q in range(bars * 4):
        notes.append((tonic + line[q % len(line)], 4 * q, 4))
    return notes


def pitches(x: np.ndarray, pitch_range: tuple[int, int]) -> np.ndarray:
    return sounding_pitches(x.astype(np.int64), pitch_range)


# --- the corpora, from a few real pieces into a temporary cache -----------------------------------

@pytest.fixture(scope="module")
def corpora(tmp_path_factory):
    """Point the cache at a temporary folder and read only CHORALES and one small Essen file."""
    pytest.importorskip("music21")
    real = corpus_module._corpus_files

    def few(name):
        if name == "folk":
            return [p for p in real("folk") if p.stem == "erk5"]  # 27 tunes
        return [p for p in real(name) if p.name.rsplit(".", 1)[0] in CHORALES]

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("VAELAB_CACHE", str(tmp_path_factory.mktemp("cache")))
        mp.setattr(corpus_module, "_corpus_files", few)
        yield music


def test_chorales_satb_shapes_and_info(corpora):
    pieces, skipped = corpora.corpus_pieces("chorales")
    assert sorted(p.name for p in pieces) == sorted(CHORALES[:7])
    assert [s.split(":")[0] for s in sorted(skipped)] == ["bwv269", "bwv4.8"]
    assert "not 4/4" in min(skipped) and "drift" in max(skipped)
    ds = corpora.load_music("chorales")
    info = ds.info
    assert ds.x_train.dtype == np.float32 and ds.x_train.shape[1:] == (4, 32) == ds.x_test.shape[1:]
    assert ds.y_train is None and info.kind == "sequence" and info.name == "chorales"
    assert info.voices == SATB and info.steps_per_quarter == 4 and info.shape == (4, 32)
    notes = np.concatenate([p.tokens[p.tokens >= FIRST_PITCH] for p in pieces]) - FIRST_PITCH
    assert info.pitch_range == (notes.min(), notes.max())
    x = np.concatenate([ds.x_train, ds.x_test])
    assert info.value_range == (0.0, n_tokens(info.pitch_range) - 1) == (0.0, x.max())
    assert np.array_equal(x, np.rint(x)) and x.min() == 0
    assert (x >= FIRST_PITCH).any(axis=(1, 2)).all()  # no window is all rests
    # Every voice lies where a choir sings, highest first: mean soprano above alto above tenor above bass.
    sounding = pitches(x, info.pitch_range)  # (N, 4, 32), -1 where silent
    means = [sounding[:, v][sounding[:, v] >= 0].mean() for v in range(4)]
    assert means == sorted(means, reverse=True)


def test_chorales_melody_is_the_soprano(corpora):
    satb = corpora.load_music("chorales")
    melody = corpora.load_music("chorales", voices="melody")
    assert melody.x_train.shape[1:] == (32,) and melody.info.voices == ("soprano",)
    assert melody.info.shape == (32,)
    soprano = pitches(satb.x_train[:, 0], satb.info.pitch_range)
    soprano = soprano[(soprano >= 0).any(axis=1)]
    assert np.array_equal(pitches(melody.x_train, melody.info.pitch_range), soprano)
    lo, hi = melody.info.pitch_range
    assert hi - lo < satb.info.pitch_range[1] - satb.info.pitch_range[0]


def test_windows_start_on_bar_lines_and_pickups_are_padded(corpora):
    pieces, _ = corpora.corpus_pieces("chorales")
    for piece in pieces:
        starts = np.arange(0, piece.tokens.shape[1] - 32 + 16, 16)
        assert np.isin(starts, piece.bars).all(), piece.name
    # bwv347 starts with a one-beat pickup: three beats of rest, then all four voices.
    from music21 import converter

    first = next(p for p in pieces if p.name == "bwv347")
    assert (first.tokens[:, :12] == 0).all() and (first.tokens[:, 12] >= FIRST_PITCH).all()
    file = next(p for p in corpus_module._corpus_files("chorales") if p.stem == "bwv347")
    score = converter.parse(file, forceSource=True, storePickle=False)
    written = [part.flatten().notes[0].pitch.midi for part in score.parts]
    assert (first.tokens[:, 12] - FIRST_PITCH).tolist() == written
    bar1 = score.parts[0].getElementsByClass("Measure")[1].offset  # 1 quarter into the score
    assert 16 in first.bars and bar1 * 4 + 12 == 16


def test_folk_melodies_of_any_meter(corpora):
    pieces, skipped = corpora.corpus_pieces("folk")
    assert len(pieces) == 27 and not skipped
    assert {"2/4", "3/4", "4/4", "6/8"} <= {p.meter for p in pieces}
    tune = next(p for p in pieces if p.name == "erk5/3")  # 4/4 with a one-beat pickup
    assert tune.meter == "4/4" and (tune.tokens[0, :12] == 0).all() and tune.tokens[0, 12] >= FIRST_PITCH
    ds = corpora.load_music("folk")
    assert ds.info.voices == ("melody",) and ds.x_train.shape[1:] == (32,) and ds.info.name == "folk"
    notes = np.concatenate([p.tokens[p.tokens >= FIRST_PITCH] for p in pieces]) - FIRST_PITCH
    assert ds.info.pitch_range == (notes.min(), notes.max())
    with pytest.raises(ValueError, match=r"folk: voices='satb' is not allowed; folk has one voice; "
                                         r"allowed: melody"):
        corpora.load_music("folk", voices="satb")


def test_common_key_agrees_with_music21(corpora):
    """After transpose='common' music21's own key finding (Aarden-Essen weights) should mostly
    read C major or A minor; the two methods differ on a few pieces (dominant or relative key)."""
    from music21 import converter

    files = {p.name.rsplit(".", 1)[0]: p for p in corpus_module._corpus_files("chorales")}
    pieces, _ = corpora.corpus_pieces("chorales")
    tonics = []
    for piece in pieces:
        shift = music.key_shift(piece.tokens, music.NATURAL)
        score = converter.parse(files[piece.name], forceSource=True, storePickle=False)
        key = score.transpose(shift).analyze("key")
        tonics.append((key.tonic.name, key.mode))
    # 5 of 7 exactly; bwv347 and bwv311 read a fifth away (dominant or subdominant key).
    assert sum(t in (("C", "major"), ("A", "minor")) for t in tonics) >= 5, tonics
    near = {("C", "major"), ("G", "major"), ("F", "major"), ("A", "minor"), ("E", "minor"), ("D", "minor")}
    assert set(tonics) <= near, tonics
    ds = corpora.load_music("chorales", transpose="common")
    assert ds.info.pitch_range != corpora.load_music("chorales").info.pitch_range


@pytest.mark.parametrize("minor", [False, True])
def test_key_shift_moves_every_key_to_c_or_a(minor):
    lo = 40
    for tonic in range(48, 60):
        tokens = notes_to_tokens([Note(*n) for n in scale_melody(tonic, 4, minor)], 64, (lo, 80))
        want = (9 if minor else 0) - tonic % 12
        assert music.key_shift(tokens, (lo, 80)) == (want + 6) % 12 - 6


def test_cache_is_reused_and_rebuilt(corpora, monkeypatch):
    pieces, _ = corpora.corpus_pieces("folk")
    path = corpus_module.corpus_cache_path("folk")
    assert path.is_file() and path.parent.parent == Path(os.environ["VAELAB_CACHE"])

    def no_parsing(file):
        raise AssertionError("parsed although the cache is current")

    with monkeypatch.context() as mp:
        mp.setitem(corpus_module.CORPORA, "folk", (corpus_module._folk_files, no_parsing))
        again, _ = corpora.corpus_pieces("folk")
    assert [p.name for p in again] == [p.name for p in pieces]
    for a, b in zip(again, pieces, strict=True):
        assert np.array_equal(a.tokens, b.tokens) and np.array_equal(a.bars, b.bars)
    path.write_bytes(b"not a zip file")  # unreadable: parsed again and rewritten
    rebuilt, _ = corpora.corpus_pieces("folk")
    assert len(rebuilt) == len(pieces) and np.load(path)["names"].tolist() == [p.name for p in pieces]


def test_chorales_split_by_piece(corpora):
    pieces, _ = corpora.corpus_pieces("chorales")
    windows = {}  # window bytes -> pieces holding it
    for i, piece in enumerate(pieces):
        w, _, _ = music._windows([piece], 32, 16)
        for row in w:
            windows.setdefault(row.tobytes(), set()).add(i)
    ds = corpora.load_music("chorales", seed=3)
    lo = ds.info.pitch_range[0]

    def owners(x):
        natural = np.where(x >= FIRST_PITCH, x + lo, x).astype(np.int64)
        return set().union(*(windows[row.tobytes()] for row in natural))

    train, test = owners(ds.x_train), owners(ds.x_test)
    assert not train & test and len(train | test) == len(pieces) and len(test) == 2  # ceil(0.2 * 7)


# --- MIDI files ----------------------------------------------------------------------------------

def test_midi_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, 15, size=(3, 40))
    tokens[:, 0] = [2, 0, 1]  # a hold at the start is a rest
    write_midi(tmp_path / "x.mid", tokens, (60, 72), names=["a", "b", "c"], programs=[0, 40, 52], bpm=90)
    mid = mido.MidiFile(tmp_path / "x.mid")
    assert mid.type == 1 and len(mid.tracks) == 4
    score = read_midi(tmp_path / "x.mid")
    assert score.names == ["a", "b", "c"] and score.bpm == pytest.approx(90)
    assert score.time_signatures == [(0, 4, 4)] and not any(score.drums)
    back = np.stack([notes_to_tokens(t, 40, (60, 72)) for t in score.tracks])
    want = np.where(sounding_pitches(tokens, (60, 72)) < 0, 0, tokens)  # holds after rests are rests
    assert np.array_equal(back, want)
    one = np.array([5.0, 1, 1, 0, 0, 9, 1])  # float tokens, as a model writes them
    write_midi(tmp_path / "one.mid", one, (60, 72))
    assert read_midi(tmp_path / "one.mid").tracks == [[Note(63, 0, 3), Note(67, 5, 2)]]


def test_midi_quantizes_to_the_nearest_sixteenth(tmp_path):
    mid = mido.MidiFile(type=0, ticks_per_beat=96)  # a sixteenth is 24 ticks
    mid.tracks.append(mido.MidiTrack([
        mido.Message("note_on", note=60, velocity=90, time=11),  # 0.46 steps -> 0
        mido.Message("note_on", note=62, velocity=90, time=50),  # tick 61: 2.54 -> 3
        mido.Message("note_off", note=60, velocity=0, time=0),  # C ends at 3 as well
        mido.Message("note_on", note=62, velocity=0, time=5),  # tick 66: 2.75 -> 3: still one step
        mido.Message("note_on", note=64, velocity=90, time=30),  # tick 96 = step 4, never switched off
        mido.Message("note_on", note=36, velocity=90, channel=9, time=48),  # drums
    ]))
    mid.save(tmp_path / "q.mid")
    score = read_midi(tmp_path / "q.mid")
    assert score.tracks[0] == [Note(60, 0, 3), Note(62, 3, 1), Note(64, 4, 2)]
    assert score.drums == [False, True] and score.n_steps == 6 and score.bpm == 120


def test_polyphonic_melody_track_is_reduced_to_top_notes(tmp_path):
    chords = [(60, 0, 8), (64, 0, 8), (67, 0, 4), (62, 8, 8), (65, 8, 8), (59, 12, 4)]
    path = write_tracks(tmp_path / "p.mid", [[(36, 0, 1), (38, 4, 1)], [], chords, [(48, 0, 16)]],
                        drums=(0,))
    notes, n_steps = read_melody(path)
    assert notes == [Note(67, 0, 4), Note(65, 8, 4), Note(59, 12, 4)] and n_steps == 16
    assert top_notes([Note(60, 0, 8), Note(67, 0, 2), Note(64, 4, 4)]) == [Note(67, 0, 2), Note(64, 4, 4)]
    ds = music.load_music(str(path), window=4, stride=4)
    lo = ds.info.pitch_range[0]
    x = ds.split("all")[0]
    assert ds.info.pitch_range == (59, 67) and x[0].tolist() == [67 - lo + 2, 1, 1, 1]


def test_satb_from_a_four_track_midi_file(tmp_path):
    bars = 8
    voices = {v: [(base + (q % 3), 4 * q, 4) for q in range(4 * bars)]
              for v, base in zip(SATB, (72, 64, 55, 43), strict=True)}
    order = ["bass", "tenor", "soprano", "alto"]  # tracks in another order than the voices
    path = write_tracks(tmp_path / "choir.mid", [voices[v] for v in order] + [[(42, 0, 1)]], drums=(4,))
    ds = music.load_music(str(path), voices="satb")
    assert ds.x_train.shape[1:] == (4, 32) and ds.info.voices == SATB and ds.info.name == "choir"
    assert ds.info.pitch_range == (43, 74)
    x = np.concatenate([ds.x_train, ds.x_test])
    lowest = [pitches(x[:, v], ds.info.pitch_range).max() for v in range(4)]
    assert lowest == [74, 66, 57, 45]
    # one file: split in time, the training windows end where the test windows start (7 windows)
    assert len(ds.x_test) == 2 and len(ds.x_train) == 4


def test_midi_folder_split_by_piece(tmp_path):
    for i in range(5):  # piece i plays only pitch 60 + i, so every window names its piece
        write_tracks(tmp_path / f"{i}.mid", [[(60 + i, 4 * q, 4) for q in range(4 * (3 + i))]])
    ds = load_dataset(str(tmp_path), test_fraction=0.2, seed=1)
    assert ds.info.name == tmp_path.name and ds.info.pitch_range == (60, 64)

    def owners(x):
        return set(np.unique(x[x >= FIRST_PITCH]).astype(int) - FIRST_PITCH)

    train, test = owners(ds.x_train), owners(ds.x_test)
    assert not train & test and train | test == set(range(5)) and len(test) == 1
    counts = {i: 3 + i - 1 for i in range(5)}  # windows per piece: bars - 1
    assert len(ds.x_test) == sum(counts[i] for i in test) and len(ds.x_train) == sum(counts[i] for i in train)
    # split("all") keeps the files in order
    assert owners(ds.split("all")[0][:counts[0]]) == {0}


def test_midi_common_transposes_to_c(tmp_path):
    d_major = write_tracks(tmp_path / "d.mid", [scale_melody(62, 8)])
    c_major = write_tracks(tmp_path / "c.mid", [scale_melody(60, 8)])
    moved = music.load_music(str(d_major), transpose="common")
    plain = music.load_music(str(d_major))
    c = music.load_music(str(c_major))
    assert moved.info.pitch_range == c.info.pitch_range == (60, 72) and plain.info.pitch_range == (62, 74)
    assert np.array_equal(moved.x_train, c.x_train) and np.array_equal(moved.x_train, plain.x_train)
    a_minor = write_tracks(tmp_path / "e.mid", [scale_melody(64, 8, minor=True)])  # E minor -> A minor
    assert music.load_music(str(a_minor), transpose="common").info.pitch_range == (69, 81)


def test_augment_adds_copies_to_train_only(tmp_path):
    # 20 bars: bars 0-9 touch both extremes (60 and 72, no shift fits), bars 10-19 only 66.
    notes = [n for b in range(10) for n in ((60, 16 * b, 8), (72, 16 * b + 8, 8))]
    notes += [(66, 16 * b, 16) for b in range(10, 20)]
    path = str(write_tracks(tmp_path / "m.mid", [notes]))
    base = music.load_music(path)
    ds = music.load_music(path, transpose="augment:2", seed=5)
    assert len(base.x_train) == 14 and len(base.x_test) == 4  # 19 windows, test = last 4, 1 dropped
    assert np.array_equal(ds.x_test, base.x_test) and ds.info == base.info
    assert len(ds.x_train) == 14 + 2 * 4  # only the 4 windows of bars 10-13 can move
    assert np.array_equal(ds.x_train[:14], base.x_train)
    lo, hi = ds.info.pitch_range
    copies = ds.x_train[14:].reshape(2, 4, 32)  # copy k of each movable window
    shift = pitches(copies, (lo, hi)).max(axis=2) - 66  # (2, 4)
    assert (shift != 0).all() and (shift >= -5).all() and (shift <= 6).all() and (shift[0] != shift[1]).all()
    assert copies.max() <= n_tokens((lo, hi)) - 1
    again = music.load_music(path, transpose="augment:2", seed=5)
    other = music.load_music(path, transpose="augment:2", seed=6)
    assert np.array_equal(again.x_train, ds.x_train) and not np.array_equal(other.x_train, ds.x_train)


def test_hold_at_a_window_start_becomes_the_note(tmp_path):
    path = write_tracks(tmp_path / "long.mid", [[(60, 0, 24), (62, 24, 40)]])  # C over the bar line
    x = music.load_music(str(path), window=16, stride=16).split("all")[0]
    assert x[:, 0].tolist() == [2, 2, 4, 4] and x[1, 1:8].tolist() == [1] * 7


def test_the_last_bar_is_kept(tmp_path):
    path = write_tracks(tmp_path / "end.mid", [[(60 + q, 4 * q, 4) for q in range(11)]])  # 44 steps
    ds = music.load_music(str(path), window=16, stride=16)
    lo = ds.info.pitch_range[0]
    assert len(ds.x_train) == 2 and len(ds.x_test) == 1  # windows at 0, 16 and 32 (padded to 48)
    assert ds.x_test[0, ::4].tolist() == [68 - lo + 2, 69 - lo + 2, 70 - lo + 2, 0]


# --- errors --------------------------------------------------------------------------------------

@pytest.fixture
def melody_file(tmp_path):
    return str(write_tracks(tmp_path / "tune.mid", [scale_melody(60, 8)]))


@pytest.mark.parametrize(("options", "message"), [
    ({"voices": "choir"}, r"voices='choir' is not allowed; allowed: melody, satb"),
    ({"window": 1000}, r"tune.mid: no piece is at least 1000 steps long; use a smaller window"),
    ({"window": 0}, r"window=0 is not allowed; give a positive number of steps"),
    ({"stride": True}, r"stride=True is not allowed; give a positive number of steps"),
    ({"transpose": "sideways"}, r"tune.mid: transpose='sideways' is not allowed; give none, common"),
    ({"transpose": "augment:0"}, r"transpose='augment:0' is not allowed"),
    ({"test_fraction": 1.0}, r"test_fraction=1.0 is not allowed; allowed: a number strictly between"),
    ({"voices": "satb"}, r"tune.mid: has 1 non-drum track\(s\) with notes; voices='satb' needs exactly 4"),
])
def test_load_music_rejects_bad_options(melody_file, options, message):
    with pytest.raises(ValueError, match=message):
        music.load_music(melody_file, **options)


def test_bad_midi_files_are_named(tmp_path):
    (tmp_path / "empty.mid").write_bytes(b"")
    with pytest.raises(ValueError, match=r"empty.mid: cannot read the MIDI file \(.*\); allowed: a Standard"):
        music.load_music(str(tmp_path / "empty.mid"))
    folder = tmp_path / "songs"
    (folder / "deep").mkdir(parents=True)
    write_tracks(folder / "good.mid", [scale_melody(60, 4)])
    (folder / "deep" / "bad.MIDI").write_bytes(b"MThd garbage that is no MIDI file")
    with pytest.raises(ValueError, match=r"deep/bad.MIDI: cannot read the MIDI file"):
        load_dataset(str(folder))
    with pytest.raises(FileNotFoundError, match=r"nope.mid: no such MIDI file"):
        read_midi(tmp_path / "nope.mid")
    (tmp_path / "none").mkdir()
    with pytest.raises(ValueError, match=r"none: holds no MIDI files; allowed: .mid, .midi"):
        music.load_music(str(tmp_path / "none"))


def test_midi_content_errors(tmp_path):
    drums = write_tracks(tmp_path / "drums.mid", [[(36, 0, 1)]], drums=(0,))
    with pytest.raises(ValueError, match=r"drums.mid: has no notes outside the drum channel"):
        read_melody(drums)
    three = write_tracks(tmp_path / "three.mid", [scale_melody(p, 4) for p in (48, 60, 72)])
    with pytest.raises(ValueError, match=r"three.mid: has 3 non-drum track\(s\) with notes; voices='satb' "
                                         r"needs exactly 4 \(soprano, alto, tenor, bass\)"):
        music.load_music(str(three), voices="satb")
    waltz = write_tracks(tmp_path / "waltz.mid", [scale_melody(p, 4) for p in (43, 55, 64, 72)], meter=(3, 4))
    with pytest.raises(ValueError, match=r"waltz.mid: time signature 3/4 is not allowed with voices='satb'; "
                                         r"allowed: 4/4"):
        music.load_music(str(waltz), voices="satb")
    assert music.load_music(str(waltz)).info.voices == ("melody",)  # a melody may have any meter
    high = write_tracks(tmp_path / "high.mid", [[(127, 4 * q, 4) for q in range(16)]])
    with pytest.raises(ValueError, match=r"high.mid: transposing to C major / A minor moves a note to pitch "
                                         r"132, outside MIDI's 0..127; use transpose='none'"):
        music.load_music(str(high), transpose="common")
    short = write_tracks(tmp_path / "short.mid", [scale_melody(60, 3)])  # 3 bars: 2 windows
    with pytest.raises(ValueError, match=r"short.mid: one piece of 2 window\(s\) cannot be split into train "
                                         r"and test windows that share no steps"):
        music.load_music(str(short))
    pair = tmp_path / "pair"
    pair.mkdir()
    for i in range(2):
        write_tracks(pair / f"{i}.mid", [scale_melody(60, 4)])
    with pytest.raises(ValueError, match=r"pair \(pieces\): test_fraction=0.9 leaves no training rows "
                                         r"out of 2"):
        music.load_music(str(pair), test_fraction=0.9)


@pytest.mark.parametrize(("tokens", "kwargs", "message"), [
    (np.array([0, 2, 20]), {}, r"x.mid: tokens must be whole numbers from 0 to 14 \(rest, hold and the "
                               r"pitches 60..72\)"),
    (np.array([0, 2.5]), {}, r"tokens must be whole numbers from 0 to 14"),
    (np.zeros((2, 2, 2)), {}, r"tokens of shape \(2, 2, 2\) and dtype float64 are not allowed"),
    (np.array([2, 1]), {"pitch_range": (-1, 130)},
     r"pitch_range: \(-1, 130\) is not allowed; give \(lowest, highest\) MIDI pitches with 0 <= lowest"),
    (np.zeros((2, 4)), {"names": ["one"]}, r"2 voices with 1 names and 2 programs; give one name and one "
                                           r"program per voice"),
    (np.zeros(4), {"programs": [128]}, r"programs \[128\] are not allowed; allowed: 0..127"),
    (np.zeros(4), {"bpm": 0}, r"bpm=0 is not allowed; give a positive tempo"),
])
def test_write_midi_errors(tmp_path, tokens, kwargs, message):
    kwargs = {"pitch_range": (60, 72), **kwargs}
    with pytest.raises(ValueError, match=message):
        write_midi(tmp_path / "x.mid", tokens, kwargs.pop("pitch_range"), **kwargs)
    assert not list(tmp_path.iterdir())  # nothing written, not even a temporary file


def test_write_midi_creates_the_folder_with_the_usual_mode(tmp_path):
    path = write_midi(tmp_path / "new" / "x.mid", np.array([2, 1, 0, 3]), (60, 72))
    assert [p.name for p in path.parent.iterdir()] == ["x.mid"]  # no temporary file left
    mask = os.umask(0)
    os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask  # not mkstemp's 0600
    assert read_midi(path).tracks == [[Note(60, 0, 2), Note(61, 3, 1)]]
