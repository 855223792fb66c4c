"""Commands that use a trained run: sample, reconstruct, encode, decode, info."""

from __future__ import annotations

import argparse
import itertools
import json
import math
from pathlib import Path
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
    gmm_sampler,
    max_bytes_arg,
    open_run,
    output_limit,
    progress,
    run_data,
    split_arg,
)
from vaelab.cli.conditions import sample_conditions
from vaelab.latent.codes import decode_all, reconstruct_all
from vaelab.latent.samplers import DEFAULT_COMPONENTS, GMMSampler

#: how `sample` draws note tokens by default (MusicVAE's examples use 0.5)
MUSIC_TOKEN_TEMPERATURE = 0.5


def cmd_sample(args: argparse.Namespace) -> int:
    if args.n < 1:
        raise ValueError(f"-n {args.n}: the number of samples must be at least 1")
    if not (math.isfinite(args.temperature) and args.temperature > 0):
        raise ValueError(f"--temperature {args.temperature:g}: it must be a number > 0 "
                         "(1 = the sampler's own spread, below 1 = more typical samples)")
    if args.components is not None:
        if args.sampler != "gmm":
            raise ValueError("--components applies only to --sampler gmm")
        if args.components < 1:
            raise ValueError(f"--components {args.components}: a GMM needs at least 1 component")
    limit = output_limit(args)
    model, _, _ = open_run(args)
    info = model.data_info
    path = outputs.check_output(args.out, str(info.kind))
    conditions, names = sample_conditions(args, model)
    total = args.n * len(conditions)
    outputs.check_output_size(path, total, info, limit, flag="-n", value=args.n)
    if args.sampler == "prior":
        if not model.generative:
            raise ValueError("an AE has no prior over its codes, so it cannot sample from a prior; "
                             "use --sampler gmm (a mixture fitted to its codes) or train a VAE "
                             "(--model vae)")
        sampler: str | GMMSampler = "prior"
        source = "the prior"
    else:
        k = DEFAULT_COMPONENTS if args.components is None else args.components
        sampler, source = gmm_sampler(model, vaelab.RunDir(args.run), k)
    music = info.kind == "sequence"
    if args.token_temperature is not None and not music:
        raise ValueError(f"--token-temperature applies to music runs; {args.run} holds "
                         f"{info.kind} data")
    token_temperature = (MUSIC_TOKEN_TEMPERATURE if args.token_temperature is None
                         else args.token_temperature) if music else None
    # A CPU generator: the same --seed gives the same codes on every device. The samples come and
    # are written a chunk at a time (latent.sample_chunks), the same whatever the output format.
    gen = torch.Generator().manual_seed(args.seed)
    streams = [latent.sample_chunks(model, args.n, temperature=args.temperature, generator=gen,
                                    sampler=sampler, y=y, token_temperature=token_temperature)
               for y in conditions]  # args.n rows for each condition, drawn one stream after the other
    chunks = progress((x.cpu().numpy() for x in itertools.chain.from_iterable(streams)), total,
                      "sampling")  # each (m, *shape)
    temp = f", temperature {args.temperature:g}" if args.temperature != 1 else ""
    title = f"{args.n} samples from {'a GMM' if args.sampler == 'gmm' else 'the prior'}{temp}"
    given = ""
    if conditions[0] is not None:
        given = f" given {', '.join(names)}" if len(names) <= 3 else f" for each of {len(names)} labels"
    if len(conditions) > 1 and path.suffix.lower() == ".png":
        rows = np.concatenate(list(chunks)).reshape(len(conditions), args.n, *info.shape)  # a row per label
        fig = plots.labelled_rows(rows, tuple(info.value_range), names, title=title + " per label")
        outputs.save_figure(fig, path)
    else:
        outputs.write_chunks(path, chunks, total, info, title=title + given)
    count = f"{args.n} samples" if len(conditions) == 1 else \
        f"{total} samples ({args.n} per label)"
    print(f"wrote {count}{given if len(conditions) <= 3 else ''} to {path} (from {source}{temp})")
    return 0


