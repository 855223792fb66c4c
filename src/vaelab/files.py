"""Atomic file writes, for every part of vaelab that writes files (run directories, caches, MIDI),
and named arrays in safetensors files (GMM samplers).

Plain Python and numpy, no torch, so that the data layer can use it too.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np


def _umask() -> int:
    mask = os.umask(0)  # the only portable way to read it is to set it and set it back
    os.umask(mask)
    return mask


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` (its folder is created); on success it replaces
    ``path`` atomically, so a crash leaves the old file or the new one, never half of one.

    >>> with atomic_path(Path("out.txt")) as tmp:       # doctest: +SKIP
    ...     tmp.write_text("done")
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; give the file the usual mode
        _fsync_file(tmp)
        os.replace(tmp, path)
        fsync_dir(path.parent)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _fsync_file(path: str | os.PathLike[str]) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    """Make the renames in the folder ``path`` durable (a no-op where folders cannot be synced)."""
    if os.name == "nt":  # pragma: no cover - Windows cannot open a folder for fsync
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_durable(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` (replacing it) and flush it to disk before returning: the file
    a commit will point at must be whole before the pointer is written."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)


def damaged(path: Path, err: object) -> ValueError:
    """The error for a file that exists but cannot be parsed: it names the file and the reason."""
    return ValueError(f"{path} is damaged or truncated and cannot be read ({err})")


def write_arrays(path: Path, arrays: dict[str, np.ndarray], kind: str, version: str,
                 extra: dict[str, str] | None = None) -> Path:
    """Write named numpy arrays to ``path`` as safetensors (plain data, nothing to unpickle),
    atomically; ``kind`` goes into the metadata so that a reader can tell what the file holds, and
    ``extra`` (strings) with it."""
    from safetensors.numpy import save_file

    path = Path(path)
    with atomic_path(path) as tmp:
        save_file(arrays, str(tmp), metadata={**(extra or {}), "format": kind, "vaelab_version": version})
    return path


def read_arrays(path: Path, kind: str) -> dict[str, np.ndarray]:
    """The arrays of a file written by :func:`write_arrays`; a missing file is a ``FileNotFoundError``,
    a damaged one a ``ValueError`` naming it and ``kind``."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as err:
        raise ValueError(f"{path} is damaged or is not a {kind} written by vaelab ({err})") from None


def read_metadata(path: Path) -> dict[str, str]:
    """The metadata of a safetensors file ({} when it has none or cannot be read)."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="np") as f:
            return f.metadata() or {}
    except (SafetensorError, OSError, ValueError):
        return {}
