"""Scaling out: one process against a torchrun job of several, same model, same global batch, one run.

Trains the same VAE on Fashion-MNIST (a) in one process with every core, and (b) as a torchrun job
of N processes (gloo on the CPU, NCCL with --device cuda) with the cores shared among them, for the
same epochs, seed and global batch; then prints samples/s (mean over the epochs after the first),
the test -ELBO of each run (vaelab evaluate, single draws) and the ratios.

    python benchmarks/scaling.py                          # MLP VAE, 2 processes, 5 epochs
    python benchmarks/scaling.py --arch conv --epochs 3
    python benchmarks/scaling.py --procs 4 --device cuda  # on a machine with 4 GPUs

On a CPU the processes share the machine's cores, so the job cannot beat one process that uses all
of them; what the figure shows there is the cost of the gradient all-reduce. Streaming from disk
(issue 18's third column) is not built yet.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

COMMON = ["--data", "fashion-mnist", "--model", "vae", "--batch-size", "128", "--quiet", "--no-figures",
          "--seed", "0"]


def train(cwd: Path, out: str, args: argparse.Namespace, procs: int) -> dict[str, float]:
    argv = ["train", *COMMON, "--arch", args.arch, "--epochs", str(args.epochs), "--device", args.device,
            "--out", out]
    threads = max(1, (os.cpu_count() or 1) // procs) if args.device == "cpu" else 1
    env = {**os.environ, "OMP_NUM_THREADS": str(threads),
           "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[1] / "src"), *sys.path])}
    if procs == 1:
        command = [sys.executable, "-m", "vaelab", *argv]
    else:
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node",
                   str(procs), "-m", "vaelab", *argv]
    subprocess.run(command, cwd=cwd, env=env, check=True, capture_output=True, text=True)
    records = [json.loads(line) for line in (cwd / out / "metrics.jsonl").read_text().splitlines()]
    later = records[1:] or records
    done = subprocess.run([sys.executable, "-m", "vaelab", "evaluate", out, "--iwae-k", "0", "--no-fidelity",
                           "--json", "--device", args.device], cwd=cwd, env=env, check=True,
                          capture_output=True, text=True)
    evaluation = json.loads(done.stdout)
    return {"samples_per_s": sum(r["samples_per_s"] for r in later) / len(later),
            "neg_elbo": evaluation["neg_elbo"], "se": evaluation["neg_elbo_se"], "threads": threads}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arch", default="mlp", choices=("mlp", "conv"))
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--procs", type=int, default=2)
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    args = parser.parse_args()
    print(f"{datetime.date.today()}, {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"torch {torch.__version__}; Fashion-MNIST {args.arch} VAE, batch 128, {args.epochs} epochs")
    with tempfile.TemporaryDirectory() as folder:
        cwd = Path(folder)
        one = train(cwd, "one", args, 1)
        job = train(cwd, "job", args, args.procs)
    print(f"{'run':<28}{'samples/s':>12}{'test -ELBO':>16}")
    for name, r in ((f"1 process, {one['threads']} threads", one),
                    (f"torchrun, {args.procs} x {job['threads']} threads", job)):
        print(f"{name:<28}{r['samples_per_s']:>12.0f}{r['neg_elbo']:>10.2f} ± {r['se']:.2f}")
    print(f"job / one process: {job['samples_per_s'] / one['samples_per_s']:.2f}x samples/s, "
          f"-ELBO {job['neg_elbo'] - one['neg_elbo']:+.2f} nats")


if __name__ == "__main__":
    main()
