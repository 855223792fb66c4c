"""Where one training step of the 784-400-20 MLP VAE spends its time (batch 128, float32, CPU).

    python benchmarks/profile_step.py [--batch-size 128] [--steps 200]

Prints the torch.profiler self-time of the step grouped into matrix products, the Adam update,
and everything else (elementwise work, reductions, autograd bookkeeping), plus how fast the step's
matrix products run on their own at these shapes compared with a large square GEMM. That last ratio
bounds the share of matmul peak any trainer can reach with this model and batch size.
"""

from __future__ import annotations

import argparse
import time

import torch
from torch.profiler import ProfilerActivity, profile

import vaelab
from vaelab.training import make_optimizer

GROUPS = {
    "matrix products": ("aten::mm", "aten::addmm", "aten::bmm", "aten::matmul", "aten::linear"),
    "Adam update": ("aten::_fused_adam_", "Optimizer.step", "aten::_foreach"),
}


def gemm_shapes(batch: int) -> list[tuple[int, int, int]]:
    """(m, k, n) of every product in a forward + backward pass of the model."""
    layers = [(784, 400), (400, 40), (20, 400), (400, 784)]
    shapes = []
    for i, (n_in, n_out) in enumerate(layers):
        shapes.append((batch, n_in, n_out))  # forward
        shapes.append((n_out, batch, n_in))  # weight gradient
        if i > 0:
            shapes.append((batch, n_out, n_in))  # input gradient
    return shapes


def time_gemms(shapes: list[tuple[int, int, int]], repeats: int = 300) -> float:
    """FLOP/s of running exactly these products back to back."""
    mats = [(torch.randn(m, k), torch.randn(k, n)) for m, k, n in shapes]
    for a, b in mats:
        a @ b
    t = time.perf_counter()
    for _ in range(repeats):
        for a, b in mats:
            a @ b
    flops = sum(2 * m * k * n for m, k, n in shapes) * repeats
    return flops / (time.perf_counter() - t)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args()

    data = vaelab.load_dataset("fashion-mnist")
    model = vaelab.build_model(data=data, model="vae", arch="mlp", hidden=(400,), latent_dim=20,
                               likelihood="bernoulli", seed=0)
    opt = make_optimizer(model, vaelab.TrainConfig(), torch.device("cpu"))
    x = torch.from_numpy(data.x_train[: args.batch_size * args.steps])

    def step(i: int) -> None:
        losses = model.loss(x[i * args.batch_size:(i + 1) * args.batch_size])
        opt.zero_grad(set_to_none=True)
        losses.total.backward()
        opt.step()

    for i in range(20):
        step(i)
    t = time.perf_counter()
    for i in range(args.steps):
        step(i)
    per_step = (time.perf_counter() - t) / args.steps

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for i in range(50):
            step(i)
    totals = {name: 0.0 for name in [*GROUPS, "everything else"]}
    for event in prof.key_averages():
        group = next((g for g, prefixes in GROUPS.items() if event.key.startswith(prefixes)),
                     "everything else")
        totals[group] += event.self_cpu_time_total
    all_time = sum(totals.values())

    peak = time_gemms([(2048, 2048, 2048)], repeats=10)
    shapes = gemm_shapes(args.batch_size)
    small = time_gemms(shapes)
    flops_step = sum(2 * m * k * n for m, k, n in shapes)
    print(f"batch {args.batch_size}: {per_step * 1e3:.2f} ms per step "
          f"({args.batch_size / per_step:.0f} samples/s), {flops_step / per_step / 1e9:.1f} GFLOP/s "
          f"= {100 * flops_step / per_step / peak:.0f}% of the 2048^3 GEMM's {peak / 1e9:.0f} GFLOP/s")
    for name, us in totals.items():
        print(f"  {name:<18}{100 * us / all_time:5.1f}% of profiled time")
    print(f"the step's {len(shapes)} matrix products alone: {small / 1e9:.1f} GFLOP/s "
          f"= {100 * small / peak:.0f}% of peak (the ceiling for this model and batch)")


if __name__ == "__main__":
    main()
