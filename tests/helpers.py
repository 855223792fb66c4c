"""Plain helpers shared by the test modules: small synthetic data sets, tiny models, token
sequences, MIDI and IDX files, figure checks. Fixtures live in conftest.py, not here."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch

import vaelab
from vaelab.config import ModelConfig
from vaelab.data import DataInfo, Dataset, write_idx
from vaelab.data.tokens import sounding_pitches
from vaelab.evaluation import metrics
from vaelab.registry import MODELS


def image_data(shape: tuple[int, ...] = (1, 8, 8), n: int = 64, hi: float = 255.0,
               seed: int = 0) -> Dataset:
    """Random images with integer grey levels in [0, hi], labels 0..3."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, int(hi) + 1, size=(n, *shape)).astype(np.float32)
    y = np.arange(n) % 4
    info = DataInfo(name="toy-images", source="test", kind="image", shape=shape,
                    value_range=(0.0, hi), classes=("a", "b", "c", "d"))
    return Dataset.from_arrays(info, x, y, test_fraction=0.25, seed=0)


def table_data(d: int = 5, n: int = 80, seed: int = 0, conditions: int = 0) -> Dataset:
    """Correlated Gaussian columns with very different scales (to exercise the scaler); with
    ``conditions`` > 0, that many extra attribute columns (a0, a1, ...) as the conditions y."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 2))
    x = (z @ rng.normal(size=(2, d)) + 0.1 * rng.normal(size=(n, d))) * np.logspace(0, 3, d)
    x = x.astype(np.float32)
    y = None
    names = None
    if conditions:
        y = (z[:, :1] * 10 + 50 + rng.normal(size=(n, conditions))).astype(np.float32)  # (N, A)
        names = tuple(f"a{i}" for i in range(conditions))
    info = DataInfo(name="toy-table", source="test", kind="table", shape=(d,),
                    value_range=(float(x.min()), float(x.max())),
                    columns=tuple(f"c{i}" for i in range(d)), condition_columns=names)
    return Dataset.from_arrays(info, x, y, test_fraction=0.25, seed=0)


COLORS = ("red", "green", "blue")


def mixed_csv(path, n: int = 400, seed: int = 0, missing: float = 0.05, outliers: int = 0) -> list[int]:
    """Write a CSV of mixed columns: numeric ``width`` and ``height`` that depend on a text column
    ``color`` (3 categories), a ``size`` column (small / large, from height), and an integer-coded
    ``grade`` 1..3 (from width); a share ``missing`` of cells is empty, NA or ?. The last
    ``outliers`` rows break the pattern (a color with the others' sizes); returns their row numbers."""
    rng = np.random.default_rng(seed)
    color = rng.integers(0, 3, size=n)
    width = np.array([10.0, 20.0, 30.0])[color] + rng.normal(0, 1.0, n)
    height = np.array([5.0, 1.0, 3.0])[color] * 100 + rng.normal(0, 10.0, n)
    if outliers:
        width[-outliers:] = np.array([10.0, 20.0, 30.0])[(color[-outliers:] + 1) % 3]
        height[-outliers:] = np.array([5.0, 1.0, 3.0])[(color[-outliers:] + 2) % 3] * 100
    size = np.where(height > 200, "large", "small")
    grade = np.digitize(width, [15, 25]) + 1
    lines = ["width,color,height,size,grade"]
    blanks = ("", "NA", "?")
    for i in range(n):
        cells = [f"{width[i]:.3f}", COLORS[color[i]], f"{height[i]:.2f}", size[i], str(grade[i])]
        for j in range(len(cells)):
            if i < n - outliers and rng.random() < missing:
                cells[j] = blanks[rng.integers(0, 3)]
        lines.append(",".join(cells))
    path.write_text("\n".join(lines) + "\n")
    return list(range(n - outliers, n))


def iris_csv(path: Path, n: int = 30, seed: int = 0, missing: float = 0.08) -> Path:
    """Write ``n`` rows of scikit-learn's iris as a CSV: four numeric columns and the text column
    ``species``, with a share ``missing`` of the cells blank. The tiny mixed table of issue 17."""
    from sklearn.datasets import load_iris

    iris = load_iris()
    rng = np.random.default_rng(seed)
    lines = ["sepal_length,sepal_width,petal_length,petal_width,species"]
    for i in rng.choice(len(iris.data), n, replace=False):
        cells = [f"{v:.1f}" for v in iris.data[i]] + [str(iris.target_names[iris.target[i]])]
        lines.append(",".join("" if rng.random() < missing else cell for cell in cells))
    path.write_text("\n".join(lines) + "\n")
    return path


# -- tiny models ---------------------------------------------------------------------------------

TINY = {"latent_dim": 3, "hidden": (16,), "channels": 4}
EMBED = 5  # size of the learned label embedding in the tests that use one


def make(model: str, arch: str, lik: str, kind: str):
    conditional = MODELS[model].conditional
    data = image_data() if kind == "image" else table_data(conditions=2 if conditional else 0)
    torch.manual_seed(0)
    net = vaelab.build_model(ModelConfig(model=model, arch=arch, likelihood=lik, **TINY), data)
    return net, data


def cvae(arch: str, how: str, seed: int = 0):
    """A tiny CVAE for the case, its data, and a batch (x, y) of 6 training rows."""
    data = table_data(conditions=2) if how == "columns" else image_data()
    config = ModelConfig(model="cvae", arch=arch, label_embedding=EMBED if how == "embedding" else 0, **TINY)
    net = vaelab.build_model(config, data, seed=seed)
    return net, data, torch.from_numpy(data.x_train[:6]), torch.from_numpy(data.y_train[:6])


# -- the latent space ----------------------------------------------------------------------------

SHAPE = (1, 8, 8)


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def tiny(model: str = "vae", latent_dim: int = 3, arch: str = "conv"):
    data = image_data()
    net = vaelab.build_model(ModelConfig(model=model, arch=arch, latent_dim=latent_dim, hidden=(16,),
                                         channels=4), data, seed=0)
    return net.eval(), data


def embed(model, x) -> torch.Tensor:
    with torch.no_grad():
        return model.embed(torch.as_tensor(np.asarray(x)))


# -- token sequences -----------------------------------------------------------------------------

K = 20  # tokens: rest, hold and 18 pitches
SATB = ("soprano", "alto", "tenor", "bass")


def seq_data(x: np.ndarray, k: int = K, y: np.ndarray | None = None,
             classes: tuple[str, ...] | None = None) -> Dataset:
    """A sequence dataset of token rows ``x`` (N, T) or (N, 4, T)."""
    shape = tuple(x.shape[1:])
    info = DataInfo("toy-seq", "test", "sequence", shape, (0, k - 1), classes=classes,
                    pitch_range=(60, 60 + k - 3), voices=SATB[:shape[0]] if len(shape) == 2 else ("melody",),
                    steps_per_quarter=4)
    return Dataset.from_arrays(info, x.astype(np.float32), y, test_fraction=0.25, seed=0)


def random_tokens(n: int, shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, K, size=(n, *shape)).astype(np.float32)


def melodies(n: int, t: int, lo: int, hi: int, seed: int = 0) -> np.ndarray:
    """Random monophonic melodies (N, T): notes of 1, 2 or 4 steps with tokens lo..hi, some rests."""
    rng = np.random.default_rng(seed)
    out = np.zeros((n, t), dtype=np.float32)
    for row in out:
        step = 0
        while step < t:
            length = int(rng.choice([1, 2, 4]))
            row[step] = 0 if rng.random() < 0.1 else rng.integers(lo, hi + 1)
            row[step + 1:step + length] = 1 if row[step] else 0
            step += length
    return out


def chorales(n: int, t: int = 16, seed: int = 0) -> np.ndarray:
    """SATB (N, 4, T) under a fixed rule: alto, tenor and bass play the soprano's rhythm 3, 8 and 12
    semitones lower (holds and rests copied)."""
    s = melodies(n, t, 14, K - 1, seed)
    notes = s >= 2
    voices = [s] + [np.where(notes, s - d, s) for d in (3, 8, 12)]
    return np.stack(voices, axis=1)


def accuracy(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a == b).float().mean())


