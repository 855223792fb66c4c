"""Mixed precision on the CPU: the digits conv VAE trained in fp32 and in bf16, side by side in one run.

Both runs start from the same weights (the same seed), train the same epochs on the same batches,
and are evaluated the same way in float32 (``vaelab.evaluate`` with ``iwae_k=0``: the -ELBO from one
posterior sample per test row, with its standard error). The script prints samples/s (the median
epoch, so the first epoch's warm-up does not count) and the test -ELBO of each, and their ratios.
fp16 needs CUDA and is not run on the CPU.

    python benchmarks/precision.py               # 30 epochs of each, a minute or two
    python benchmarks/precision.py --epochs 60
"""

from __future__ import annotations

import argparse
import datetime
import platform
import statistics

import torch

import vaelab
from vaelab.config import ModelConfig, TrainConfig


def cpu_bf16_units() -> str:
    """Which bf16 instructions this CPU has, from /proc/cpuinfo (Linux), or "none"."""
    try:
        flags = set(open("/proc/cpuinfo").read().split())
    except OSError:
        return "unknown"
    return ", ".join(f for f in ("avx512_bf16", "amx_bf16") if f in flags) or "none"


def cpu_name() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def run(data: vaelab.Dataset, precision: str, epochs: int, seed: int) -> tuple[float, float, float]:
    """(median samples/s, test -ELBO, its standard error) of the conv VAE trained in ``precision``."""
    model = vaelab.build_model(ModelConfig(arch="conv", latent_dim=8), data, seed=seed)
    config = TrainConfig(epochs=epochs, batch_size=128, seed=seed, precision=precision, device="cpu")
    result = vaelab.fit(model, data.x_train, config=config)
    speed = statistics.median(r["samples_per_s"] for r in result.history)
    ev = vaelab.evaluate(model, data, iwae_k=0)
    return speed, ev.neg_elbo, ev.neg_elbo_se


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    data = vaelab.load_dataset("digits")
    print(f"# {datetime.date.today()}  {cpu_name()} ({cpu_bf16_units()} bf16 units)  "
          f"torch {torch.__version__}  threads {torch.get_num_threads()}")
    print(f"digits conv VAE (latent 8), {len(data.x_train)} training rows, {args.epochs} epochs, batch 128, "
          f"seed {args.seed}; test -ELBO in nats on {len(data.x_test)} rows, evaluated in float32")
    rows = {p: run(data, p, args.epochs, args.seed) for p in ("fp32", "bf16")}
    print(f"{'precision':<10}{'samples/s':>10}{'test -ELBO':>12}{'± se':>7}")
    for name, (speed, elbo, se) in rows.items():
        print(f"{name:<10}{speed:>10.0f}{elbo:>12.2f}{se:>7.2f}")
    (s32, e32, _), (s16, e16, _) = rows["fp32"], rows["bf16"]
    print(f"ratio bf16 / fp32: samples/s {s16 / s32:.2f}x, test -ELBO {e16 / e32:.3f} "
          f"({e16 - e32:+.2f} nats)")


if __name__ == "__main__":
    main()
