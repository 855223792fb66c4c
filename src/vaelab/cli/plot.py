"""The ``plot`` command: pictures of a run's latent space (codes, a decoded grid, KL per
dimension) and of its training (loss curves), as PNG files."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import torch

import vaelab
from vaelab import export as outputs
from vaelab import latent, plots
from vaelab.cli.common import add_output_command, max_bytes_arg, open_run, output_limit, run_data
from vaelab.latent.codes import decode_all


def _manifold(model: vaelab.Autoencoder, args: argparse.Namespace, path: Path) -> Any:
    z_dim, kind = model.config.latent_dim, model.data_info.kind
    why = [f"this model's latent_dim is {z_dim}, not 2"] if z_dim != 2 else []
    why += [f"it draws images and this run holds {kind} data"] if kind != "image" else []
    why += ["an AE has no prior, so its codes are not on the N(0, I) scale of the grid"
            ] if not model.generative else []
    why += ["it is conditional; draw each label's samples with 'vaelab sample --label'"
            ] if model.conditional else []
    if why:
        raise ValueError(f"plot manifold needs a VAE on images with a 2-D latent space: "
                         f"{'; '.join(why)}; use 'vaelab plot {args.run} latent' instead")
    if args.n < 2:
        raise ValueError(f"--n {args.n}: the grid needs at least 2 codes per side")
    outputs.check_output_size(path, args.n**2, model.data_info, output_limit(args), flag="--n", value=args.n)
    grid = plots.normal_grid(args.n)  # (n*n, 2)
    with torch.no_grad():
        images = decode_all(model, grid).cpu().numpy()
    return plots.manifold_grid(images, tuple(model.data_info.value_range), grid,
                               title=f"decoded {args.n}x{args.n} grid of the prior")


def cmd_plot(args: argparse.Namespace) -> int:
    path = outputs.check_suffix(args.out, (".png",))
    if args.what == "curves":  # needs only metrics.jsonl
        run = vaelab.RunDir(args.run)
        run.read_config()  # a clear error for a folder that is not a run
        history = run.read_metrics()
        if not history:
            raise ValueError(f"{args.run} has no completed epoch in metrics.jsonl; nothing to plot")
        fig = plots.training_curves(history, title=str(args.run))
    else:
        model, run, device = open_run(args)
        if args.what == "manifold":
            fig = _manifold(model, args, path)
        else:
            data = run_data(args, model, run)
            x, y = data.split(args.split)
            where = f"{data.info.name}, --split {args.split}"
            cond = y if model.conditional else None
            if args.what == "kl":
                fig = plots.kl_per_dimension(latent.kl_per_dimension(model, x, y=cond),
                                             title=f"KL per latent dimension ({where})")
            else:
                classes = data.info.classes if data.labels is not None else None
                y = y if classes is not None else None
                fig = plots.latent_scatter(latent.codes(model, x, cond), y, method=args.method,
                                                  class_names=classes, title=f"codes of {where}")
    outputs.save_figure(fig, path)
    print(f"wrote the {args.what} plot of {args.run} to {path}")
    return 0


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """Register plot."""
    p = add_output_command(sub, common, "plot", "draw a picture of the latent space or the training "
                           "of a run", cmd_plot, "FILE.png",
                           split="latent, kl: the rows to draw or average over")
    p.add_argument("what", choices=("latent", "manifold", "curves", "kl"),
                   help="latent: codes of --split coloured by class; manifold: decoded grid of a "
                   "2-D prior (VAE on images); curves: loss per epoch; kl: KL per latent dimension "
                   "(VAE)")
    p.add_argument("--method", default="auto", choices=("auto", "identity", "pca", "tsne"),
                   help="latent: how codes go to 2-D; auto = identity for 2-D codes, else PCA "
                   "(default: auto)")
    p.add_argument("--n", type=int, default=20, metavar="N", help="manifold: codes per side (default: 20)")
    max_bytes_arg(p)
