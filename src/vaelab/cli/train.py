"""The ``train`` command: build a model for some data (or continue a run) and write its run directory."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import sys
from pathlib import Path
from typing import Any

import torch

import vaelab
from vaelab import distributed, losses
from vaelab.cli.common import (
    DATA_FLAGS,
    EXIT_INTERRUPTED,
    FIELD_FLAGS,
    add_data_args,
    check_shape,
    data_config,
    device_arg,
    flag_name,
    flagged,
    ints,
    load_data,
    opt,
)
from vaelab.config import DataConfig, ModelConfig, TrainConfig, field_help
from vaelab.precision import check_precision
from vaelab.report import write_run_figures
from vaelab.run import RunDir

# -- train ---------------------------------------------------------------------------------------


def _number_or_auto(text: str) -> float | str:
    if text == "auto":
        return text
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or auto, got {text!r}") from None


#: how the annotation of a config field becomes an argparse type (bool fields are switches)
FIELD_TYPES: dict[str, Any] = {"int": int, "float": float, "str": str, "tuple[int, ...]": ints,
                               "float | str": _number_or_auto}


def _flags(cls: type, switches: bool = False) -> dict[str, tuple[str, Any, str]]:
    """The command-line flags of a config class, from its fields' help (their one description):
    ``{field: (--flag, type, help)}``; with ``switches`` only its bool fields, else the others."""
    types = {f.name: f.type for f in dataclasses.fields(cls)}
    return {name: (flag_name(name), FIELD_TYPES.get(types[name]), text)
            for name, (text, is_flag) in field_help(cls).items()
            if is_flag and (types[name] == "bool") == switches}


MODEL_FLAGS = _flags(ModelConfig)
TRAIN_FLAGS = _flags(TrainConfig)
SWITCHES = _flags(TrainConfig, switches=True)
METAVARS: dict[Any, str] = {int: "N", float: "X", ints: "N[,N...]", _number_or_auto: "X"}
FLAG_METAVARS = {"noise": "KIND:LEVEL", "precision": "fp32|bf16|fp16"}
ALL_FLAGS = MODEL_FLAGS | TRAIN_FLAGS | SWITCHES
RESUMABLE = {"epochs", "patience", "precision", "compile", "lr", "grad_clip", "weight_decay"}


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """Register train."""
    p = sub.add_parser("train", parents=[common], help="train a model, write a run directory",
                       description="Train an AE or VAE and write a run directory "
                       "(config.json, model.safetensors, trainer_state.pt, metrics.jsonl, figures/).")
    add_data_args(p, default="digits", train=True)
    for title, flags, cls in (("model", MODEL_FLAGS, ModelConfig), ("training", TRAIN_FLAGS, TrainConfig)):
        g = p.add_argument_group(title)
        for name, (flag, typ, text) in flags.items():
            default = getattr(cls, name)
            shown = ",".join(map(str, default)) if isinstance(default, tuple) else default
            opt(g, flag, "auto" if shown == "" else shown, text, type=typ, dest=name,
                 metavar=FLAG_METAVARS.get(name, METAVARS.get(typ, "NAME")))
    for name, (flag, _, text) in SWITCHES.items():
        g.add_argument(flag, dest=name, action="store_const", const=True, default=None,
                       help=f"{text} (default: off)")
    device_arg(p)
    g = p.add_argument_group("run directory")
    g.add_argument("--out", metavar="DIR", help="run directory (default: runs/DATA-MODEL[-N])")
    g.add_argument("--resume", action="store_true",
                   help="continue the run in --out from its last completed epoch up to --epochs (its own "
                   "data; it may change only the learning rate, patience, precision and device)")
    g.add_argument("--overwrite", action="store_true",
                   help="replace the run in --out: removes only the files a run writes; a directory holding "
                   "anything else is refused")
    g.add_argument("--no-figures", action="store_true", help="do not write figures/")
    g.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_train)


def _pick(args: argparse.Namespace, flags: dict[str, Any]) -> dict[str, Any]:
    return {k: getattr(args, k) for k in flags if getattr(args, k) is not None}


def _default_out(data: str, model: str) -> Path:
    base = Path("runs") / f"{Path(data).stem or 'data'}-{model}"
    out, n = base, 1
    while RunDir(out).is_run() or RunDir(out).foreign() or (out.exists() and not out.is_dir()):
        n += 1
        out = base.with_name(f"{base.name}-{n}")
    return out


def _check_out(out: Path, args: argparse.Namespace, epochs: int) -> int | None:
    """Whether ``out`` may be written as asked: a new run into an empty directory or over a run
    (``--overwrite``), or ``--resume`` of a run with fewer than ``epochs`` epochs. Returns the epochs
    already done when resuming. Run before the data are loaded (to fail fast) and again under the
    writer's lock (the directory may have changed in between)."""
    run = RunDir(out)
    if args.resume:
        if not run.has(RunDir.TRAINER_STATE):
            raise ValueError(f"{out} has no completed epoch to resume; start it again with --overwrite")
        done = int(run.load_trainer_state()["epoch"])
        if epochs < done:
            raise ValueError(f"--epochs {epochs}: {out} has already run {done} epochs; give more to "
                             "continue it")
        return done
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file; give a directory for the run")
    foreign = run.foreign()
    if foreign:
        shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
        raise ValueError(f"--out {out} holds files that are not a run's ({shown}); a run goes into an "
                         "empty directory or replaces a run (--overwrite): give another --out")
    if run.is_run() and not args.overwrite:
        raise ValueError(f"{out} already holds a run; pass --resume to continue it, "
                         "--overwrite to replace it, or another --out")
    return None


