"""Run the vaelab command line in child processes that kill themselves (SIGKILL) at a write point.

A write point is any call that makes a write durable or visible: ``os.fsync`` (a file's contents
reach the disk), ``os.replace`` (a rename) and ``os.unlink`` (a removal). A plan is one of

    log:PATH   kill nowhere; append one line per write point to PATH: "N kind file"
    N          SIGKILL just before the N-th write point
    N:torn     the same, and if that point flushes a regular file, cut the file to half first
               (a write the crash tore)
    -          kill nowhere

    python tests/fault_child.py 'log:points.txt,3,5:torn' train --data digits --epochs 2 --out run

runs the command once per plan, each in a forked child working in the folder ``plan-N`` (N = the
plan's place in the list, from 1; created if missing), two at a time, and prints one JSON list of
the children's exit statuses (-9: killed). Python, torch and vaelab are imported once, before the forks, so a
child costs its work and not its imports. Used by tests/test_faults.py, which learned the idea from
SQLite's crash tests: find every place a crash can happen, crash there, and check what survives.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import sys


def _name(arg: object) -> str:
    if isinstance(arg, int):  # a file descriptor
        try:
            return os.readlink(f"/proc/self/fd/{arg}")
        except OSError:
            return f"fd {arg}"
    return os.fspath(arg)  # type: ignore[arg-type]


def install(plan: str) -> None:
    """Wrap os.fsync, os.replace and os.unlink so that each call is a numbered write point."""
    if plan == "-":
        return
    count = [0]
    real = {"fsync": os.fsync, "replace": os.replace, "unlink": os.unlink}

    def point(kind: str, arg: object) -> None:
        count[0] += 1
        if plan.startswith("log:"):
            with open(plan[4:], "a", encoding="utf-8") as f:
                f.write(f"{count[0]} {kind} {os.path.basename(_name(arg))}\n")
            return
        at, _, mode = plan.partition(":")
        if count[0] == int(at):
            if mode == "torn" and kind == "fsync" and stat.S_ISREG(os.fstat(arg).st_mode):  # type: ignore[arg-type]
                os.truncate(_name(arg), os.fstat(arg).st_size // 2)  # type: ignore[arg-type]
            os.kill(os.getpid(), signal.SIGKILL)

    def fsync(fd: int) -> None:
        point("fsync", fd)
        real["fsync"](fd)

    def replace(src: str, dst: str, **kwargs: object) -> None:
        point("replace", dst)
        real["replace"](src, dst, **kwargs)

    def unlink(path: str, **kwargs: object) -> None:
        point("unlink", path)
        real["unlink"](path, **kwargs)

    os.fsync, os.replace, os.unlink = fsync, replace, unlink  # type: ignore[assignment]


def run_plans(plans: list[str], argv: list[str], at_once: int = 2) -> list[int]:
    """Fork one child per plan, ``at_once`` at a time; their exit statuses (negative: killed by
    that signal), in the order of ``plans``."""
    import torch

    torch.set_num_threads(1)  # before any work, so that forked children start clean; the parent
    import vaelab  # compares with runs made on one thread too
    from vaelab.cli import main

    vaelab.load_dataset("digits")  # imports scikit-learn once, here
    running: dict[int, int] = {}  # pid -> index of its plan
    statuses = [0] * len(plans)
    for i, plan in enumerate(plans):
        if len(running) >= at_once:
            _reap(running, statuses)
        folder = f"plan-{i + 1}"
        os.makedirs(folder, exist_ok=True)
        pid = os.fork()
        if pid == 0:  # the child
            code = 1
            try:
                os.chdir(folder)
                install(plan)
                code = main(argv)
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        running[pid] = i
    while running:
        _reap(running, statuses)
    return statuses


def _reap(running: dict[int, int], statuses: list[int]) -> None:
    pid, status = os.wait()
    statuses[running.pop(pid)] = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)


if __name__ == "__main__":
    print(json.dumps(run_plans(sys.argv[1].split(","), sys.argv[2:])))
