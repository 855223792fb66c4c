"""vaelab.distributed and fit under torchrun: 2 CPU processes (gloo) started the way users start
them, `torchrun --standalone --nproc-per-node 2 -m vaelab train ...`, against one process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import vaelab
from vaelab import distributed
from vaelab.cli import main

TRAIN = ["train", "--data", "digits", "--arch", "mlp", "--hidden", "32", "--latent-dim", "4",
         "--batch-size", "100", "--quiet", "--no-figures"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1",
       "PYTHONPATH": os.pathsep.join([str(Path(vaelab.__file__).parents[1]), *sys.path])}


def torchrun(cwd: Path, *argv: object) -> str:
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node",
                           "2", "-m", "vaelab", *map(str, argv)], cwd=cwd, env=ENV, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def weights(run: Path) -> dict[str, torch.Tensor]:
    return load_file(str(run / "model.safetensors"))


def losses(run: Path) -> list[float]:
    return [json.loads(line)["train_loss"] for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_two_processes_train_what_one_does_and_only_rank_0_writes(tmp_path, one_thread, monkeypatch):
    # An AE draws no noise, so two processes sharing each global batch of 100 rows (the last one,
    # 37 rows, as 19 + 18) must follow one process to rounding: gradients are averaged, each rank's
    # share weighted by its rows.
    out = torchrun(tmp_path, *TRAIN, "--model", "ae", "--epochs", 2, "--out", "two")
    assert out.count("training ae") == 1 and out.count("run directory: two") == 1  # rank 0 speaks
    manifest = json.loads((tmp_path / "two" / "manifest.json").read_text())
    assert manifest["generation"] == 2  # one commit per epoch: rank 1 wrote nothing
    assert sorted(p.name for p in tmp_path.iterdir()) == ["two"]
    monkeypatch.chdir(tmp_path)
    assert main([*TRAIN, "--model", "ae", "--epochs", "2", "--out", "one"]) == 0
    a, b = weights(tmp_path / "two"), weights(tmp_path / "one")
    assert max((a[k] - b[k]).abs().max().item() for k in a) < 1e-4
    assert losses(tmp_path / "two") == pytest.approx(losses(tmp_path / "one"), rel=1e-5)


def test_resume_under_two_processes_ends_where_an_uninterrupted_job_does(tmp_path):
    # A VAE: each rank draws its own noise, and resuming restores every rank's random state.
    torchrun(tmp_path, *TRAIN, "--epochs", 2, "--out", "whole")
    torchrun(tmp_path, *TRAIN, "--epochs", 1, "--out", "halves")
    out = torchrun(tmp_path, "train", "--resume", "--out", "halves", "--epochs", 2, "--quiet", "--no-figures")
    assert "resuming from epoch 1 of 2" in out
    a, b = weights(tmp_path / "whole"), weights(tmp_path / "halves")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert losses(tmp_path / "whole") == losses(tmp_path / "halves")


def test_each_rank_takes_its_share_of_a_batch():
    for rows in (100, 37, 2):
        parts = [distributed.share(rows, distributed.World(r, 2, r)) for r in range(2)]
        assert parts[0].start == 0 and parts[0].stop == parts[1].start and parts[1].stop == rows
        assert abs((parts[0].stop - parts[0].start) - (parts[1].stop - parts[1].start)) <= 1


def test_world_from_torchruns_environment(monkeypatch):
    assert distributed.world() == distributed.World(0, 1, 0)
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert distributed.world() == distributed.World(1, 2, 1) and not distributed.world().main
    monkeypatch.setenv("RANK", "2")
    with pytest.raises(ValueError, match="RANK=2 and WORLD_SIZE=2 are not allowed"):
        distributed.world()


def ranks_of(cwd: Path) -> dict[int, int]:
    """{rank: pid} of the vaelab processes of a torchrun job working in ``cwd`` (Linux /proc)."""
    found = {}
    for proc in Path("/proc").iterdir():
        try:
            if not proc.name.isdigit() or Path(os.readlink(proc / "cwd")) != cwd:
                continue
            env = dict(v.split("=", 1) for v in (proc / "environ").read_text().split("\0") if "=" in v)
            if "vaelab" in (proc / "cmdline").read_text() and "RANK" in env and "LOCAL_RANK" in env:
                found[int(env["RANK"])] = int(proc.name)
        except OSError:
            continue
    return found


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="finds the ranks through /proc")
def test_a_rank_that_dies_ends_the_job_with_one_line_and_the_last_epoch_stays_good(tmp_path):
    job = subprocess.Popen([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node",
                            "2", "-m", "vaelab", *TRAIN, "--epochs", "100000", "--out", "run"], cwd=tmp_path,
                           env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not (tmp_path / "run" / "manifest.json").exists() or 1 not in ranks_of(tmp_path):
            assert time.monotonic() < deadline and job.poll() is None, "the job never committed an epoch"
            time.sleep(0.1)
        os.kill(ranks_of(tmp_path)[1], signal.SIGKILL)
        _, err = job.communicate(timeout=120)
    finally:
        job.kill()
    assert job.returncode != 0
    ours = [line for line in err.splitlines() if "vaelab: error:" in line]
    assert len(ours) == 1 and "another process of this torchrun job stopped" in ours[0], err[-3000:]
    assert "--resume --out run" in ours[0]
    rd = vaelab.RunDir(tmp_path / "run")
    vaelab.load(tmp_path / "run")  # one whole commit
    assert len(rd.read_metrics()) == int(rd.load_trainer_state()["epoch"]) >= 1
