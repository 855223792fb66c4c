"""The ``vaelab`` command line: argparse subcommands that call the public API.

Bad input prints one line ``vaelab: error: ...`` and exits with status 2 (``--debug`` shows the
traceback instead); Ctrl-C during training keeps the last completed epoch and prints how to resume.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

import vaelab
from vaelab import checkpoint, outputs, plots
from vaelab.config import DataConfig, ModelConfig, TrainConfig

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


# -- argument helpers --------------------------------------------------------------------------


def _ints(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values:
        raise argparse.ArgumentTypeError("expected at least one integer")
    return values


def _opt(group: Any, flag: str, default: Any, help: str, **kwargs: Any) -> None:
    """An option whose parsed value is None unless given, with the real default in its help."""
    group.add_argument(flag, default=None, help=f"{help} (default: {default})", **kwargs)


def _add_data_args(p: argparse.ArgumentParser, default: str) -> None:
    g = p.add_argument_group("data")
    g.add_argument("--data", metavar="SPEC",
                   help="built-in name (digits, mnist, fashion-mnist) or a path: .npy, .npz, .csv, "
                   f"IDX file, MNIST-style IDX folder, or a folder of images (default: {default})")
    g.add_argument("--data-dir", metavar="DIR",
                   help="folder with the MNIST/Fashion-MNIST IDX files (else $VAELAB_DATA)")
    g.add_argument("--label-column", metavar="NAME", help="CSV column holding class labels")
    g.add_argument("--image-size", type=_ints, metavar="H[,W]",
                   help="resize a folder of images to this size")


def _device_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"),
                   help="where to run (default: auto = cuda, then mps, then cpu)")


def _data_config(args: argparse.Namespace, stored: DataConfig | None) -> DataConfig:
    """The data to load: the flags, or the run's stored data when --data is not given."""
    if args.data is None:
        given = [_flag(k) for k in DATA_FLAGS[1:] if getattr(args, k) is not None]
        if given:
            raise ValueError(f"{', '.join(given)} need --data SPEC")
        if stored is None:
            raise ValueError("this run does not record its data; pass --data SPEC")
        return stored
    size = args.image_size
    if size is not None and len(size) == 1:
        size = (size[0], size[0])
    return DataConfig(spec=args.data, data_dir=args.data_dir, label_column=args.label_column,
                      image_size=size)


def _load_data(cfg: DataConfig) -> vaelab.Dataset:
    return vaelab.load_dataset(cfg.spec, **cfg.load_kwargs())


def _check_shape(model: vaelab.Autoencoder, data: vaelab.Dataset) -> None:
    if tuple(data.info.shape) != tuple(model.config.input_shape):
        raise ValueError(f"--data {data.info.source}: rows have shape {tuple(data.info.shape)}, "
                         f"the model was trained on {tuple(model.config.input_shape)}")


@torch.no_grad()
def _batched(fn: Any, x: np.ndarray, device: torch.device, batch_size: int = 1024) -> np.ndarray:
    out = [fn(torch.from_numpy(np.ascontiguousarray(x[i:i + batch_size])).to(device)).cpu()
           for i in range(0, len(x), batch_size)]
    return torch.cat(out).numpy()


def _open_run(args: argparse.Namespace) -> tuple[vaelab.Autoencoder, dict[str, Any], torch.device]:
    device = vaelab.resolve_device(args.device)
    return vaelab.load(args.run, device=device), checkpoint.read_config(args.run), device


# -- train ---------------------------------------------------------------------------------------

