"""The README's examples still run: every ```python block, in order, in one shared namespace, and
every ``vaelab ...`` line of its ```sh / ```bash blocks, through the CLI in-process.

README.md is parsed at test time; nothing of it is copied here. What the README cannot do in a test
is changed by small tables of text substitutions, each with the reason, and every entry must match
the README somewhere (``test_every_substitution_still_matches``) so the tables cannot go stale:

* Fashion-MNIST is not available offline, so its commands run on the built-in ``digits``.
* Long trainings (``--epochs 150`` ..., and three that train the default 30 epochs) run one epoch,
  and big importance-sampling counts run small.

Inputs the README takes for granted (``table.csv``, ``codes.npy``, ``glasses/*.png``, a MIDI folder
...) are written by the ``PREPARE`` table, and runs it reads but never trains (``runs/ae``,
``runs/faces``) are trained for one epoch, each just before the first command that names them. The
music corpora are cut to a few pieces (``few_pieces``), so that parsing them takes a second.

A failure names the README line: Python tracebacks point into README.md itself (each block is
compiled at its own line numbers), and a command that exits non-zero is reported with its line,
its argv and what it printed.
"""

from __future__ import annotations

import contextlib
import glob
import io
import json
import re
import shlex
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

from vaelab.cli import main

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"


# -- the README's fenced blocks -----------------------------------------------------------------


@dataclass(frozen=True)
class Block:
    line: int  # README line of the block's first line of code (1-based)
    lang: str
    code: str


def fenced_blocks(text: str) -> list[Block]:
    """Every fenced block of ``text`` with an info string: its language, code and first line."""
    blocks, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        opening = re.fullmatch(r"```(\w+)\s*", lines[i])
        if opening is None:
            i += 1
            continue
        end = i + 1
        while end < len(lines) and lines[end].strip() != "```":
            end += 1
        assert end < len(lines), f"README.md:{i + 1}: unclosed ``` block"
        blocks.append(Block(i + 2, opening.group(1), "\n".join(lines[i + 1:end]) + "\n"))
        i = end + 1
    return blocks


@dataclass(frozen=True)
class Command:
    line: int  # README line where the command starts
    text: str  # the command, comments stripped and continuations joined


def vaelab_commands(block: Block) -> list[Command]:
    """The ``vaelab ...`` command lines of a shell block, without trailing ``# comments`` and with
    backslash continuations joined."""
    commands, pending, start = [], "", 0
    for offset, raw in enumerate(block.code.splitlines()):
        if not pending:
            start = block.line + offset
        pending += raw
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        # a '#' that begins a word starts a comment (no README command quotes one)
        text = re.sub(r"(^|\s)#.*$", "", pending).strip()
        pending = ""
        if text.startswith("vaelab "):
            commands.append(Command(start, text))
    return commands


BLOCKS = fenced_blocks(README.read_text(encoding="utf-8"))
PYTHON_BLOCKS = [b for b in BLOCKS if b.lang == "python"]
SHELL_BLOCKS = [b for b in BLOCKS if b.lang in ("sh", "bash") and vaelab_commands(b)]


def ids(blocks: list[Block]) -> list[str]:
    return [f"README.md:{b.line}" for b in blocks]


# -- substitutions --------------------------------------------------------------------------------

# (README text, what runs instead, why). Applied to every ```python block.
PYTHON_SUBSTITUTIONS: list[tuple[str, str, str]] = [
    ("epochs=100", "epochs=2", "100 conv epochs on digits take over a minute"),
    ("iwae_k=1000", "iwae_k=10", "1000 importance samples per test image: slow, and not the point"),
    ("k=5000)", "k=10)", "5000 importance samples per image: slow, and not the point"),
]