def cmd_reconstruct(args: argparse.Namespace) -> int:
    model, run, device = open_run(args)
    info = model.data_info
    path = outputs.check_output(args.out, str(info.kind))
    data = run_data(args, model, run)
    x, y = data.split(args.split)
    x = x[: args.n] if args.n else x
    y = None if y is None or not model.conditional else y[: len(x)]
    # the PNG shows each row twice (input and reconstruction); the size of the rest is the input's
    outputs.check_output_size(path, len(x), info, None, flag="-n", value=args.n, pictures=2 * len(x))
    recon = reconstruct_all(model, x, y).cpu().numpy()
    if path.suffix.lower() == ".png" and info.kind == "image":
        outputs.save_figure(plots.reconstruction_grid(x, recon, tuple(info.value_range)), path)
    elif path.suffix.lower() == ".png" and info.kind == "sequence":  # inputs next to outputs
        titles = [f"{who} {i}" for i in range(len(x)) for who in ("input", "reconstruction")]
        outputs.write_data(path, outputs.interleave(x, recon), info, titles=titles, ncols=2)
    else:
        outputs.write_data(path, recon, info)
    if info.kind == "sequence":
        print(f"wrote {len(x)} reconstructions to {path} (token accuracy {np.mean(recon == x):.3f})")
        return 0
    err = noise.table_errors(x, recon, info.categories) if info.kind == "table" \
        else f"RMSE {noise.rmse(x, recon):.4g} in data units"
    print(f"wrote {len(x)} reconstructions to {path} ({err})")
    return 0


def cmd_encode(args: argparse.Namespace) -> int:
    model, run, device = open_run(args)
    path = outputs.check_suffix(args.out, (".npy", ".csv"))
    data = run_data(args, model, run)
    x, y = data.split(args.split)
    z = latent.codes(model, x, y if model.conditional else None)
    outputs.write_codes(path, z, y if data.info.classes else None, data.info.classes)
    print(f"wrote {z.shape[0]} codes of size {z.shape[1]} (posterior means) to {path}")
    return 0