def elbo_and_iwae(model, x: np.ndarray) -> tuple[float, float]:
    """Mean ELBO (averaged over 64 draws per row, to see past the noise of a single draw) and mean
    importance-weighted bound with k = 256 of the rows ``x``, nats per row."""
    terms = metrics.elbo(model, np.repeat(x, 64, axis=0))
    ll = metrics.log_likelihood(model, x, k=256)
    assert np.isfinite(terms.neg_elbo).all() and np.isfinite(ll).all() and (terms.kl >= 0).all()
    return float(-terms.neg_elbo.mean()), float(ll.mean())


# -- MIDI files ----------------------------------------------------------------------------------

TPB = 480  # ticks per quarter of the files written here; a sixteenth is 120 ticks


def write_tracks(path: Path, tracks: list[list[tuple[int, int, int]]], *, meter: tuple[int, int] = (4, 4),
                 drums: tuple[int, ...] = (), tpb: int = TPB, names: list[str] | None = None) -> Path:
    """A format-1 MIDI file written with mido alone: one track per list of (pitch, start, steps) in
    sixteenths; tracks whose index is in ``drums`` play on channel 10."""
    import mido  # the music extra: only the tests that skip without it call this

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


# -- IDX files -----------------------------------------------------------------------------------

def write_split(
    directory: Path, *, gz: bool, n_train: int = 12, n_test: int = 5, size: int = 4, seed: int = 0
):
    """Write a tiny MNIST-style set; return the four arrays by file name."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, size, size), dtype=np.uint8),
        "train-labels-idx1-ubyte": (np.arange(n_train) % 10).astype(np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, size, size), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": (np.arange(n_test) % 10).astype(np.uint8),
    }
    for name, array in arrays.items():
        write_idx(directory / (name + (".gz" if gz else "")), array)
    return arrays


# -- figures -------------------------------------------------------------------------------------

def png(fig) -> bytes:
    """Render to PNG bytes: proves the figure draws (layout, text, patches) without a display."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    data = buf.getvalue()
    assert data.startswith(b"\x89PNG") and len(data) > 1000
    return data


def texts(artists) -> list[str]:
    return [a.get_text() for a in artists]