MODEL_FLAGS = {
    "model": ("--model", str, "vae or ae"), "arch": ("--arch", str, "mlp, conv or auto"),
    "latent_dim": ("--latent-dim", int, "size of the code z"),
    "hidden": ("--hidden", _ints, "dense layer widths; auto: 512,256 for mlp, 256 for conv"),
    "channels": ("--channels", int, "conv: channels of the first layer"),
    "activation": ("--activation", str, "relu, silu, gelu, tanh or elu"),
    "likelihood": ("--likelihood", str, "bernoulli, gaussian or auto"),
    "scale": ("--scale", str, "gaussian: learned or fixed per-dimension scale"),
    "sigma": ("--sigma", float, "gaussian: fixed scale (standardized units)"),
    "binarize": ("--binarize", str, "none or dynamic (fresh Bernoulli pixels each batch)"),
    "beta": ("--beta", float, "weight of the KL term"),
    "free_bits": ("--free-bits", float, "minimum KL per latent dimension, nats"),
}
TRAIN_FLAGS = {
    "epochs": ("--epochs", int, "passes over the data"),
    "batch_size": ("--batch-size", int, "examples per step"),
    "lr": ("--lr", float, "Adam learning rate"), "weight_decay": ("--weight-decay", float, "L2"),
    "grad_clip": ("--grad-clip", float, "clip the gradient norm; 0 = off"),
    "kl_warmup": ("--kl-warmup", int, "epochs of linear KL warm-up"),
    "val_fraction": ("--val-fraction", float, "share of training rows held out for validation"),
    "patience": ("--patience", int, "early stopping after N epochs without improvement; 0 = off"),
    "seed": ("--seed", int, "random seed"),
    "precision": ("--precision", str, "float32 or bfloat16"),
}
SWITCHES = {"compile": ("--compile", "compile the loss with torch.compile (faster long runs)")}
METAVARS: dict[Any, str] = {int: "N", float: "X", _ints: "N[,N...]"}
ALL_FLAGS = MODEL_FLAGS | TRAIN_FLAGS | {k: (f, bool, t) for k, (f, t) in SWITCHES.items()}
RESUMABLE = {"epochs", "patience", "precision", "compile", "lr", "grad_clip", "weight_decay"}
DATA_FLAGS = ("data", "data_dir", "label_column", "image_size")


def _add_train(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("train", parents=[common], help="train a model, write a run directory",
                       description="Train an AE or VAE and write a run directory "
                       "(config.json, model.safetensors, trainer_state.pt, metrics.jsonl, figures/).")
    _add_data_args(p, default="digits")
    for title, flags, cls in (("model", MODEL_FLAGS, ModelConfig), ("training", TRAIN_FLAGS, TrainConfig)):
        g = p.add_argument_group(title)
        for name, (flag, typ, text) in flags.items():
            default = getattr(cls, name)
            shown = ",".join(map(str, default)) if isinstance(default, tuple) else default
            _opt(g, flag, "auto" if shown == "" else shown, text, type=typ, dest=name,
                 metavar=METAVARS.get(typ, "NAME"))
    for name, (flag, text) in SWITCHES.items():
        g.add_argument(flag, dest=name, action="store_const", const=True, default=None,
                       help=f"{text} (default: off)")
    _device_arg(p)
    g = p.add_argument_group("run directory")
    g.add_argument("--out", metavar="DIR", help="run directory (default: runs/DATA-MODEL[-N])")
    g.add_argument("--resume", action="store_true",
                   help="continue the run in --out from its last completed epoch")
    g.add_argument("--overwrite", action="store_true", help="replace an existing run in --out")
    g.add_argument("--no-figures", action="store_true", help="do not write figures/")
    g.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_train)


def _clear_run(out: Path) -> None:
    """Remove what a previous run wrote into ``out`` (for --overwrite); other files stay."""
    for name in (checkpoint.CONFIG, checkpoint.WEIGHTS, checkpoint.TRAINER_STATE,
                 checkpoint.METRICS, "samples.csv"):
        (out / name).unlink(missing_ok=True)
    shutil.rmtree(out / "figures", ignore_errors=True)


def _pick(args: argparse.Namespace, flags: dict[str, Any]) -> dict[str, Any]:
    return {k: getattr(args, k) for k in flags if getattr(args, k) is not None}


