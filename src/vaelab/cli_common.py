"""Pieces shared by the command modules: argument types and groups, loading a run and its data,
and batched inference over numpy arrays. Imports only the public API."""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np
import torch

import vaelab
from vaelab import checkpoint
from vaelab.config import DataConfig

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
DATA_FLAGS = ("data", "data_dir", "label_column", "image_size")


def flag_name(dest: str) -> str:
    """``label_column`` -> ``--label-column``."""
    return "--" + dest.replace("_", "-")


def ints(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values:
        raise argparse.ArgumentTypeError("expected at least one integer")
    return values


def opt(group: Any, flag: str, default: Any, help: str, **kwargs: Any) -> None:
    """An option whose parsed value is None unless given, with the real default in its help."""
    group.add_argument(flag, default=None, help=f"{help} (default: {default})", **kwargs)


def add_data_args(p: argparse.ArgumentParser, default: str) -> None:
    g = p.add_argument_group("data")
    g.add_argument("--data", metavar="SPEC",
                   help="built-in name (digits, mnist, fashion-mnist) or a path: .npy, .npz, .csv, "
                   f"IDX file, MNIST-style IDX folder, or a folder of images (default: {default})")
    g.add_argument("--data-dir", metavar="DIR",
                   help="folder with the MNIST/Fashion-MNIST IDX files (else $VAELAB_DATA)")
    g.add_argument("--label-column", metavar="NAME", help="CSV column holding class labels")
    g.add_argument("--image-size", type=ints, metavar="H[,W]",
                   help="resize a folder of images to this size")


def device_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"),
                   help="where to run (default: auto = cuda, then mps, then cpu)")


def data_config(args: argparse.Namespace, stored: DataConfig | None) -> DataConfig:
    """The data to load: the flags, or the run's stored data when --data is not given."""
    if args.data is None:
        given = [flag_name(k) for k in DATA_FLAGS[1:] if getattr(args, k) is not None]
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


def load_data(cfg: DataConfig) -> vaelab.Dataset:
    return vaelab.load_dataset(cfg.spec, **cfg.load_kwargs())


def check_shape(model: vaelab.Autoencoder, data: vaelab.Dataset) -> None:
    if tuple(data.info.shape) != tuple(model.config.input_shape):
        raise ValueError(f"--data {data.info.source}: rows have shape {tuple(data.info.shape)}, "
                         f"the model was trained on {tuple(model.config.input_shape)}")


@torch.no_grad()
def batched(fn: Any, x: np.ndarray, device: torch.device, batch_size: int = 1024) -> np.ndarray:
    out = [fn(torch.from_numpy(np.ascontiguousarray(x[i:i + batch_size])).to(device)).cpu()
           for i in range(0, len(x), batch_size)]
    return torch.cat(out).numpy()


def open_run(args: argparse.Namespace) -> tuple[vaelab.Autoencoder, dict[str, Any], torch.device]:
    """The model of ``args.run`` on ``args.device``, its config.json, and the device."""
    device = vaelab.resolve_device(args.device)
    return vaelab.load(args.run, device=device), checkpoint.read_config(args.run), device


def add_run_command(sub: Any, common: argparse.ArgumentParser, name: str, help: str,
                    func: Any) -> argparse.ArgumentParser:
    """A subcommand whose first argument is a run directory."""
    p = sub.add_parser(name, parents=[common], help=help, description=help)
    p.add_argument("run", metavar="RUN", help="run directory written by 'vaelab train'")
    p.set_defaults(func=func)
    return p
