"""vaelab.data.midi: MIDI files read and written, quantized to sixteenths, and their errors."""

from __future__ import annotations

import os

import numpy as np
import pytest

mido = pytest.importorskip("mido")

from helpers import scale_melody, write_tracks  # noqa: E402

from vaelab.data import load_dataset, music  # noqa: E402
from vaelab.data.midi import read_melody, read_midi, top_notes, write_midi  # noqa: E402
from vaelab.data.tokens import Note, notes_to_tokens, sounding_pitches  # noqa: E402


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
