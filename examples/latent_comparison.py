"""Three 2-D latent spaces of the digits side by side: an AE, a "KL only" VAE and a plain VAE.

    python examples/latent_comparison.py [--out latent_comparison.png] [--epochs 60]

- AE (reconstruction only): nothing ties the codes to any scale or shape, so the classes form
  clusters with gaps between them, wherever the encoder happened to put them.
- "KL only": a VAE with beta = 1000. Its loss rec + 1000 * KL, divided by 1000, is
  rec / 1000 + KL, so the reconstruction term weighs a thousandth of the KL term and is
  negligible: the encoder gives every input the prior itself, q(z|x) = N(0, I). Its posterior
  means all sit at 0 (one dot), so we draw one posterior *sample* per input: a structureless
  ball of the prior's size, every class mixed.
- VAE (beta = 1): the two terms balance; the classes form clusters packed into the prior's ball
  around the origin, with little empty space between them.

For the VAEs each point is one draw z ~ q(z|x); for the AE it is the code. The circles mark the
radii 1 and 2 of the prior N(0, I). Runs in well under a minute on two CPU cores.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

import vaelab
from vaelab import plots

MODELS = {  # panel title -> model settings
    "AE (reconstruction only)": {"model": "ae"},
    "KL only (VAE, beta = 1000)": {"model": "vae", "beta": 1000.0},
    "VAE (beta = 1)": {"model": "vae", "beta": 1.0},
}


@torch.no_grad()
def points(model: vaelab.Autoencoder, x: np.ndarray, seed: int = 0) -> np.ndarray:
    """(N, 2): one posterior sample per input for a VAE, the code for an AE."""
    q = model.encode(torch.from_numpy(x).to(model.device))
    if model.generative:  # a VAE: q is the posterior N(mean, diag(var))
        return q.sample(torch.Generator(device=model.device).manual_seed(seed)).cpu().numpy()
    return q.cpu().numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="latent_comparison.png", help="PNG to write")
    parser.add_argument("--epochs", type=int, default=60, help="epochs per model (default: 60)")
    args = parser.parse_args()

    data = vaelab.load_dataset("digits")  # (1437 + 360, 1, 8, 8), grey levels 0..16
    train = vaelab.TrainConfig(epochs=args.epochs, batch_size=64, val_fraction=0.0, seed=0,
                               device="cpu")
    panels = {}
    for title, settings in MODELS.items():
        model = vaelab.build_model(data=data, arch="mlp", hidden=(256, 128), latent_dim=2, seed=0,
                                   **settings)
        last = vaelab.fit(model, data.x_train, config=train).history[-1]
        print(f"{title}: reconstruction {last['train_rec']:.1f} nats, KL {last['train_kl']:.2f} "
              "nats per digit")
        panels[title] = points(model, data.x_test)
    fig = plots.latent_comparison(
        panels, labels=data.y_test, class_names=data.info.classes,
        title=f"2-D latent spaces of {len(data.x_test)} test digits: codes (AE), one posterior "
        "sample per digit (VAEs)")
    fig.savefig(args.out, dpi=80)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
