"""An exclusive, advisory, per-directory writer lock that dies with its process.

The lock is an OS lock (``flock`` on POSIX, ``msvcrt.locking`` on Windows) on a small file whose
text names the holder; the OS drops it when the holder exits, however it exits (kill -9 too), so a
crashed writer never leaves a stale lock behind, only a lock file that nobody holds. The holder
removes the file when it lets go; a process that locked it just before the removal notices
(:func:`_acquire`) and tries again, so two writers never hold "the" lock at once.

Within one process the lock is re-entrant: ``vaelab train`` takes it to check a directory and the
training loop takes it again to write, without the two refusing each other.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _try_lock(fd: int) -> bool:
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            return False

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


class LockedError(ValueError):
    """Another process holds the lock; the message names it (pid, command, since when)."""


#: locks this process holds: lock file (resolved) -> [file descriptor, depth]
_HELD: dict[str, list[int]] = {}


def holder(path: Path) -> str:
    """Who the lock file says holds (or last held) the lock, e.g.
    ``process 123 (vaelab train, since 2026-12-06 05:12:03)``."""
    try:
        text = Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        text = ""
    return text or "another process"


def held_by(path: str | os.PathLike[str]) -> str | None:
    """Who holds the lock on ``path`` now (:func:`holder`'s words), or None when nobody does. Only
    looks: takes the lock for an instant where it can, and never creates the file."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        if _try_lock(fd):
            _unlock(fd)
            return None
        return holder(Path(path))
    finally:
        os.close(fd)


@contextmanager
def exclusive(path: str | os.PathLike[str], what: str) -> Iterator[bool]:
    """Hold the lock on the file ``path`` (created, and removed again on release) for the ``with``
    block, or raise :class:`LockedError` at once if another process holds it; ``what`` is the thing
    being locked, for the message (``"runs/x is being written by process 123 (...)"``). Yields
    whether this entry took the lock (False where this process already held it)."""
    path = Path(path)
    key = str(path.resolve())
    if key in _HELD:  # re-entered in this process
        _HELD[key][1] += 1
        try:
            yield False
        finally:
            _HELD[key][1] -= 1
        return
    fd = _acquire(path, what)
    try:
        program = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python"
        command = " ".join(["vaelab" if program in ("vaelab", "__main__.py") else program, *sys.argv[1:2]])
        note = f"process {os.getpid()} ({command}, since {time.strftime('%Y-%m-%d %H:%M:%S')})\n"
        os.ftruncate(fd, 0)
        os.write(fd, note.encode())
        _HELD[key] = [fd, 1]
        yield True
    finally:
        _HELD.pop(key, None)
        try:
            if sys.platform != "win32":  # removed while still held; see _acquire for why that is safe
                path.unlink(missing_ok=True)
            _unlock(fd)
        finally:
            os.close(fd)


def _acquire(path: Path, what: str) -> int:
    """Open and lock ``path``; the descriptor. A holder removes the file before it lets go, so a
    process that opened the file just before then may lock a file that is gone: it checks that
    the path still names the file it locked, and tries again if not."""
    for _ in range(100):
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        if not _try_lock(fd):
            os.close(fd)
            raise LockedError(f"{what} is being written by {holder(path)}; wait for it to finish, or choose "
                              "another directory")
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(path))
        except FileNotFoundError:
            same = False
        if same:
            return fd
        _unlock(fd)
        os.close(fd)
    raise LockedError(f"{what}: could not take its lock {path}")  # pragma: no cover - endless churn
