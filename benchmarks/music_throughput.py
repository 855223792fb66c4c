"""Training throughput on music: vaelab's trainer against a plain PyTorch DataLoader loop, on the
same recurrent models and the same windows, in one run.

Both loops train one model object's ``loss`` (a melody VAE on the chorales' soprano lines, and the
chorale harmonizer on the four voices): the plain loop is what a user would write around it (a
``TensorDataset`` in a shuffled ``DataLoader``, Adam, ``loss.backward()``, clipping the gradient as
vaelab does), and it keeps the loss as a tensor so it never waits on ``.item()``. The script prints
windows per second for each, and their ratio.

    python benchmarks/music_throughput.py              # 3 epochs each, both models
    python benchmarks/music_throughput.py --epochs 5 --models melody
"""

from __future__ import annotations

import argparse
import datetime
import platform
import time

import torch
from torch.utils.data import DataLoader, TensorDataset

import vaelab

MODELS = {
    "melody": {"data": {"voices": "melody"}, "model": {"model": "vae"}},
    "accompany": {"data": {}, "model": {"model": "accompany"}},
}
BATCH = 128


def build(name: str, data: vaelab.Dataset) -> vaelab.Autoencoder:
    return vaelab.build_model(data=data, seed=0, **MODELS[name]["model"])


def plain_loop(model: vaelab.Autoencoder, x: torch.Tensor, epochs: int) -> float:
    """Windows per second of a plain DataLoader loop over ``model.loss``."""
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loader = DataLoader(TensorDataset(x), batch_size=BATCH, shuffle=True, drop_last=False)
    model.train()
    start = time.perf_counter()
    for _ in range(epochs):
        total = torch.zeros(())
        for (batch,) in loader:
            opt.zero_grad(set_to_none=True)
            loss = model.loss(batch).total
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1000.0)
            opt.step()
            total += loss.detach()
        float(total)  # one synchronization per epoch, as vaelab does
    return epochs * len(x) / (time.perf_counter() - start)


def vaelab_loop(model: vaelab.Autoencoder, x: torch.Tensor, epochs: int) -> float:
    config = vaelab.TrainConfig(epochs=epochs, batch_size=BATCH, val_fraction=0.0, device="cpu")
    start = time.perf_counter()
    vaelab.fit(model, x.numpy(), config=config, progress=False)
    return epochs * len(x) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    args = parser.parse_args()
    machine = platform.processor() or platform.machine()
    print(f"{datetime.date.today()}, {machine}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, {args.epochs} epochs, batch {BATCH}")
    print(f"{'model':<10}{'windows':>9}{'params':>11}{'plain loop':>13}{'vaelab.fit':>13}{'ratio':>8}")
    for name in args.models:
        data = vaelab.load_dataset("chorales", **MODELS[name]["data"])
        x = torch.from_numpy(data.x_train)
        plain = plain_loop(build(name, data), x, args.epochs)  # fresh models: same start for both
        ours = vaelab_loop(build(name, data), x, args.epochs)
        params = sum(p.numel() for p in build(name, data).parameters())
        print(f"{name:<10}{len(x):>9}{params:>11,}{plain:>11.0f}/s{ours:>11.0f}/s{ours / plain:>7.2f}x")


if __name__ == "__main__":
    main()
