"""Denoising gains: PSNR of noisy and of denoised held-out images against the clean ones.

Trains a DAE (and a denoising VAE) per noise kind on a dataset's training split, corrupts the test
split once with a fixed seed, and prints PSNR (dB) of noisy vs clean and denoised vs clean, and the
gain. RMSE in data units is printed too. The same numbers come out of
``vaelab denoise RUN --noise KIND:LEVEL``.

    python benchmarks/denoising.py --data digits --epochs 300
    python benchmarks/denoising.py --data fashion-mnist --epochs 30 --noise gaussian:0.3
"""

from __future__ import annotations

import argparse
import time

import torch

import vaelab
from vaelab.noise import psnr, rmse


def run(data: vaelab.Dataset, model: str, noise: str, epochs: int, seed: int,
        **model_kw: object) -> dict[str, float]:
    t0 = time.perf_counter()
    net = vaelab.build_model(data=data, model=model, noise=noise, seed=seed, **model_kw)
    vaelab.fit(net, data.x_train, data.y_train,
               vaelab.TrainConfig(epochs=epochs, seed=seed, device="cpu"))
    seconds = time.perf_counter() - t0
    x = torch.from_numpy(data.x_test)
    noisy = net.corrupt(x, torch.Generator().manual_seed(seed))
    with torch.no_grad():
        denoised = torch.cat([net.reconstruct(noisy[i:i + 1024]) for i in range(0, len(x), 1024)])
    vr = data.info.value_range
    clean, noisy_np, den_np = data.x_test, noisy.numpy(), denoised.numpy()
    return {"psnr_noisy": psnr(clean, noisy_np, vr), "psnr_denoised": psnr(clean, den_np, vr),
            "rmse_noisy": rmse(clean, noisy_np), "rmse_denoised": rmse(clean, den_np),
            "seconds": seconds}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="digits")
    p.add_argument("--epochs", type=int, default=300)
    p.add_argument("--noise", default="gaussian:0.3,mask:0.5,saltpepper:0.1",
                   help="comma-separated KIND:LEVEL list")
    p.add_argument("--models", default="dae,vae")
    p.add_argument("--arch", default="auto")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    torch.manual_seed(args.seed)
    data = vaelab.load_dataset(args.data)
    print(f"{args.data}: {len(data.x_train)} training rows, {len(data.x_test)} test rows; "
          f"{args.epochs} epochs, arch {args.arch}, torch threads {torch.get_num_threads()}")
    print(f"{'model':6} {'noise':16} {'PSNR noisy':>11} {'denoised':>9} {'gain':>7} "
          f"{'RMSE noisy':>11} {'denoised':>9} {'train s':>8}")
    for model in args.models.split(","):
        for noise in args.noise.split(","):
            r = run(data, model, noise, args.epochs, args.seed, arch=args.arch)
            print(f"{model:6} {noise:16} {r['psnr_noisy']:9.2f}dB {r['psnr_denoised']:7.2f}dB "
                  f"{r['psnr_denoised'] - r['psnr_noisy']:+6.2f} {r['rmse_noisy']:11.4g} "
                  f"{r['rmse_denoised']:9.4g} {r['seconds']:8.0f}", flush=True)


if __name__ == "__main__":
    main()
