"""The commands of conditional and denoising models: ``restyle`` and ``denoise``."""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np
import torch

import vaelab
from vaelab import export as outputs
from vaelab import latent, noise, plots
from vaelab.cli.common import (
    add_data_args,
    add_run_command,
    device_arg,
    load_data,
    model_rows,
    open_run,
    run_data,
    split_arg,
)
from vaelab.cli.conditions import ALL, classes, label_list
from vaelab.config import parse_noise
from vaelab.latent.codes import reconstruct_all

# -- restyle -----------------------------------------------------------------------------------


def _indices(text: str, n: int) -> list[int]:
    try:
        ids = [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise ValueError(f"--index {text!r}: give row numbers separated by commas") from None
    bad = [i for i in ids if not 0 <= i < n]
    if not ids or bad:
        raise ValueError(f"--index {text!r}: row numbers must be from 0 to {n - 1}")
    return ids


def cmd_restyle(args: argparse.Namespace) -> int:
    model, run, device = open_run(args)
    path = outputs.check_suffix(args.out, (".png", ".npy"))
    if not model.conditional or model.config.condition != "label":
        raise ValueError(f"restyle needs a model conditioned on class labels (vaelab train --model cvae on "
                         f"labeled data); {args.run} holds a {model.config.model} "
                         f"conditioned on {model.config.condition}")
    labels = label_list(args.labels, model, "--labels")
    data = run_data(args, model, run)
    x, y = data.split(args.split)
    if y is None or data.info.classes is None:
        raise ValueError(f"--data {data.info.source}: restyle encodes each input with its own label; these "
                         "data have no labels")
    rows = _indices(args.index, len(x))
    with torch.no_grad():
        out = latent.restyle(model, x[rows], y[rows], labels).cpu().numpy()  # (N, L, *shape)
    names = classes(model)
    if path.suffix.lower() == ".npy":
        outputs.write_npy(path, out)
    else:
        if model.data_info.kind != "image":
            raise ValueError(f"--out {path}: PNG output needs image data; use .npy")
        grid = np.concatenate([x[rows][:, None], out], axis=1)  # the input, then each label
        fig = plots.labelled_rows(grid, tuple(model.data_info.value_range),
                                  [f"row {i} ({names[y[i]]})" for i in rows],
                                  ["input", *(names[k] for k in labels)],
                                  title="each input's code decoded with every label")
        outputs.save_figure(fig, path)
    print(f"restyled {len(rows)} input(s) as {len(labels)} label(s) -> {path}")
    return 0


# -- denoise -----------------------------------------------------------------------------------


def _quality(clean: np.ndarray, noisy: np.ndarray, denoised: np.ndarray,
             info: dict[str, Any]) -> str:
    """PSNR (images) or RMSE (tables) of the noisy and the denoised data against the clean."""
    if info.kind == "image":
        vr = tuple(info.value_range)
        a, b = noise.psnr(clean, noisy, vr), noise.psnr(clean, denoised, vr)
        return f"PSNR against the clean data: noisy {a:.2f} dB, denoised {b:.2f} dB (gain {b - a:+.2f} dB)"
    cats = info.categories
    a, b = noise.rmse(clean, noisy, cats), noise.rmse(clean, denoised, cats)
    change = 100 * (b - a) / a if a else 0.0
    return (f"RMSE against the clean data: noisy {a:.4g}, denoised {b:.4g} "
            f"({abs(change):.1f}% {'lower' if change <= 0 else 'higher'})")


def cmd_denoise(args: argparse.Namespace) -> int:
    model, run, device = open_run(args)
    path = outputs.check_suffix(args.out)
    if args.noise is not None and args.clean is not None:
        raise ValueError("give --noise (corrupt clean data here) or --clean (the clean version of noisy "
                         "--data), not both")
    if args.noise is not None:
        try:
            parse_noise(args.noise)
        except ValueError as err:
            raise ValueError(f"--noise {str(err).removeprefix('noise=')}") from None
        if args.noise == "none":
            raise ValueError("--noise none adds nothing; give KIND:LEVEL, e.g. gaussian:0.3")
    data = run_data(args, model, run)
    split = args.split
    x, y = data.split(split)
    clean = None
    if args.noise is not None:
        clean = x
        gen = torch.Generator().manual_seed(args.seed)
        x = model.corrupt(torch.from_numpy(x), gen, noise=args.noise).numpy()
    elif args.clean is not None:
        ref = model_rows(model, load_data(vaelab.DataConfig(spec=args.clean, data_dir=args.data_dir,
                                                            label_column=args.label_column,
                                                            condition_columns=args.condition_columns)))
        clean, _ = ref.split(split)
        if clean.shape != x.shape:
            raise ValueError(f"--clean {args.clean}: {split} rows have shape {clean.shape}, the noisy data "
                             f"{x.shape}; give the same rows without noise")
    if model.conditional and y is None:
        raise ValueError(f"{args.run} is conditional; its data need labels or condition columns")
    info = model.data_info
    shown = min(max(args.n, 1), len(x)) * (2 if clean is None else 3)  # PNG: noisy, denoised (and clean)
    outputs.check_output_size(path, len(x), info, None, flag="-n", value=args.n, pictures=shown)
    denoised = reconstruct_all(model, x, y if model.conditional else None).cpu().numpy()
    if path.suffix.lower() == ".png":
        if info.kind != "image":
            raise ValueError(f"--out {path}: PNG output needs image data; use .csv or .npy")
        k = min(max(args.n, 1), len(x))
        shown = [("noisy", x[:k]), ("denoised", denoised[:k])]
        title = None
        if clean is not None:
            shown.insert(0, ("clean", clean[:k]))
            title = _quality(clean[:k], x[:k], denoised[:k], info).split(": ", 1)[1]
        fig = plots.labelled_rows(np.stack([rows for _, rows in shown]), tuple(info.value_range),
                                  [name for name, _ in shown], title=title)
        outputs.save_figure(fig, path)
    else:
        outputs.write_data(path, denoised, info)
    print(f"denoised {len(x)} rows -> {path}")
    if clean is not None:
        print(_quality(clean, x, denoised, info))
    if model.noise == "none":
        print(f"note: {args.run} was trained without --noise, so it reconstructs rather than denoises")
    return 0


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """Register restyle and denoise."""
    p = add_run_command(sub, common, "restyle", "style transfer with a cvae: encode inputs with their "
                        "own label and decode them with other labels", cmd_restyle)
    add_data_args(p, default="the run's training data")
    split_arg(p, "which rows --index counts in")
    p.add_argument("--index", default="0", metavar="I[,I...]", help="row number(s) (default: 0)")
    p.add_argument("--labels", default=ALL, metavar="L[,L...]",
                   help="labels (ids or class names) to decode with, or all (default: all)")
    p.add_argument("--out", required=True, help="FILE.png (a row per input) or FILE.npy "
                   "(inputs x labels x data shape)")
    device_arg(p)

    p = add_run_command(sub, common, "denoise", "clean noisy data with a run trained with --noise "
                        "(dae, or a vae with --noise)", cmd_denoise)
    add_data_args(p, default="the run's training data")
    split_arg(p)
    p.add_argument("--noise", metavar="KIND:LEVEL",
                   help="corrupt the (clean) data first, then denoise and report the gain: "
                   "gaussian:S, mask:P or saltpepper:P")
    p.add_argument("--clean", metavar="SPEC", help="the clean version of the noisy --data, rows in the "
                   "same order, to report the gain against")
    p.add_argument("-n", type=int, default=16, help="PNG: how many examples to show (default: 16)")
    p.add_argument("--seed", type=int, default=0, help="random seed of --noise (default: 0)")
    p.add_argument("--out", required=True, help="FILE.npy, FILE.csv (tables) or FILE.png (images: "
                   "noisy and denoised rows, and clean when known)")
    device_arg(p)
