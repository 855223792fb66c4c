"""vaelab.data.music: music datasets from MIDI files: voices, windows, splits, transpositions and errors."""

from __future__ import annotations

import numpy as np
import pytest

mido = pytest.importorskip("mido")

from helpers import SATB, pitches, scale_melody, write_tracks  # noqa: E402

from vaelab.data import load_dataset, music  # noqa: E402
from vaelab.data.midi import read_melody  # noqa: E402
from vaelab.data.tokens import FIRST_PITCH, Note, n_tokens, notes_to_tokens  # noqa: E402


@pytest.mark.parametrize("minor", [False, True])
def test_key_shift_moves_every_key_to_c_or_a(minor):
    lo = 40
    for tonic in range(48, 60):
        tokens = notes_to_tokens([Note(*n) for n in scale_melody(tonic, 4, minor)], 64, (lo, 80))
        want = (9 if minor else 0) - tonic % 12
        assert music.key_shift(tokens, (lo, 80)) == (want + 6) % 12 - 6


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