# (README text, what runs instead, why). Applied to every ``vaelab`` command, as plain text.
COMMAND_SUBSTITUTIONS: list[tuple[str, str, str]] = [
    ("--data fashion-mnist", "--data digits", "Fashion-MNIST cannot be downloaded offline"),
    ("--label Trouser", "--label 1", "on digits: Trouser is Fashion-MNIST's class 1"),
    ("--epochs 150", "--epochs 1", "a long training; one epoch writes the same run directory"),
    ("--epochs 300", "--epochs 1", "a long training; one epoch writes the same run directory"),
    ("--epochs 20", "--epochs 1", "a long training; one epoch writes the same run directory"),
    ("--epochs 10", "--epochs 1", "a long training; one epoch writes the same run directory"),
    # runs/fm trains the default 30 epochs (5 s); with one, the `--resume ... --epochs 40` below
    # (there 3) has epochs left to continue from
    ("--latent-dim 32", "--latent-dim 32 --epochs 1", "runs/fm: one epoch, resumed below"),
    ("--epochs 40", "--epochs 3", "--resume runs/fm (trained for 1) for two more epochs"),
    ("--model accompany", "--model accompany --epochs 1", "the default 30 epochs: 25 s on a dozen chorales"),
    ("--data my-midi-folder/", "--data my-midi-folder/ --epochs 1", "the default 30 epochs take 6 s"),
    ("--iwae-k 5000", "--iwae-k 10", "5000 importance samples per test image: slow, and not the point"),
]


def pattern(old: str) -> re.Pattern:
    """``old`` as a whole: "--epochs 10" does not match "--epochs 100"."""
    return re.compile(re.escape(old) + r"(?!\w)")


def substitute(text: str, table: list[tuple[str, str, str]]) -> str:
    for old, new, _ in table:
        text = pattern(old).sub(new, text)
    return text


def test_every_substitution_still_matches():
    """Each entry of the tables changes some README example: a stale entry is an error."""
    python = "".join(b.code for b in PYTHON_BLOCKS)
    for old, _, why in PYTHON_SUBSTITUTIONS:
        assert pattern(old).search(python), f"python substitution {old!r} ({why}) matches no README example"
    commands = [c.text for b in SHELL_BLOCKS for c in vaelab_commands(b)]
    for old, _, why in COMMAND_SUBSTITUTIONS:
        assert any(pattern(old).search(c) for c in commands), \
            f"command substitution {old!r} ({why}) matches no README command"
    for name in PREAMBLE_NAMES:
        assert re.search(rf"\b{name}\b", python), f"preamble name {name!r} is no longer used by the README"


def test_the_readme_has_what_this_test_expects():
    """A parsing slip would make this test silently run nothing."""
    assert len(PYTHON_BLOCKS) >= 5, ids(PYTHON_BLOCKS)
    assert sum(len(vaelab_commands(b)) for b in SHELL_BLOCKS) >= 30


# -- shared fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models gain nothing from intra-op threads, and on a busy machine torch's spinning
    worker threads make every step many times slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("vaelab-cache")


@pytest.fixture(autouse=True)
def isolated(cache, monkeypatch):
    """No test sees the user's data folder or cache."""
    monkeypatch.delenv("VAELAB_DATA", raising=False)
    monkeypatch.setenv("VAELAB_CACHE", str(cache))


@pytest.fixture(scope="module", autouse=True)
def few_pieces():
    """The chorales and folk songs of music21, cut to a few: a dozen chorales (the first files;
    some are skipped as not 4/4) and one small Essen collection (erk5, 27 songs) instead of about
    30 s and 2 min of parsing."""
    from vaelab.data import corpora

    real = corpora._corpus_files

    def few(name: str) -> list[Path]:
        files = real(name)
        if name == "folk":
            return [p for p in files if p.stem == "erk5"]
        return files[:12]

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(corpora, "_corpus_files", few)
        yield


# -- the Python blocks ---------------------------------------------------------------------------

# Names the README's examples use but never define: a few rows of scikit-learn's breast-cancer
# table (30 numeric columns), the scikit-learn section's X, X_normal (benign rows) and X_new. A
# hundred rows each: the estimators train a fixed number of steps, in at most 200 passes.
PREAMBLE_NAMES = ("X", "X_normal", "X_new")


