"""Shared pieces of the command-line tests: calling ``vaelab.cli.main`` in-process and checking
its one-line errors, plus two fixtures the CLI test modules import."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from vaelab.cli import main

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def run(capsys, *argv) -> tuple[int, str, str]:
    """Call the CLI in-process; return (exit status, stdout, stderr)."""
    capsys.readouterr()  # drop anything printed before
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def ok(capsys, *argv) -> str:
    """Assert the CLI succeeds; return its stdout."""
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    return out


def fails(capsys, *argv, words: tuple[str, ...]) -> str:
    """Assert the CLI exits 2 with one line ``vaelab: error: ...`` holding every word; return it."""
    code, _, err = run(capsys, *argv)
    lines = err.strip().splitlines()
    assert code == 2, f"exit {code}; stderr: {err}"
    assert len(lines) == 1 and lines[0].startswith("vaelab: error: "), err
    assert "Traceback" not in err
    for word in words:
        assert word in lines[0], f"{word!r} not in {lines[0]!r}"
    return lines[0]


def is_png(path: Path) -> bool:
    return path.is_file() and path.read_bytes()[:8] == PNG_MAGIC


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models gain nothing from intra-op threads, and on a busy machine torch's spinning
    worker threads make every step many times slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """Every test runs in its own empty folder (the CLI's default --out is runs/... there) and never
    sees the user's data folder or cache."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("VAELAB_DATA", raising=False)
    monkeypatch.setenv("VAELAB_CACHE", str(tmp_path / "cache"))
