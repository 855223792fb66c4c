"""vaelab.data.corpora: the chorales and folk corpora, parsed from a few real pieces into a cache."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

mido = pytest.importorskip("mido")

from helpers import SATB, pitches  # noqa: E402

from vaelab.data import corpora as corpus_module  # noqa: E402
from vaelab.data import music  # noqa: E402
from vaelab.data.tokens import FIRST_PITCH, n_tokens  # noqa: E402

# Chorales read in these tests: seven kept, bwv269 (3/4) and bwv4.8 (bars off the grid) skipped.
CHORALES = ("bwv347", "bwv153.1", "bwv86.6", "bwv267", "bwv33.6", "bwv184.5", "bwv311", "bwv269", "bwv4.8")


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
