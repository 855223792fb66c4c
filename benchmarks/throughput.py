"""Training throughput: vaelab's trainer against a plain PyTorch DataLoader loop, same model, one run.

The model is the classic 784-400-20 MLP VAE of pytorch/examples (Bernoulli likelihood on grey
levels, batch 128, Adam 1e-3, float32) on Fashion-MNIST. Both loops train the same number of
epochs on the same 60,000 images; the script prints samples/s for each, their ratio, and the share
of this machine's measured float32 matmul throughput that each reaches.

    python benchmarks/throughput.py                 # the comparison at identical settings
    python benchmarks/throughput.py --extras        # also larger batches, compile, bf16

FLOPs per training sample are counted from the layer shapes: forward 2*MACs, backward 2*MACs for
the weight gradients of every layer plus 2*MACs for the input gradients of every layer but the
first (nothing needs the gradient of the data).
"""

from __future__ import annotations

import argparse
import datetime
import platform
import statistics
import time

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


def plain_epoch(model: PlainVAE, opt: torch.optim.Optimizer, x01: torch.Tensor,
                batch_size: int) -> float:
    """One epoch of the usual loop (TensorDataset + DataLoader(shuffle=True)); samples/s."""
    loader = DataLoader(TensorDataset(x01), batch_size=batch_size, shuffle=True)
    t = time.perf_counter()
    for (xb,) in loader:
        logits, mu, logvar = model(xb)
        bce = F.binary_cross_entropy_with_logits(logits, xb, reduction="sum")
        kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
        loss = (bce + kld) / len(xb)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return len(x01) / (time.perf_counter() - t)


@torch.no_grad()
def plain_test_loss(model: PlainVAE, x01: torch.Tensor) -> float:
    torch.manual_seed(0)
    logits, mu, logvar = model(x01)
    bce = F.binary_cross_entropy_with_logits(logits, x01, reduction="sum")
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return float((bce + kld) / len(x01))


def vaelab_model(data: vaelab.Dataset) -> vaelab.Autoencoder:
    return vaelab.build_model(data=data, model="vae", arch="mlp", hidden=(400,), latent_dim=20,
                              likelihood="bernoulli", seed=0)


def vaelab_config(epochs: int, batch_size: int = 128, **kw: object) -> vaelab.TrainConfig:
    lr = 1e-3 * (batch_size / 128) ** 0.5  # square-root learning-rate scaling for Adam
    # No clipping, as in the plain loop it is compared with (vaelab clips spikes by default).
    return vaelab.TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, val_fraction=0.0,
                              grad_clip=0.0, device="cpu", **kw)  # type: ignore[arg-type]


def test_loss(model: vaelab.Autoencoder, data: vaelab.Dataset) -> float:
    return mean_losses(model, torch.from_numpy(data.x_test))["loss"]


def cpu_has_bf16() -> bool:
    try:
        flags = open("/proc/cpuinfo").read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3,
                        help="one-epoch rounds of each loop, interleaved; medians are reported")
    parser.add_argument("--extras", action="store_true",
                        help="also time larger batches, torch.compile and bfloat16 autocast")
    args = parser.parse_args()

    data = vaelab.load_dataset("fashion-mnist")
    x01 = torch.from_numpy(data.x_train.reshape(len(data.x_train), -1) / 255.0).float()
    x01_test = torch.from_numpy(data.x_test.reshape(len(data.x_test), -1) / 255.0).float()
    peak = matmul_peak()
    flops = train_flops_per_sample()
    print(f"# {datetime.date.today()}  {platform.machine()}  torch {torch.__version__}  "
          f"threads {torch.get_num_threads()}")
    print(f"measured float32 matmul peak: {peak / 1e9:.1f} GFLOP/s; "
          f"model: {flops / 1e6:.2f} MFLOP per training sample")

    torch.manual_seed(0)
    plain = PlainVAE()
    plain_opt = torch.optim.Adam(plain.parameters(), lr=1e-3)
    ours = vaelab_model(data)
    plain_epoch(PlainVAE(), torch.optim.Adam(PlainVAE().parameters()), x01[:4096], 128)  # warm-up
    plain_speeds, our_speeds = [], []
    for _ in range(args.rounds):  # interleaved, so that a busy moment hits both loops alike
        plain_speeds.append(plain_epoch(plain, plain_opt, x01, 128))
        result = vaelab.fit(ours, data.x_train, config=vaelab_config(1))
        our_speeds.append(result.history[-1]["samples_per_s"])
    plain_speed, our_speed = statistics.median(plain_speeds), statistics.median(our_speeds)
    print(f"\nbatch 128, float32, Adam 1e-3: {args.rounds} interleaved one-epoch rounds of "
          f"{len(x01)} images; median samples/s (all rounds)")
    print(f"{'loop':<26}{'samples/s':>10}{'% of peak':>11}  {'test -ELBO':>10}  rounds")
    for name, speed, speeds, test in [
        ("plain PyTorch DataLoader", plain_speed, plain_speeds, plain_test_loss(plain, x01_test)),
        ("vaelab.fit", our_speed, our_speeds, test_loss(ours, data)),
    ]:
        print(f"{name:<26}{speed:>10.0f}{100 * speed * flops / peak:>10.1f}%  {test:>10.2f}  "
              + " ".join(f"{v:.0f}" for v in speeds))
    print(f"ratio vaelab / plain: {our_speed / plain_speed:.2f}x")

    if args.extras:
        epochs = args.rounds
        print(f"\nfaster settings: each trains {epochs} epochs from the same start; samples/s is "
              "the median epoch (a compiled run's first epoch includes compilation)")
        settings = [("batch 128", {}), ("batch 128, compile", {"compile": True}),
                    ("batch 512", {"batch_size": 512}), ("batch 1024", {"batch_size": 1024})]
        if cpu_has_bf16():
            settings.append(("batch 128, bfloat16", {"precision": "bf16"}))
        for name, kw in settings:
            model = vaelab_model(data)
            result = vaelab.fit(model, data.x_train, config=vaelab_config(epochs, **kw))
            speeds = [r["samples_per_s"] for r in result.history]
            speed = statistics.median(speeds[1:] if kw.get("compile") else speeds)
            cfg = vaelab_config(epochs, **kw)
            print(f"{name:<22} lr {cfg.lr:.2e} {speed:>8.0f} samples/s "
                  f"{100 * speed * flops / peak:>5.1f}% of peak  test -ELBO {test_loss(model, data):.2f}")
        if not cpu_has_bf16():
            print("bfloat16 autocast: not run, this CPU has no bf16 units (avx512_bf16/amx)")


if __name__ == "__main__":
    main()