def _default_out(data: str, model: str) -> Path:
    base = Path("runs") / f"{Path(data).stem or 'data'}-{model}"
    out, n = base, 1
    while out.exists():
        n += 1
        out = base.with_name(f"{base.name}-{n}")
    return out


def _flag(name: str) -> str:
    spec = ALL_FLAGS.get(name)
    return spec[0] if spec else "--" + name.replace("_", "-")


def _flagged(make: Any, **kwargs: Any) -> Any:
    """Build a config; its errors name the command-line flag (``--epochs 0``), not the field."""
    try:
        return make(**kwargs)
    except ValueError as err:
        message = str(err)
        for name in ALL_FLAGS:
            if message.startswith(f"{name}="):
                message = f"{_flag(name)} {message[len(name) + 1:]}"
        raise ValueError(message) from None


def cmd_train(args: argparse.Namespace) -> int:
    device = vaelab.resolve_device(args.device)
    train_overrides = _pick(args, TRAIN_FLAGS | SWITCHES)
    if args.resume:
        if args.out is None:
            raise ValueError("--resume needs --out RUN, the run directory to continue")
        out = Path(args.out)
        stored = checkpoint.read_config(out)
        changed = sorted(set(_pick(args, MODEL_FLAGS)) | (set(train_overrides) - RESUMABLE)
                         | {k for k in DATA_FLAGS if getattr(args, k) is not None})
        if changed:
            raise ValueError(
                f"--resume continues {out} with its own data and model; it can change only "
                f"{', '.join(_flag(k) for k in sorted(RESUMABLE))} and --device, "
                f"not {', '.join(_flag(k) for k in changed)}")
        if not (out / checkpoint.TRAINER_STATE).exists():
            raise ValueError(f"{out} has no completed epoch to resume; start it again with "
                             "--overwrite")
        data_cfg = stored["data"]
        train_cfg = _flagged((stored["train"] or TrainConfig()).replace, **train_overrides,
                             device=args.device)
        model = vaelab.load(out)
    else:
        data_cfg = _data_config(args, DataConfig())
        model_cfg = _flagged(ModelConfig, **_pick(args, MODEL_FLAGS))
        train_cfg = _flagged(TrainConfig, **train_overrides, device=args.device)
        out = Path(args.out) if args.out else _default_out(data_cfg.spec, model_cfg.model)
        if checkpoint.is_run_dir(out) and not args.overwrite:
            raise ValueError(f"{out} already holds a run; pass --resume to continue it, "
                             "--overwrite to replace it, or another --out")
        if out.exists() and not out.is_dir():
            raise ValueError(f"--out {out} is a file; give a directory for the run")
    data = _load_data(data_cfg)
    if not args.resume:
        model = vaelab.build_model(model_cfg, data, seed=train_cfg.seed)
        if args.overwrite:
            _clear_run(out)
    _check_shape(model, data)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"training {model.config.model} ({model.config.arch}, {model.config.likelihood}, "
          f"{n_params:,} parameters) on {data.info.name} {tuple(data.info.shape)}: "
          f"{len(data.x_train)} rows, {train_cfg.epochs} epochs, device {device}; run: {out}")
    try:
        result = vaelab.fit(model, data.x_train, data.y_train, train_cfg, run_dir=out,
                            data_config=data_cfg, resume=args.resume, progress=not args.quiet)
    except KeyboardInterrupt:
        done = checkpoint.read_metrics(out)
        if done:
            print(f"\ninterrupted; {out} holds {len(done)} completed epoch(s). Resume with:\n"
                  f"  vaelab train --resume --out {out}", file=sys.stderr)
        else:
            print(f"\ninterrupted before the first epoch ended; nothing to resume in {out}. "
                  "Start again with the same command and --overwrite", file=sys.stderr)
        return EXIT_INTERRUPTED
    except vaelab.NonFiniteLossError as err:
        fix = f"--lr {train_cfg.lr / 10:g} --grad-clip 10"
        how = (f"vaelab train --resume --out {out} {fix}" if checkpoint.read_metrics(out)
               else f"the same command with --overwrite {fix}")
        raise ValueError(f"{err}; continue with: {how}") from None
    last = result.history[-1] if result.history else checkpoint.read_metrics(out)[-1]
    val = f", validation loss {last['val_loss']:.3f}" if "val_loss" in last else ""
    print(f"epoch {last['epoch']}: train loss {last['train_loss']:.3f} nats (rec "
          f"{last['train_rec']:.3f}, KL {last['train_kl']:.3f}){val}; "
          f"{last['samples_per_s']:.0f} samples/s; best epoch {result.best_epoch}"
          + (" (stopped early)" if result.stopped_early else ""))
    if not args.no_figures:
        written = outputs.write_run_figures(model, data, out)
        print("figures: " + ", ".join(str(p) for p in written))
    print(f"run directory: {out}")
    return 0