def cmd_decode(args: argparse.Namespace) -> int:
    model, _, _ = open_run(args)
    path = outputs.check_output(args.out, str(model.data_info.kind))
    z = outputs.read_codes(args.latents, model.config.latent_dim)
    outputs.check_output_size(path, len(z), model.data_info, None, flag="--latents", value=args.latents)
    args.n = len(z)
    conditions, _ = sample_conditions(args, model, many=False)
    x = decode_all(model, z, conditions[0]).cpu().numpy()
    outputs.write_data(path, x, model.data_info, title=f"decoded from {Path(args.latents).name}")
    print(f"decoded {len(z)} codes to {path}")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    run = vaelab.RunDir(args.run)
    config = run.read_config()
    model = vaelab.load(run)
    metrics = run.read_metrics()
    size = sum(f.stat().st_size for f in Path(args.run).rglob("*") if f.is_file())
    report = {
        "run": str(args.run), "vaelab_version": config.vaelab_version,
        "model": model.config.to_dict(),
        "parameters": sum(p.numel() for p in model.parameters()),
        "data": model.data_info.to_dict(),
        "train": config.train.to_dict() if config.train else None,
        "epochs_done": len(metrics), "last_metrics": metrics[-1] if metrics else None,
        "size_bytes": size, "weights_sha256": model.weights_id, "writer": run.writer(),
        "derived": {name: {"path": str(path), "fresh": fresh}
                    for name, (path, fresh) in run.derived().items()},
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    c = model.config
    print(f"run        {args.run} (vaelab {report['vaelab_version']}, {size / 1e6:.2f} MB on disk)")
    print(f"model      {c.model}, arch {c.arch}, latent {c.latent_dim}, hidden "
          f"{','.join(map(str, c.hidden))}, likelihood {c.likelihood}, beta {c.beta}, "
          f"{report['parameters']:,} parameters")
    extras = []
    if model.conditional:
        extras.append(f"conditioned on {c.condition} ({c.n_conditions})")
    if model.noise != "none":
        extras.append(f"trained with noise {model.noise}")
    if extras:
        print(f"           {'; '.join(extras)}")
    d = model.data_info
    print(f"data       {d.name} ({d.kind}, shape {tuple(d.shape)}, "
          f"values {tuple(d.value_range)})")
    if d.categories:
        named = [f"{c} ({len(k)})" for c, k in zip(d.columns, d.categories, strict=True) if k]
        print(f"           categorical columns (categories): {', '.join(named)}")
    if report["train"]:
        t = report["train"]
        print(f"training   {len(metrics)}/{t['epochs']} epochs, batch {t['batch_size']}, "
              f"lr {t['lr']}, seed {t['seed']}")
    if run.has(run.TRAINER_STATE):
        best = run.load_trainer_state()["best_epoch"]
        print(f"weights    epoch {best} (lowest validation loss, or the last epoch without one), "
              f"SHA-256 {(model.weights_id or '')[:12]}")
    derived = {name: (path if path.parent != run.path else name, fresh)
               for name, (path, fresh) in run.derived().items()}
    if any(fresh for _, fresh in derived.values()):
        print(f"derived    {', '.join(str(p) for p, fresh in derived.values() if fresh)}: of these weights")
    for name, (shown, fresh) in derived.items():
        if not fresh:
            command = {run.EVALUATION: "evaluate", run.REPORT: "report"}.get(name, "sample --sampler gmm")
            print(f"stale      {shown}: made from other weights; vaelab {command} makes it again")
    if report["writer"]:
        print(f"writer     {report['writer']} is writing this run")
    if metrics:
        m = metrics[-1]
        line = ", ".join(f"{k} {v:.4g}" for k, v in m.items() if isinstance(v, float))
        print(f"last epoch {m['epoch']}: {line}")
    return 0


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """Register sample, reconstruct, encode, decode and info."""

    out_help = "FILE.png (images; piano rolls for music), .csv (tables), .mid (music) or .npy"

    def run_cmd(name: str, help: str, func: Any) -> argparse.ArgumentParser:
        return add_run_command(sub, common, name, help, func)

    p = run_cmd("sample", "draw new codes from the prior or a GMM over the training codes, "
                "and decode them", cmd_sample)
    p.add_argument("-n", type=int, default=64,
                   help="number of samples (default: 64); the output's size is estimated first, and "
                   f"more than --max-bytes, or a PNG of more than {outputs.MAX_PICTURES['image']:,} images "
                   f"({outputs.MAX_PICTURES['sequence']} piano rolls), is refused; .npy and .csv are "
                   "written as the samples are drawn, with progress on a terminal")
    p.add_argument("--out", required=True, help=out_help)
    max_bytes_arg(p)
    p.add_argument("--sampler", choices=("prior", "gmm"), default="prior",
                   help="prior: z ~ N(0, I) (VAE only); gmm: a Gaussian mixture fitted to the codes "
                   f"of the training data, cached in RUN/{vaelab.RunDir.GMM} (an AE can use it) "
                   "(default: prior)")
    p.add_argument("--temperature", type=float, default=1.0, metavar="T",
                   help="scale of the spread of the codes, > 0; below 1 gives more typical, less "
                   "varied samples (default: 1)")
    p.add_argument("--token-temperature", type=float, metavar="T",
                   help="music: draw each note token from the softmax at this temperature; 0 = greedy "
                   f"(the most likely token, which favours long held notes) (default: "
                   f"{MUSIC_TOKEN_TEMPERATURE})")
    p.add_argument("--components", type=int, metavar="K",
                   help=f"gmm: number of mixture components (default: {DEFAULT_COMPONENTS})")
    p.add_argument("--label", metavar="K",
                   help="cvae: the class to draw (id or name), several as K,K, or all for a row per "
                   "class with -n samples each")
    p.add_argument("--condition", metavar="COL=V[,...]",
                   help="cvae on condition columns: the value of every condition column")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    device_arg(p)

    p = run_cmd("reconstruct", "encode and decode data; originals above reconstructions",
                cmd_reconstruct)
    add_data_args(p, default="the run's training data")
    split_arg(p)
    p.add_argument("-n", type=int, default=30, help="how many rows, 0 = all (default: 30)")
    p.add_argument("--out", required=True, help=out_help)
    device_arg(p)

    p = run_cmd("encode", "write the codes (posterior means) of data", cmd_encode)
    add_data_args(p, default="the run's training data")
    p.add_argument("--split", default="all", choices=("train", "test", "all"),
                   help="which rows; 'all' keeps a file's row order (default: all)")
    p.add_argument("--out", required=True, help="FILE.npy or FILE.csv (columns z0.., label)")
    device_arg(p)

    p = run_cmd("decode", "decode latent codes into data", cmd_decode)
    p.add_argument("--latents", required=True, help="FILE.npy (N, Z) or .csv with z0.. columns")
    p.add_argument("--label", metavar="K", help="cvae: the class to decode every code as (id or name)")
    p.add_argument("--condition", metavar="COL=V[,...]",
                   help="cvae on condition columns: the value of every condition column")
    p.add_argument("--out", required=True, help=out_help)
    device_arg(p)

    p = run_cmd("info", "show a run's config, size and last metrics", cmd_info)
    p.add_argument("--json", action="store_true", help="print one JSON object")
