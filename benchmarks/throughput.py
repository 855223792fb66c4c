"""Training throughput: vaelab's trainer against a plain PyTorch DataLoader loop, same model, one run.

The model is the classic 784-400-20 MLP VAE of pytorch/examples (Bernoulli likelihood on grey
levels, batch 128, Adam 1e-3, float32) on Fashion-MNIST. Both loops train the same number of
epochs on the same 60,000 images; the script prints samples/s for each, their ratio, and the share
of this machine's measured float32 matmul throughput that each reaches.

    python benchmarks/throughput.py                 # the comparison at identical settings
    python benchmarks/throughput.py --extras        # also larger batches, bf16 autocast

FLOPs per training sample are counted from the layer shapes: forward 2*MACs, backward 2*MACs for
the weight gradients of every layer plus 2*MACs for the input gradients of every layer but the
first (nothing needs the gradient of the data).
"""

from __future__ import annotations

import argparse
import datetime
import platform
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import vaelab
from vaelab.training import mean_losses

LAYERS = [(784, 400), (400, 40), (20, 400), (400, 784)]  # (in, out); encoder head emits mu, logvar


def train_flops_per_sample() -> float:
    macs = sum(i * o for i, o in LAYERS)
    first = LAYERS[0][0] * LAYERS[0][1]
    return 2.0 * (3 * macs - first)


def matmul_peak(n: int = 2048, repeats: int = 20) -> float:
    """Measured float32 GEMM throughput in FLOP/s (best of three timings)."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(3):
        a @ b
    best = 0.0
    for _ in range(3):
        t = time.perf_counter()
        for _ in range(repeats):
            a @ b
        best = max(best, 2 * n**3 * repeats / (time.perf_counter() - t))
    return best


class PlainVAE(nn.Module):
    """The model of pytorch/examples/vae, logits out."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(784, 400)
        self.fc21 = nn.Linear(400, 20)
        self.fc22 = nn.Linear(400, 20)
        self.fc3 = nn.Linear(20, 400)
        self.fc4 = nn.Linear(400, 784)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        h = F.relu(self.fc1(x))
        mu, logvar = self.fc21(h), self.fc22(h)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return self.fc4(F.relu(self.fc3(z))), mu, logvar


def plain_loop(x01: torch.Tensor, epochs: int, batch_size: int, lr: float) -> tuple[float, PlainVAE]:
    """The usual loop: TensorDataset + DataLoader(shuffle=True), loss summed over pixels."""
    torch.manual_seed(0)
    model = PlainVAE()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    loader = DataLoader(TensorDataset(x01), batch_size=batch_size, shuffle=True)
    t = time.perf_counter()
    for _ in range(epochs):
        for (xb,) in loader:
            logits, mu, logvar = model(xb)
            bce = F.binary_cross_entropy_with_logits(logits, xb, reduction="sum")
            kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
            loss = (bce + kld) / len(xb)
            opt.zero_grad()
            loss.backward()
            opt.step()
    return len(x01) * epochs / (time.perf_counter() - t), model


@torch.no_grad()
def plain_test_loss(model: PlainVAE, x01: torch.Tensor) -> float:
    torch.manual_seed(0)
    logits, mu, logvar = model(x01)
    bce = F.binary_cross_entropy_with_logits(logits, x01, reduction="sum")
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return float((bce + kld) / len(x01))


def vaelab_run(data: vaelab.Dataset, epochs: int, batch_size: int, lr: float,
               precision: str = "float32") -> tuple[float, float]:
    """samples/s of vaelab.fit and the test loss (negative ELBO, nats) after training."""
    model = vaelab.build_model(data=data, model="vae", arch="mlp", hidden=(400,), latent_dim=20,
                               likelihood="bernoulli")
    config = vaelab.TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, val_fraction=0.0,
                                device="cpu", precision=precision)
    t = time.perf_counter()
    vaelab.fit(model, data.x_train, config=config)
    speed = len(data.x_train) * epochs / (time.perf_counter() - t)
    test = mean_losses(model, torch.from_numpy(data.x_test))["loss"]
    return speed, test


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--extras", action="store_true",
                        help="also time larger batches (scaled lr) and bfloat16 autocast")
    args = parser.parse_args()

    data = vaelab.load_dataset("fashion-mnist")
    x01 = torch.from_numpy(data.x_train.reshape(len(data.x_train), -1) / 255.0).float()
    x01_test = torch.from_numpy(data.x_test.reshape(len(data.x_test), -1) / 255.0).float()
    peak = matmul_peak()
    flops = train_flops_per_sample()
    print(f"# {datetime.date.today()}  {platform.processor() or platform.machine()}  "
          f"torch {torch.__version__}  threads {torch.get_num_threads()}")
    print(f"measured float32 matmul peak: {peak / 1e9:.1f} GFLOP/s; "
          f"model: {flops / 1e6:.2f} MFLOP per training sample")

    # Warm both paths once (allocator, kernels), then time them in the same run.
    plain_loop(x01[:4096], 1, 128, 1e-3)
    vaelab_run(data, 1, 128, 1e-3)
    plain_speed, plain_model = plain_loop(x01, args.epochs, 128, 1e-3)
    ours_speed, ours_test = vaelab_run(data, args.epochs, 128, 1e-3)
    print(f"\nbatch 128, float32, {args.epochs} epochs of {len(x01)} images")
    print(f"{'loop':<28}{'samples/s':>12}{'% of peak':>11}{'test -ELBO':>12}")
    for name, speed, test in [("plain PyTorch DataLoader", plain_speed,
                               plain_test_loss(plain_model, x01_test)),
                              ("vaelab.fit", ours_speed, ours_test)]:
        print(f"{name:<28}{speed:>12.0f}{100 * speed * flops / peak:>10.1f}%{test:>12.2f}")
    print(f"ratio vaelab / plain: {ours_speed / plain_speed:.2f}x")

    if args.extras:
        print("\nfaster settings (vaelab.fit, same epochs):")
        for bs, precision in [(512, "float32"), (1024, "float32"), (128, "bfloat16")]:
            lr = 1e-3 * (bs / 128) ** 0.5  # square-root scaling for Adam
            speed, test = vaelab_run(data, args.epochs, bs, lr, precision)
            print(f"batch {bs:<5} lr {lr:.2e} {precision:<9}{speed:>10.0f} samples/s "
                  f"{100 * speed * flops / peak:>6.1f}% of peak  test -ELBO {test:.2f}")


if __name__ == "__main__":
    main()