# -- sample / reconstruct / encode / decode / info ----------------------------------------------


def cmd_sample(args: argparse.Namespace) -> int:
    model, _, device = _open_run(args)
    if args.n < 1:
        raise ValueError(f"-n {args.n}: the number of samples must be at least 1")
    path = outputs.check_suffix(args.out)
    gen = torch.Generator(device=device).manual_seed(args.seed)
    with torch.no_grad():
        x = model.sample(args.n, generator=gen).cpu().numpy()
    outputs.write_data(path, x, model.data_info, title=f"{args.n} samples from the prior")
    print(f"wrote {args.n} samples to {path}")
    return 0


def cmd_reconstruct(args: argparse.Namespace) -> int:
    model, config, device = _open_run(args)
    path = outputs.check_suffix(args.out)
    data = _load_data(_data_config(args, config.get("data")))
    _check_shape(model, data)
    x, _ = data.split(args.split)
    x = x[: args.n] if args.n else x
    recon = _batched(model.reconstruct, x, device)
    info = model.data_info
    if path.suffix.lower() == ".png":
        if info.get("kind") != "image":
            raise ValueError(f"--out {path}: PNG output needs image data; use .csv or .npy")
        outputs.save_figure(plots.reconstruction_grid(x, recon, tuple(info["value_range"])), path)
    else:
        outputs.write_data(path, recon, info)
    err = float(np.sqrt(np.mean((recon - x) ** 2)))
    print(f"wrote {len(x)} reconstructions to {path} (RMSE {err:.4g} in data units)")
    return 0


def cmd_encode(args: argparse.Namespace) -> int:
    model, config, device = _open_run(args)
    path = outputs.check_suffix(args.out, (".npy", ".csv"))
    data = _load_data(_data_config(args, config.get("data")))
    _check_shape(model, data)
    x, y = data.split(args.split)
    z = _batched(model.embed, x, device)
    outputs.write_codes(path, z, y, data.info.classes)
    print(f"wrote {z.shape[0]} codes of size {z.shape[1]} (posterior means) to {path}")
    return 0


