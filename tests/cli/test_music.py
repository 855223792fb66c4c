"""Music on the command line (vaelab.cli.music, accompany, and the other commands on music runs)."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("music21")
pytest.importorskip("mido")

from cli_helpers import fails, is_png, ok, run  # noqa: E402

from vaelab.cli import main  # noqa: E402
from vaelab.data import corpora  # noqa: E402
from vaelab.data.midi import read_melody, read_midi, write_midi  # noqa: E402
from vaelab.data.tokens import Note, notes_to_tokens  # noqa: E402

TINY = ["--latent-dim", "4", "--hidden", "32", "--device", "cpu", "--quiet"]
# Nine real chorales: seven kept (4/4, SATB), bwv269 (3/4) and bwv4.8 (bars off the grid) skipped.
CHORALES = ("bwv347", "bwv153.1", "bwv86.6", "bwv267", "bwv33.6", "bwv184.5", "bwv311", "bwv269", "bwv4.8")
MELODY = Path(__file__).resolve().parents[2] / "examples" / "ode-to-joy.mid"

RUNS: dict[str, list[str]] = {
    "melody": ["--data", "chorales", "--voices", "melody", "--model", "vae", "--epochs", "2"],
    "accompany": ["--data", "chorales", "--model", "accompany", "--epochs", "2"],
}


@pytest.fixture(scope="module")
def music_cache(tmp_path_factory):
    """A module-wide cache holding the few chorales, parsed once."""
    cache = tmp_path_factory.mktemp("music-cache")
    real = corpora._corpus_files

    def few(name: str) -> list[Path]:
        return [p for p in real(name) if p.name.rsplit(".", 1)[0] in CHORALES]

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("VAELAB_CACHE", str(cache))
        mp.setattr(corpora, "_corpus_files", few)
        yield cache


@pytest.fixture(autouse=True)
def shared_cache(isolated, music_cache, monkeypatch):  # after `isolated`
    monkeypatch.setenv("VAELAB_CACHE", str(music_cache))


@pytest.fixture(scope="module")
def trained(tmp_path_factory, music_cache):
    """``trained(name) -> (run directory, stdout)`` of ``RUNS[name]``, trained once per module."""
    root = tmp_path_factory.mktemp("music-runs")
    cache: dict[str, tuple[Path, str]] = {}

    def get(name: str) -> tuple[Path, str]:
        if name not in cache:
            out = root / name
            stdout, stderr = io.StringIO(), io.StringIO()
            with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
                code = main(["train", *TINY, *RUNS[name], "--out", str(out)])
            assert code == 0, stderr.getvalue()
            cache[name] = (out, stdout.getvalue())
        return cache[name]

    return get


def melodic_tracks(path: Path) -> list[list[Note]]:
    score = read_midi(path)
    return [score.tracks[i] for i in score.melodic()]


# -- a melody VAE on the chorales' soprano lines --------------------------------------------------


def test_train_a_melody_vae_writes_piano_rolls_and_midi(trained):
    run_dir, out = trained("melody")
    assert "(rnn, categorical" in out and "chorales (32,)" in out
    figures = run_dir / "figures"
    for name in ("curves.png", "reconstructions.png", "samples.png"):
        assert is_png(figures / name), name
    tracks = melodic_tracks(figures / "samples.mid")
    assert len(tracks) == 1 and len(tracks[0]) >= 8  # eight samples of two bars, one voice
    config = json.loads((run_dir / "config.json").read_text())
    assert config["model"]["arch"] == "rnn" and config["model"]["n_tokens"] > 3
    assert config["data"]["voices"] == "melody"


def test_sample_writes_midi_and_piano_rolls(trained, capsys, tmp_path):
    run_dir, _ = trained("melody")
    ok(capsys, "sample", run_dir, "-n", "4", "--out", tmp_path / "s.mid", "--device", "cpu")
    tracks = melodic_tracks(tmp_path / "s.mid")
    assert len(tracks) == 1 and tracks[0]
    ends = max(n.start + n.duration for n in tracks[0])
    assert ends <= 4 * 32 + 3 * 16  # four windows and a bar of rest between them
    ok(capsys, "sample", run_dir, "-n", "4", "--out", tmp_path / "s.png", "--device", "cpu")
    assert is_png(tmp_path / "s.png")
    ok(capsys, "sample", run_dir, "-n", "3", "--out", tmp_path / "s.npy", "--device", "cpu")
    x = np.load(tmp_path / "s.npy")
    assert x.shape == (3, 32) and np.array_equal(x, np.round(x))


def test_interpolate_and_reconstruct_write_midi(trained, capsys, tmp_path):
    run_dir, _ = trained("melody")
    out = ok(capsys, "interpolate", run_dir, "--from", "0", "--to", "1", "--steps", "4",
             "--out", tmp_path / "i.mid", "--device", "cpu")
    assert "4 steps (slerp)" in out and melodic_tracks(tmp_path / "i.mid")
    ok(capsys, "interpolate", run_dir, "--from", "0", "--to", "1", "--steps", "3",
       "--out", tmp_path / "i.png", "--device", "cpu")
    assert is_png(tmp_path / "i.png")
    out = ok(capsys, "reconstruct", run_dir, "-n", "5", "--out", tmp_path / "r.png", "--device", "cpu")
    assert "token accuracy" in out and is_png(tmp_path / "r.png")


def test_attribute_by_a_musical_feature(trained, capsys, tmp_path):
    run_dir, _ = trained("melody")
    out = ok(capsys, "attribute", run_dir, "--feature", "density", "--strengths", "-2,0,2",
             "--index", "0", "1", "--out", tmp_path / "a.mid", "--device", "cpu")
    assert "density high - low" in out and "density by strength: -2:" in out
    assert melodic_tracks(tmp_path / "a.mid")
    assert np.load(tmp_path / "a.vector.npy").shape == (4,)


def test_evaluate_a_melody_vae_against_the_baselines(trained, capsys):
    run_dir, _ = trained("melody")
    out = ok(capsys, "evaluate", run_dir, "--iwae-k", "10", "--device", "cpu")
    for words in ("token accuracy", "NLL per step (nats)", "baseline: unigram", "baseline: repeat"):
        assert words in out, out
    record = json.loads((run_dir / "evaluation.json").read_text())
    assert 0 <= record["token_accuracy"] <= 1
    assert record["nll_per_step"] == pytest.approx(record["nll_iwae"] / 32)
    assert set(record["baselines"]) == {"unigram", "repeat"}
    # The repeat baseline never does worse than the unigram it mixes in (its weight is fitted).
    base = record["baselines"]
    assert base["repeat"]["nll_per_step"] <= base["unigram"]["nll_per_step"] + 0.05


def test_report_on_a_melody_run(trained, capsys):
    run_dir, _ = trained("melody")
    ok(capsys, "report", run_dir, "--device", "cpu")
    text = (run_dir / "report.html").read_text()
    assert text.count("<img") >= 4 and "Next-token baselines" in text


# -- the harmonizer ------------------------------------------------------------------------------


def test_accompany_harmonizes_a_melody_that_is_not_a_chorale(trained, capsys, tmp_path):
    run_dir, out = trained("accompany")
    assert "chorales (4, 32)" in out
    assert is_png(run_dir / "figures" / "harmonizations.png")
    out = ok(capsys, "accompany", run_dir, MELODY, "--variations", "2", "--out", tmp_path / "satb.mid",
             "--device", "cpu")
    assert "2 variation(s), four voices each" in out
    tracks = melodic_tracks(tmp_path / "satb.mid")
    assert len(tracks) == 4
    melody, n_steps = read_melody(MELODY)
    gap = 16
    # The soprano track is the melody, twice (one per variation), a bar of rest between.
    want = [(n.pitch, n.start, n.duration) for n in melody]
    want += [(p, s + n_steps + gap, d) for p, s, d in want]
    assert [(n.pitch, n.start, n.duration) for n in tracks[0]] == want
    for lower in tracks[1:]:
        assert lower and max(n.start + n.duration for n in lower) <= 2 * n_steps + gap
    ok(capsys, "accompany", run_dir, MELODY, "--out", tmp_path / "satb.png", "--device", "cpu")
    assert is_png(tmp_path / "satb.png")


def test_accompany_transposes_a_melody_outside_the_soprano_range_and_back(trained, capsys, tmp_path):
    run_dir, _ = trained("accompany")
    low = [Note(45 + (i % 5), 4 * i, 4) for i in range(12)]  # A2..C#3: far below any soprano
    path = write_midi(tmp_path / "low.mid", notes_to_tokens(low, 48, (40, 60)), (40, 60), names=["m"])
    out = ok(capsys, "accompany", run_dir, path, "--out", tmp_path / "low-satb.mid", "--temperature", "0",
             "--device", "cpu")
    assert "transposed by +" in out
    top = melodic_tracks(tmp_path / "low-satb.mid")[0]
    assert [(n.pitch, n.start) for n in top] == [(n.pitch, n.start) for n in low]


def test_evaluate_a_harmonizer_scores_voice_leading_next_to_the_baseline_and_bach(trained, capsys):
    run_dir, _ = trained("accompany")
    out = ok(capsys, "evaluate", run_dir, "--iwae-k", "5", "--device", "cpu")
    for words in ("harmony (test chorales)", "harmonizer", "most frequent", "Bach", "par/100"):
        assert words in out, out
    h = json.loads((run_dir / "evaluation.json").read_text())["harmony"]
    assert h["bach"]["alto_accuracy"] == 1.0 and 0 <= h["model"]["order"] <= 1
    ok(capsys, "report", run_dir, "--device", "cpu")
    assert "Harmonizations of the test sopranos" in (run_dir / "report.html").read_text()


# -- MIDI folders -------------------------------------------------------------------------------


def test_train_on_a_folder_of_midi_melodies_with_limit(capsys, tmp_path):
    folder = tmp_path / "songs"
    rng = np.random.default_rng(0)
    for k in range(4):
        notes = [Note(int(60 + rng.integers(0, 12)), 4 * i, 4) for i in range(32)]
        write_midi(folder / f"song{k}.mid", notes_to_tokens(notes, 128, (60, 72)), (60, 72), names=["m"])
    out = ok(capsys, "train", *TINY, "--data", folder, "--epochs", "1", "--limit", "10", "--out",
             tmp_path / "run", "--no-figures")
    assert "songs (32,): 10 rows" in out


# -- errors --------------------------------------------------------------------------------------

RUN_ERRORS = [
    ("accompany on a melody run", "melody", ["accompany", "{run}", str(MELODY), "--out", "x.mid"],
     ("holds a vae", "--model accompany")),
    ("a missing melody file", "accompany", ["accompany", "{run}", "nope.mid", "--out", "x.mid"],
     ("nope.mid", "no such MIDI file")),
    ("no variations", "accompany", ["accompany", "{run}", str(MELODY), "--out", "x.mid", "--variations", "0"],
     ("--variations 0",)),
    ("a CSV of music", "melody", ["sample", "{run}", "--out", "x.csv"],
     ("CSV output needs table data", "holds music data")),
    ("an unknown feature", "melody", ["attribute", "{run}", "--feature", "loudness", "--out", "x.mid"],
     ("feature='loudness' is not allowed", "density")),
    ("a wrong output type", "accompany", ["accompany", "{run}", str(MELODY), "--out", "x.wav"],
     (".wav", ".mid")),
]


@pytest.mark.parametrize(("name", "run_name", "argv", "words"), RUN_ERRORS, ids=[e[0] for e in RUN_ERRORS])
def test_a_bad_request_on_a_music_run_fails_in_one_line(trained, capsys, name, run_name, argv, words):
    run_dir, _ = trained(run_name)
    fails(capsys, *[a.replace("{run}", str(run_dir)) for a in argv], words=words)


TRAIN_ERRORS = [
    (["--data", "chorales", "--transpose", "sideways"], ("transpose", "augment:N")),
    (["--data", "chorales", "--window", "0"], ("window", "positive")),
    (["--data", "digits", "--voices", "melody"], ("voices", "only to music")),
    (["--data", "chorales", "--voices", "melody", "--model", "accompany"], ("accompany", "(4, T)")),
    (["--data", "chorales", "--arch", "conv"], ("conv",)),
    (["--data", "chorales", "--model", "cvae"], ("cvae",)),
]


@pytest.mark.parametrize(("flags", "words"), TRAIN_ERRORS, ids=[" ".join(f) for f, _ in TRAIN_ERRORS])
def test_bad_music_train_flags_fail_in_one_line(capsys, flags, words):
    fails(capsys, "train", *TINY, "--epochs", "1", *flags, "--out", "run", words=words)
    assert not Path("run").exists()


def test_sample_draws_tokens_at_a_temperature(trained, capsys, tmp_path):
    run_dir, _ = trained("melody")

    def draw(name: str, *flags: str) -> np.ndarray:
        ok(capsys, "sample", run_dir, "-n", "6", "--seed", "1", *flags, "--out", tmp_path / name,
           "--device", "cpu")
        return np.load(tmp_path / name)

    greedy = draw("g.npy", "--token-temperature", "0")
    assert np.array_equal(greedy, draw("g2.npy", "--token-temperature", "0"))  # seeded
    hot = draw("h.npy", "--token-temperature", "2")
    assert not np.array_equal(greedy, hot)  # the same codes, other tokens
    fails(capsys, "sample", run_dir, "--token-temperature", "-1", "--out", tmp_path / "x.mid",
          words=("temperature=-1.0", ">= 0"))


def test_interpolate_between_two_midi_melodies(trained, capsys, tmp_path):
    """A musician's own melodies as endpoints: the first window of each, transposed into range."""
    run_dir, _ = trained("melody")
    up = [Note(60 + i, 2 * i, 2) for i in range(12)]  # C4 upwards, below the sopranos' range
    down = [Note(84 - i, 2 * i, 2) for i in range(12)]
    a = write_midi(tmp_path / "up.mid", notes_to_tokens(up, 24, (48, 90)), (48, 90), names=["m"])
    b = write_midi(tmp_path / "down.mid", notes_to_tokens(down, 24, (48, 90)), (48, 90), names=["m"])
    out = ok(capsys, "interpolate", run_dir, "--from", a, "--to", b, "--steps", "3", "--out",
             tmp_path / "ab.npy", "--device", "cpu")
    assert "from up.mid to down.mid" in out and np.load(tmp_path / "ab.npy").shape == (3, 32)
    wide = write_midi(tmp_path / "wide.mid", notes_to_tokens([Note(30, 0, 4), Note(100, 4, 4)], 8, (30, 100)),
                      (30, 100), names=["m"])
    fails(capsys, "interpolate", run_dir, "--from", wide, "--to", b, "--out", tmp_path / "x.mid",
          words=("wide.mid", "spans pitches 30..100", "wider than the model's range"))


def test_accompany_warns_about_a_melody_not_in_four_four(trained, capsys, tmp_path):
    import mido

    run_dir, _ = trained("accompany")
    waltz = tmp_path / "waltz.mid"
    mid = mido.MidiFile(type=1, ticks_per_beat=480)
    mid.tracks.append(mido.MidiTrack([mido.MetaMessage("time_signature", numerator=3, denominator=4)]))
    track = mido.MidiTrack()
    for i in range(12):
        track += [mido.Message("note_on", note=67 + i % 3, velocity=64, time=0),
                  mido.Message("note_off", note=67 + i % 3, velocity=0, time=480)]
    mid.tracks.append(track)
    mid.save(waltz)
    code, out, err = run(capsys, "accompany", run_dir, waltz, "--out", tmp_path / "w.mid", "--device", "cpu")
    assert code == 0 and "warning: waltz.mid is in 3/4" in err
    assert len(melodic_tracks(tmp_path / "w.mid")) == 4
    code, _, err = run(capsys, "accompany", run_dir, MELODY, "--out", tmp_path / "o.mid", "--device", "cpu")
    assert code == 0 and "warning" not in err