def preamble() -> dict:
    from sklearn.datasets import load_breast_cancer

    cancer = load_breast_cancer()
    x = cancer.data.astype(np.float32)
    return {"X": x[:100], "X_normal": x[cancer.target == 1][:100], "X_new": x[-20:]}


class Python:
    """The blocks run so far, in one namespace and one working directory."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.namespace = {"__name__": "readme"}
        self.done: set[int] = set()
        self.failed: int | None = None

    def run_through(self, index: int) -> None:
        """Run every block up to ``index`` that has not run yet, in the README's order."""
        for i, block in enumerate(PYTHON_BLOCKS[:index + 1]):
            if self.failed is not None:
                pytest.skip(f"the block at README.md:{self.failed} failed")
            if i in self.done:
                continue
            self.failed = block.line
            code = substitute(block.code, PYTHON_SUBSTITUTIONS)
            # compiled at its README line numbers, so a traceback points into README.md
            exec(compile("\n" * (block.line - 1) + code, str(README), "exec"), self.namespace)
            self.failed = None
            self.done.add(i)


@pytest.fixture(scope="module")
def python(tmp_path_factory) -> Python:
    state = Python(tmp_path_factory.mktemp("readme-python"))
    state.namespace.update(preamble())
    return state


@pytest.mark.parametrize("index", range(len(PYTHON_BLOCKS)), ids=ids(PYTHON_BLOCKS))
def test_python_example(python, index, monkeypatch):
    monkeypatch.chdir(python.folder)
    python.run_through(index)


# -- the command lines ---------------------------------------------------------------------------