def cmd_train(args: argparse.Namespace) -> int:
    device = vaelab.resolve_device(args.device)
    train_overrides = _pick(args, TRAIN_FLAGS | SWITCHES)
    if args.resume:
        if args.out is None:
            raise ValueError("--resume needs --out RUN, the run directory to continue")
        if args.overwrite:
            raise ValueError("--resume continues the run in --out and --overwrite replaces it; give one")
        out = Path(args.out)
        stored = RunDir(out).read_config()
        data_flags = {k for k in DATA_FLAGS if getattr(args, k) is not None}
        if data_flags and data_config(args, stored.data) == stored.data:
            data_flags = set()  # the run's own data, spelled out again
        changed = sorted(set(_pick(args, MODEL_FLAGS)) | (set(train_overrides) - RESUMABLE) | data_flags)
        if changed:
            raise ValueError(
                f"--resume continues {out} with its own data and model; it can change only "
                f"{', '.join(FIELD_FLAGS[k] for k in sorted(RESUMABLE))} and --device, "
                f"not {', '.join(FIELD_FLAGS.get(k, flag_name(k)) for k in changed)}")
        data_cfg = stored.data
        train_cfg = flagged((stored.train or TrainConfig()).replace, **train_overrides,
                            device=args.device)
        done = _check_out(out, args, train_cfg.epochs)
        if train_cfg.epochs == done:
            print(f"{out} already has its {done} epoch{'s' if done != 1 else ''}; nothing to resume (give a "
                  "larger --epochs to train on)")
            return 0
        model = vaelab.load(out)
    else:
        data_cfg = data_config(args, DataConfig())
        model_cfg = flagged(ModelConfig, **_pick(args, MODEL_FLAGS))
        train_cfg = flagged(TrainConfig, **train_overrides, device=args.device)
        out = Path(args.out) if args.out else _default_out(data_cfg.spec, model_cfg.model)
        _check_out(out, args, train_cfg.epochs)
    flagged(check_precision, train_cfg.precision, device)  # before the data load: fp16 needs CUDA
    data = load_data(data_cfg)
    if not args.resume:
        model = flagged(vaelab.build_model, model_cfg, data, seed=train_cfg.seed)
    check_shape(model, data)
    run, w = RunDir(out), distributed.world()
    # One writer: a second `vaelab train --out` on this directory is refused; in a torchrun job, rank 0.
    with run.writing() if w.main else contextlib.nullcontext():
        done = _check_out(out, args, train_cfg.epochs)
        if args.resume and train_cfg.epochs == done:  # another process finished it meanwhile
            print(f"{out} already has its {done} epochs; nothing to resume")
            return 0
        before = run.generation()
        n_params = sum(p.numel() for p in model.parameters())
        print(f"training {model.config.model} ({model.config.arch}, {model.config.likelihood}, "
              f"{n_params:,} parameters) on {data.info.name} {tuple(data.info.shape)}: "
              f"{len(data.x_train)} rows, {train_cfg.epochs} epochs, device {device}; run: {out}")
        if args.resume:
            print(f"resuming from epoch {done} of {train_cfg.epochs}")
        try:
            result = vaelab.fit(model, data.x_train, data.y_train, train_cfg, run_dir=out,
                                data_config=data_cfg, resume=args.resume, progress=not args.quiet)
        except KeyboardInterrupt:
            print("\ninterrupted; " + _what_is_left(run, args.resume or run.generation() != before),
                  file=sys.stderr)
            return EXIT_INTERRUPTED
        except vaelab.NonFiniteLossError as err:
            fix = f"--lr {min(train_cfg.lr / 10, 1e-3):g} --grad-clip 10"  # 1e-3: Adam's usual rate
            ours = args.resume or run.generation() != before
            how = (f"vaelab train --resume --out {out} {fix}" if ours
                   else f"the same command{' with --overwrite' if run.is_run() else ''} and {fix}")
            raise ValueError(f"{err}; continue with: {how}") from None
        except (RuntimeError, torch.distributed.DistError):  # a peer of a torchrun job died (after
            # NonFiniteLossError, a RuntimeError too)
            if not w.distributed:
                raise
            n = len(run.read_metrics())
            epochs = f"{n} committed epoch{'s' if n != 1 else ''}"
            raise ValueError(f"another process of this torchrun job stopped, so rank {w.rank} cannot go "
                             f"on; {out} keeps its {epochs}; resume with the same torchrun command and: "
                             f"-m vaelab train --resume --out {out}") from None
    history = run.read_metrics()
    last = result.history[-1] if result.history else history[-1]
    val = f", validation loss {last['val_loss']:.3f}" if "val_loss" in last else ""
    print(f"epoch {last['epoch']}: train loss {last['train_loss']:.3f} nats (rec "
          f"{last['train_rec']:.3f}, KL {last['train_kl']:.3f}){val}; "
          f"{last['samples_per_s']:.0f} samples/s; best epoch {result.best_epoch}"
          + (" (stopped early)" if result.stopped_early else ""))
    collapsed = losses.kl_collapse(history) if model.variational else None
    if collapsed is not None:
        print(f"warning: the KL fell below {losses.COLLAPSE_NATS} nats at epoch {collapsed}: the posterior "
              "collapsed and the decoder ignores z. Try --kl-warmup 10, --kl-schedule cyclical, "
              "--free-bits 0.5 or a smaller --beta", file=sys.stderr)
    if not args.no_figures and w.main:
        written = write_run_figures(model, data, out)
        print("figures: " + ", ".join(str(p) for p in written))
    print(f"run directory: {out}")
    return 0


def _what_is_left(run: RunDir, ours: bool) -> str:
    """After Ctrl-C: what the run directory holds now, and what to do next."""
    if ours:
        n = len(run.read_metrics())
        return (f"{run} holds {n} completed epoch{'s' if n != 1 else ''}. Resume with:\n"
                f"  vaelab train --resume --out {run}")
    if run.is_run():
        return (f"the first epoch did not end, so {run} still holds the run it held before, unchanged; "
                "to replace it, run the same command again")
    return f"the first epoch did not end, so nothing was written to {run}; start again with the same command"
