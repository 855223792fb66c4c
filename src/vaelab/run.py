"""The run directory: data, not code.

    RUN/config.json        model, data and training config; vaelab version
    RUN/model.safetensors  weights (and scaler buffers) of the plain module
    RUN/trainer_state.pt   optimizer, RNG states, epoch; read with torch.load(weights_only=True)
    RUN/metrics.jsonl      one JSON object per epoch

Every write goes to a temporary file in the same directory and is renamed over the old one, so a
crash leaves either the old file or the new one, never half of one. Loading rebuilds the model
from config.json and loads the weights strictly; nothing is unpickled, so opening someone else's
run cannot execute their code.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from vaelab._version import __version__
from vaelab.config import DataConfig, ModelConfig, TrainConfig
from vaelab.files import atomic_path
from vaelab.models import Autoencoder
from vaelab.registry import MODELS, lookup

CONFIG = "config.json"
WEIGHTS = "model.safetensors"
TRAINER_STATE = "trainer_state.pt"
METRICS = "metrics.jsonl"
EVALUATION = "evaluation.json"  # written by `vaelab evaluate`


def _write_text(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def _damaged(path: Path, err: Exception) -> ValueError:
    return ValueError(f"{path} is damaged or truncated and cannot be read ({err})")


# -- config.json -----------------------------------------------------------------------------


def write_config(run_dir: str | os.PathLike[str], model: Autoencoder,
                 train: TrainConfig | None = None, data: DataConfig | None = None) -> None:
    """Write RUN/config.json describing ``model`` (and how it was trained, on which data)."""
    run_dir = Path(run_dir)
    old = read_config(run_dir) if (run_dir / CONFIG).exists() else {}
    config = {
        "vaelab_version": __version__,
        "model": model.config.to_dict(),
        "data_info": model.data_info,
        "data": data.to_dict() if data is not None else old.get("data"),
        "train": train.to_dict() if train is not None else old.get("train"),
    }
    _write_text(run_dir / CONFIG, json.dumps(config, indent=2) + "\n")


def read_config(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and validate RUN/config.json; returns the dict with ``model``/``train``/``data``
    sections converted to their config classes (``None`` where absent)."""
    path = Path(run_dir) / CONFIG
    if not Path(run_dir).is_dir():
        raise FileNotFoundError(f"run directory {run_dir} does not exist")
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: {run_dir} is not a vaelab run directory")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise _damaged(path, err) from None
    if not isinstance(raw, dict) or "model" not in raw:
        raise ValueError(f"{path} has no 'model' section; it was not written by vaelab")
    sections: dict[str, Callable[[dict[str, Any]], Any]] = {
        "model": ModelConfig.from_dict, "train": TrainConfig.from_dict, "data": DataConfig.from_dict,
    }
    out = dict(raw)
    for key, parse in sections.items():
        if raw.get(key) is not None:
            try:
                out[key] = parse(raw[key])
            except (TypeError, ValueError) as err:
                raise ValueError(f"{path}: {err}") from None
    out.setdefault("data_info", {})
    return out


# -- weights -----------------------------------------------------------------------------------


def save_weights(model: Autoencoder, path: Path) -> None:
    tensors = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={"vaelab_version": __version__})


def save_model(model: Autoencoder, run_dir: str | os.PathLike[str]) -> None:
    """Write config.json and model.safetensors for ``model`` into ``run_dir``."""
    run_dir = Path(run_dir)
    write_config(run_dir, model)
    save_weights(model, run_dir / WEIGHTS)


def load_weights(path: Path, device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing")
    try:
        return load_file(str(path), device=str(device))
    except (SafetensorError, OSError, ValueError) as err:
        raise _damaged(path, err) from None


def load_model(run_dir: str | os.PathLike[str], device: str | torch.device = "cpu") -> Autoencoder:
    """Rebuild the model in ``run_dir`` from config.json and load its weights strictly.

    Examples
    --------
    >>> model = vaelab.load("runs/demo")
    >>> model.sample(8).shape
    """
    run_dir = Path(run_dir)
    config = read_config(run_dir)
    model_config: ModelConfig = config["model"]
    try:
        model = lookup(MODELS, model_config.model, "model")(model_config)
    except ValueError as err:
        raise ValueError(f"{run_dir / CONFIG}: {err}") from None
    model.data_info = config["data_info"]
    state = load_weights(run_dir / WEIGHTS, device="cpu")
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:
        first = str(err).splitlines()[0] if str(err) else "mismatch"
        raise ValueError(
            f"{run_dir / WEIGHTS} does not match {run_dir / CONFIG}: {first}"
        ) from None
    return model.to(device).eval()


# -- trainer state and metrics -------------------------------------------------------------


def save_trainer_state(run_dir: str | os.PathLike[str], state: dict[str, Any]) -> None:
    with atomic_path(Path(run_dir) / TRAINER_STATE) as tmp:
        torch.save(state, tmp)


def load_trainer_state(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """Read RUN/trainer_state.pt with ``weights_only=True``: tensors and plain containers only."""
    path = Path(run_dir) / TRAINER_STATE
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: there is no training to resume in {run_dir}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises several types for truncated or tampered files
        raise _damaged(path, err) from None
    if not isinstance(state, dict) or "epoch" not in state:
        raise ValueError(f"{path} is not a vaelab trainer state")
    return state


def write_metrics(run_dir: str | os.PathLike[str], records: list[dict[str, Any]]) -> None:
    """Rewrite RUN/metrics.jsonl with one JSON object per epoch."""
    _write_text(Path(run_dir) / METRICS, "".join(json.dumps(r) + "\n" for r in records))


def read_metrics(run_dir: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The per-epoch records of RUN/metrics.jsonl (empty if training has not finished an epoch)."""
    path = Path(run_dir) / METRICS
    if not path.exists():
        return []
    records = []
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as err:
                raise ValueError(f"{path} line {i} is not JSON ({err})") from None
    return records


def is_run_dir(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` already holds a run (so that writing there would replace work)."""
    return any((Path(path) / name).exists() for name in (CONFIG, WEIGHTS, TRAINER_STATE))
