"""Crash tests of the run directory, in the spirit of SQLite's: kill a real training process
(SIGKILL, no chance to clean up) at every write point of its epoch commits in turn, look at what
it left as a reader would, resume, and require the result of a run that was never interrupted:
the same weights bit for bit, the same metrics.jsonl, the same best epoch. And two writers at once.

Write points are found, not listed by hand: a child (tests/fault_child.py) first runs once and
logs every fsync, rename and removal it makes; then one child per point is killed there.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import torch
from cli_helpers import run as cli
from safetensors.torch import load_file

import vaelab
from vaelab.run import RunDir

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="SIGKILL, fork and /proc are POSIX")

CHILD = Path(__file__).with_name("fault_child.py")
MODEL = ["train", "--data", "digits", "--model", "vae", "--arch", "mlp", "--hidden", "32",
         "--latent-dim", "4", "--batch-size", "128", "--quiet", "--no-figures"]
TRAIN = [*MODEL, "--epochs", "2", "--out", "run"]
RESUME = ["train", "--resume", "--out", "run", "--quiet", "--no-figures"]
VOLATILE = ("seconds", "samples_per_s")  # wall-clock figures differ between any two runs
ENV = {**os.environ, "OMP_NUM_THREADS": "1",
       "PYTHONPATH": os.pathsep.join([str(Path(vaelab.__file__).parents[1]), *sys.path])}


def children(cwd: Path, plans: list[str], argv: list[str]) -> list[int]:
    """Run ``argv`` once per plan, in cwd/plan-N; the exit statuses (-9: killed)."""
    done = subprocess.run([sys.executable, str(CHILD), ",".join(plans), *argv], cwd=cwd, env=ENV,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def outcome(run_dir: Path) -> dict[str, object]:
    """What a finished run is, read from the files as any tool would: its weights, its metrics
    without timings, its best epoch."""
    metrics = [{k: v for k, v in json.loads(line).items() if k not in VOLATILE}
               for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    state = torch.load(run_dir / "trainer_state.pt", weights_only=True)
    return {"weights": load_file(str(run_dir / "model.safetensors")), "metrics": metrics,
            "best_epoch": state["best_epoch"], "epoch": state["epoch"]}


def same(a: dict[str, object], b: dict[str, object]) -> bool:
    wa, wb = a["weights"], b["weights"]
    return (wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)  # type: ignore[union-attr]
            and all(a[k] == b[k] for k in ("metrics", "best_epoch", "epoch")))


def as_a_reader_sees_it(run_dir: Path) -> str:
    """Read what a killed writer left, the way every command reads a run, and check that it is one
    commit: the model loads, and trainer state, metrics and manifest agree on the epoch."""
    rd = RunDir(run_dir)
    if not rd.is_run():
        return "no run"
    vaelab.load(run_dir)
    epoch = int(rd.load_trainer_state()["epoch"])
    assert len(rd.read_metrics()) == epoch == json.loads((run_dir / "manifest.json").read_text())["epoch"]
    return f"epoch {epoch}"


def test_a_kill_at_any_write_point_of_training_loses_nothing(tmp_path, capsys, monkeypatch):
    assert children(tmp_path, [f"log:{tmp_path / 'points.txt'}"], TRAIN) == [0]
    expected = outcome(tmp_path / "plan-1" / "run")
    points = [line.split(" ", 2)[1:] for line in (tmp_path / "points.txt").read_text().splitlines()]
    assert [name for kind, name in points if kind == "replace"].count("manifest.json") == 2  # 2 commits
    # A file's flush is torn (the file cut to half), a folder's flush, a rename or a removal is not.
    plans = [f"{n}:torn" if kind == "fsync" and name != "run" else str(n)
             for n, (kind, name) in enumerate(points, start=1)]
    killed = tmp_path / "killed"
    killed.mkdir()
    assert children(killed, plans, TRAIN) == [-signal.SIGKILL] * len(plans)

    table, threads = [], torch.get_num_threads()
    torch.set_num_threads(1)  # as in the children, so that floating point sums agree bit for bit
    try:
        for n, plan in enumerate(plans, start=1):
            where = killed / f"plan-{n}"
            monkeypatch.chdir(where)
            left = as_a_reader_sees_it(where / "run")
            code, _, err = cli(capsys, *(TRAIN if left == "no run" else RESUME))
            assert code == 0, (n, err)
            assert same(outcome(where / "run"), expected), f"killed at {plan} {points[n - 1]}"
            assert not RunDir(where / "run").leftovers()
            with RunDir(where / "run").writing():  # a killed writer's lock died with it
                pass
            table.append(f"{plan:>8}  {' '.join(points[n - 1]):<40} {left}")
    finally:
        torch.set_num_threads(threads)
    print("\n".join(["    plan  write point                              a reader then saw", *table]))


def test_two_writers_at_once_one_wins_and_the_run_stays_one_run(tmp_path) -> None:
    # Started at the same moment: one trains, the other is refused (by the lock, or because the
    # directory holds a run by the time it looks); never a mix of the two.
    with ThreadPoolExecutor(max_workers=2) as pool:
        a, b = pool.map(lambda seed: children(tmp_path, ["-"], [*TRAIN, "--seed", seed]), ["1", "2"])
    assert sorted(a + b) == [0, 2]
    winner_seed = json.loads((tmp_path / "plan-1" / "run" / "config.json").read_text())["train"]["seed"]
    assert winner_seed == (1 if a == [0] else 2)
    assert as_a_reader_sees_it(tmp_path / "plan-1" / "run") == "epoch 2"


def wait_for(path: Path, seconds: float = 120) -> None:
    end = time.monotonic() + seconds
    while not path.exists():
        assert time.monotonic() < end, f"{path} never appeared"
        time.sleep(0.05)


def test_a_second_writer_is_refused_while_the_first_trains(tmp_path, capsys, monkeypatch) -> None:
    # Its own session, so that killing the group kills the forked trainer with its parent.
    first = subprocess.Popen([sys.executable, str(CHILD), "-", *MODEL, "--epochs", "1000", "--out", "run"],
                             cwd=tmp_path, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
    run_dir = tmp_path / "plan-1" / "run"
    try:
        wait_for(run_dir / "manifest.json")  # training, with at least one epoch committed
        monkeypatch.chdir(tmp_path / "plan-1")
        code, _, err = cli(capsys, *MODEL, "--epochs", "2", "--out", "run", "--overwrite")
        holder = (run_dir / ".lock").read_text().split()[1]  # the forked trainer's pid
        assert code == 2 and len(err.strip().splitlines()) == 1
        assert f"run is being written by process {holder} (fault_child.py -, since" in err
    finally:
        os.killpg(first.pid, signal.SIGKILL)  # the trainer too: killed in the middle of anything
        first.wait()
    time.sleep(0.5)  # the orphaned trainer is reaped by init
    left = as_a_reader_sees_it(run_dir)  # what is left is one commit ...
    code, _, err = cli(capsys, *RESUME, "--epochs", str(int(left.split()[1]) + 1))
    assert code == 0, err  # ... and it resumes