def cli(argv: list[str], where: str) -> str:
    """Run ``vaelab argv`` in-process; assert it exits 0; return its stdout."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    assert code == 0, f"{where}: vaelab {shlex.join(argv)} exited {code}\n{err.getvalue()}{out.getvalue()}"
    return out.getvalue()


def write_png(path: Path, pixels: np.ndarray) -> None:
    from PIL import Image  # Pillow comes with matplotlib

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels.astype(np.uint8), mode="L").save(path)


def digit_pngs(folder: str, rows: range) -> None:
    """Digits as 8x8 grey PNGs (0..16 scaled to 0..255)."""
    from sklearn.datasets import load_digits

    images = load_digits().images
    for i in rows:
        write_png(Path(folder) / f"{i}.png", images[i] * 255 / 16)


def table_csv() -> None:
    """Iris: four numeric columns and the class in ``species``."""
    from sklearn.datasets import load_iris

    iris = load_iris()
    lines = [",".join([*(n.replace(" (cm)", "").replace(" ", "_") for n in iris.feature_names), "species"])]
    lines += [",".join([*(f"{v:.1f}" for v in row), iris.target_names[t]])
              for row, t in zip(iris.data, iris.target, strict=True)]
    Path("table.csv").write_text("\n".join(lines) + "\n")


def mixed_csv(path: str, seed: int) -> Callable[[], None]:
    """Numeric columns, a text column (``color``), an integer-coded ``grade`` and missing cells."""

    def write() -> None:
        from helpers import mixed_csv as write_mixed

        write_mixed(Path(path), n=200, seed=seed)

    return write


def codes_npy() -> None:
    """Four codes of the size runs/digits uses."""
    latent_dim = json.loads(Path("runs/digits/config.json").read_text())["model"]["latent_dim"]
    np.save("codes.npy", np.random.default_rng(0).normal(size=(4, latent_dim)).astype(np.float32))


def noisy_npy() -> None:
    """Five digits (1, 8, 8) in grey levels 0..16, a quarter of their pixels set to 0."""
    from sklearn.datasets import load_digits

    x = load_digits().images[:5, None].astype(np.float32)
    x[np.random.default_rng(0).random(x.shape) < 0.25] = 0
    np.save("noisy.npy", x)


def melody(path: Path, pitches: list[int], bars: int) -> None:
    """A 4/4 melody of eighth notes cycling through ``pitches``, ``bars`` bars long."""
    import mido

    track = mido.MidiTrack([mido.MetaMessage("time_signature", numerator=4, denominator=4)])
    for i in range(8 * bars):
        pitch = pitches[i % len(pitches)]
        track.append(mido.Message("note_on", note=pitch, velocity=80, time=0))
        track.append(mido.Message("note_off", note=pitch, velocity=0, time=240))
    path.parent.mkdir(parents=True, exist_ok=True)
    mido.MidiFile(ticks_per_beat=480, tracks=[track]).save(path)


def midi_folder() -> None:
    """A few MIDI melodies of eight bars."""
    for i, pitches in enumerate(([60, 62, 64, 65, 67], [67, 65, 64, 62], [60, 64, 67, 72, 67, 64])):
        melody(Path("my-midi-folder") / f"tune{i}.mid", pitches, bars=8)


def trained(*argv: str) -> Callable[[], None]:
    """A run the README reads but never trains, made with one epoch of ``vaelab train``."""
    return lambda: cli(["train", *argv, "--epochs", "1", "--quiet"], f"setup of {argv[-1]}")


# A file or run a command names -> how to make it, called before the first command that names it.
PREPARE: dict[str, Callable[[], None]] = {
    "table.csv": table_csv,
    "mixed.csv": mixed_csv("mixed.csv", seed=0),
    "customers.csv": mixed_csv("customers.csv", seed=1),
    "codes.npy": codes_npy,
    "noisy.npy": noisy_npy,
    "glasses": lambda: digit_pngs("glasses", range(0, 6)),
    "plain": lambda: digit_pngs("plain", range(6, 12)),
    "examples/ode-to-joy.mid": lambda: shutil.copytree(ROOT / "examples", "examples", dirs_exist_ok=True),
    "mine.mid": lambda: melody(Path("mine.mid"), [60, 62, 64, 65, 67, 69], bars=2),
    "yours.mid": lambda: melody(Path("yours.mid"), [72, 71, 69, 67], bars=2),
    "my-midi-folder/": midi_folder,
    "runs/ae": trained("--model", "ae", "--out", "runs/ae"),
    "runs/faces": lambda: (digit_pngs("faces", range(40)),
                           trained("--data", "faces/", "--out", "runs/faces")()),
}


class Shell:
    """The command blocks run so far, in one working directory."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.done: set[int] = set()
        self.prepared: set[str] = set()
        self.failed: int | None = None

    def argv(self, command: Command) -> list[str]:
        """The command's argv after substitutions, with globs expanded (there is no shell)."""
        words = shlex.split(substitute(command.text, COMMAND_SUBSTITUTIONS))[1:]
        for word in words:
            for name, make in PREPARE.items():
                if name not in self.prepared and (word == name or word.startswith(name.rstrip("/") + "/")):
                    make()
                    self.prepared.add(name)
        argv = []
        for word in words:
            if glob.has_magic(word):
                found = sorted(glob.glob(word))
                assert found, f"README.md:{command.line}: {word} matches no file"
                argv += found
            else:
                argv.append(word)
        return argv

    def run_through(self, index: int) -> None:
        for i, block in enumerate(SHELL_BLOCKS[:index + 1]):
            if self.failed is not None:
                pytest.skip(f"the command at README.md:{self.failed} failed")
            if i in self.done:
                continue
            for command in vaelab_commands(block):
                self.failed = command.line
                cli(self.argv(command), f"README.md:{command.line}")
            self.failed = None
            self.done.add(i)


@pytest.fixture(scope="module")
def shell(tmp_path_factory) -> Shell:
    return Shell(tmp_path_factory.mktemp("readme-commands"))


@pytest.mark.parametrize("index", range(len(SHELL_BLOCKS)), ids=ids(SHELL_BLOCKS))
def test_command_lines(shell, index, monkeypatch):
    if any(re.search(r"chorales|folk|\.mid\b", c.text) for c in vaelab_commands(SHELL_BLOCKS[index])):
        pytest.importorskip("music21")  # the music extra
        pytest.importorskip("mido")
    monkeypatch.chdir(shell.folder)
    shell.run_through(index)