def cmd_decode(args: argparse.Namespace) -> int:
    model, _, device = _open_run(args)
    path = outputs.check_suffix(args.out)
    z = outputs.read_codes(args.latents, model.config.latent_dim)
    x = _batched(lambda t: model.decode(t).mean, z, device)
    outputs.write_data(path, x, model.data_info, title=f"decoded from {Path(args.latents).name}")
    print(f"decoded {len(z)} codes to {path}")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    config = checkpoint.read_config(args.run)
    model = vaelab.load(args.run)
    metrics = checkpoint.read_metrics(args.run)
    size = sum(f.stat().st_size for f in Path(args.run).rglob("*") if f.is_file())
    report = {
        "run": str(args.run), "vaelab_version": config.get("vaelab_version"),
        "model": model.config.to_dict(),
        "parameters": sum(p.numel() for p in model.parameters()),
        "data": model.data_info,
        "train": config["train"].to_dict() if config.get("train") else None,
        "epochs_done": len(metrics), "last_metrics": metrics[-1] if metrics else None,
        "size_bytes": size,
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    c = model.config
    print(f"run        {args.run} (vaelab {report['vaelab_version']}, {size / 1e6:.2f} MB on disk)")
    print(f"model      {c.model}, arch {c.arch}, latent {c.latent_dim}, hidden "
          f"{','.join(map(str, c.hidden))}, likelihood {c.likelihood}, beta {c.beta}, "
          f"{report['parameters']:,} parameters")
    d = model.data_info
    print(f"data       {d.get('name')} ({d.get('kind')}, shape {tuple(d.get('shape', ()))}, "
          f"values {tuple(d.get('value_range', ()))})")
    if report["train"]:
        t = report["train"]
        print(f"training   {len(metrics)}/{t['epochs']} epochs, batch {t['batch_size']}, "
              f"lr {t['lr']}, seed {t['seed']}")
    if (Path(args.run) / checkpoint.TRAINER_STATE).exists():
        best = checkpoint.load_trainer_state(args.run)["best_epoch"]
        print(f"weights    epoch {best} (lowest validation loss, or the last epoch without one)")
    if metrics:
        m = metrics[-1]
        line = ", ".join(f"{k} {v:.4g}" for k, v in m.items() if isinstance(v, float))
        print(f"last epoch {m['epoch']}: {line}")
    return 0


# -- parser and entry point --------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    parser = argparse.ArgumentParser(
        prog="vaelab", parents=[common],
        description="Autoencoders and variational autoencoders: train, sample, reconstruct, "
        "encode, decode. Run 'vaelab COMMAND --help' for each command's options.")
    parser.add_argument("--version", action="version", version=f"vaelab {vaelab.__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_train(sub, common)

    def run_cmd(name: str, help: str, func: Any) -> argparse.ArgumentParser:
        p = sub.add_parser(name, parents=[common], help=help, description=help)
        p.add_argument("run", metavar="RUN", help="run directory written by 'vaelab train'")
        p.set_defaults(func=func)
        return p

    p = run_cmd("sample", "draw new examples from the prior and decode them", cmd_sample)
    p.add_argument("-n", type=int, default=64, help="number of samples (default: 64)")
    p.add_argument("--out", required=True, help="FILE.png (images), .csv (tables) or .npy")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    _device_arg(p)

    p = run_cmd("reconstruct", "encode and decode data; originals above reconstructions",
                cmd_reconstruct)
    _add_data_args(p, default="the run's training data")
    p.add_argument("--split", default="test", choices=("train", "test", "all"),
                   help="which rows (default: test)")
    p.add_argument("-n", type=int, default=30, help="how many rows, 0 = all (default: 30)")
    p.add_argument("--out", required=True, help="FILE.png (images), .csv (tables) or .npy")
    _device_arg(p)

    p = run_cmd("encode", "write the codes (posterior means) of data", cmd_encode)
    _add_data_args(p, default="the run's training data")
    p.add_argument("--split", default="all", choices=("train", "test", "all"),
                   help="which rows; 'all' keeps a file's row order (default: all)")
    p.add_argument("--out", required=True, help="FILE.npy or FILE.csv (columns z0.., label)")
    _device_arg(p)

    p = run_cmd("decode", "decode latent codes into data", cmd_decode)
    p.add_argument("--latents", required=True, help="FILE.npy (N, Z) or .csv with z0.. columns")
    p.add_argument("--out", required=True, help="FILE.png (images), .csv (tables) or .npy")
    _device_arg(p)

    p = run_cmd("info", "show a run's config, size and last metrics", cmd_info)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``vaelab`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except BrokenPipeError:  # e.g. `vaelab info RUN | head`: the reader left, which is fine
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115  (stop the flush at exit from failing)
        return 0
    except (ValueError, OSError, vaelab.NonFiniteLossError) as err:
        if args.debug:
            raise
        message = " ".join(str(err).split())  # always one line
        print(f"vaelab: error: {message}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
