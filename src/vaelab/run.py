"""The run directory: data, not code. :class:`RunDir` owns every file name in it and every write.

    RUN/config.json          model, data and training config; vaelab version
    RUN/model.safetensors    weights (and scaler buffers) of the plain module
    RUN/trainer_state.pt     optimizer, RNG states, epoch; read with torch.load(weights_only=True)
    RUN/metrics.jsonl        one JSON object per epoch
    RUN/evaluation.json      the last ``vaelab evaluate``
    RUN/gmm.safetensors      the GMM sampler fitted to the training codes (plain arrays)
    RUN/figures/, RUN/samples.csv, RUN/report.html    pictures and pages for people

Every write goes to a temporary file in the same directory and is renamed over the old one, so a
crash leaves either the old file or the new one, never half of one. Nothing is unpickled: weights
and arrays are safetensors, the trainer state is read with ``weights_only=True``. This module knows
files and formats, not models: :func:`vaelab.models.base.load` rebuilds a model from what it reads.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from vaelab._version import __version__
from vaelab.config import DataConfig, ModelConfig, TrainConfig
from vaelab.data import DataInfo
from vaelab.files import atomic_path, read_arrays, write_arrays

#: what the metadata of RUN/gmm.safetensors calls its contents
GMM_FORMAT = "vaelab.GMMSampler"


def _damaged(path: Path, err: object) -> ValueError:
    return ValueError(f"{path} is damaged or truncated and cannot be read ({err})")


@dataclass(frozen=True)
class RunConfig:
    """The contents of RUN/config.json: what was built, from which data, trained how.

    ``data_info`` is None for a model saved without data; ``train`` and ``data`` are None for a
    model saved by ``model.save`` rather than trained into the directory.
    """

    model: ModelConfig
    data_info: DataInfo | None
    train: TrainConfig | None
    data: DataConfig | None
    vaelab_version: str | None


class RunDir:
    """One run directory and the files in it.

    >>> run = RunDir("runs/digits")
    >>> run.read_config().model.latent_dim, len(run.read_metrics())       # doctest: +SKIP
    (16, 150)
    """

    CONFIG = "config.json"
    WEIGHTS = "model.safetensors"
    TRAINER_STATE = "trainer_state.pt"
    METRICS = "metrics.jsonl"
    EVALUATION = "evaluation.json"
    GMM = "gmm.safetensors"
    REPORT = "report.html"
    SAMPLES = "samples.csv"
    FIGURES = "figures"
    #: what a run writes; ``clear`` removes exactly these (and FIGURES), nothing else
    FILES = (CONFIG, WEIGHTS, TRAINER_STATE, METRICS, EVALUATION, GMM, REPORT, SAMPLES)

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def __fspath__(self) -> str:
        return os.fspath(self.path)

    def __str__(self) -> str:
        return str(self.path)

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    def file(self, name: str) -> Path:
        """The path of one of the run's files, e.g. ``run.file(RunDir.REPORT)``."""
        return self.path / name

    def figure(self, name: str) -> Path:
        """Where the picture ``name`` (e.g. ``curves.png``) of the run goes: RUN/figures/NAME."""
        return self.path / self.FIGURES / name

    def is_run(self) -> bool:
        """Whether the directory already holds a run (so that writing there would replace work)."""
        return any((self.path / name).exists() for name in (self.CONFIG, self.WEIGHTS, self.TRAINER_STATE))

    def has(self, name: str) -> bool:
        return (self.path / name).exists()

    def leftovers(self) -> list[Path]:
        """Temporary files that an interrupted atomic write of the run's own files left behind
        (``.NAME.*.tmp``, also in figures/)."""
        found = [p for p in self.path.glob(".*.tmp") if any(p.name.startswith(f".{n}.") for n in self.FILES)]
        return found + sorted((self.path / self.FIGURES).glob(".*.tmp"))

    def sweep(self) -> None:
        """Remove :meth:`leftovers`; a writer calls it when it opens the run."""
        for path in self.leftovers():
            path.unlink(missing_ok=True)

    def foreign(self) -> list[str]:
        """Names in the directory that are neither a run's files nor their leftovers: the user's."""
        if not self.path.is_dir():
            return []
        own = {*self.FILES, self.FIGURES, *(p.name for p in self.leftovers())}
        return sorted(p.name for p in self.path.iterdir() if p.name not in own)

    def clear(self) -> None:
        """Remove what a run wrote (for ``--overwrite``); the user's other files stay."""
        self.sweep()
        for name in self.FILES:
            (self.path / name).unlink(missing_ok=True)
        shutil.rmtree(self.path / self.FIGURES, ignore_errors=True)

    def write_text(self, name: str, text: str) -> Path:
        """Write ``text`` to RUN/NAME atomically."""
        path = self.path / name
        with atomic_path(path) as tmp:
            tmp.write_text(text, encoding="utf-8")
        return path

    # -- config.json ---------------------------------------------------------------------------

    def write_config(self, model: ModelConfig, data_info: DataInfo | None, train: TrainConfig | None = None,
                     data: DataConfig | None = None) -> None:
        """Write RUN/config.json; ``train`` and ``data`` left None keep what the file had."""
        old = self._read_json(self.CONFIG) if self.has(self.CONFIG) else {}
        config = {
            "vaelab_version": __version__,
            "model": model.to_dict(),
            "data_info": data_info.to_dict() if data_info is not None else {},
            "data": data.to_dict() if data is not None else old.get("data"),
            "train": train.to_dict() if train is not None else old.get("train"),
        }
        self.write_text(self.CONFIG, json.dumps(config, indent=2) + "\n")

    def read_config(self) -> RunConfig:
        """Read and validate RUN/config.json into a :class:`RunConfig`."""
        if self.path.exists() and not self.path.is_dir():
            raise FileNotFoundError(f"{self.path} is a file, not a run directory")
        if not self.path.is_dir():
            raise FileNotFoundError(f"run directory {self.path} does not exist")
        path = self.path / self.CONFIG
        if not path.exists():
            raise FileNotFoundError(f"{path} is missing: {self.path} is not a vaelab run directory")
        raw = self._read_json(self.CONFIG)
        if not isinstance(raw, dict) or "model" not in raw:
            raise ValueError(f"{path} has no 'model' section; it was not written by vaelab")
        try:
            return RunConfig(
                model=ModelConfig.from_dict(raw["model"]),
                data_info=DataInfo.from_dict(raw["data_info"]) if raw.get("data_info") else None,
                train=TrainConfig.from_dict(raw["train"]) if raw.get("train") is not None else None,
                data=DataConfig.from_dict(raw["data"]) if raw.get("data") is not None else None,
                vaelab_version=raw.get("vaelab_version"),
            )
        except (TypeError, ValueError) as err:
            raise ValueError(f"{path}: {err}") from None

    def _read_json(self, name: str) -> Any:
        path = self.path / name
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise _damaged(path, err) from None

    # -- weights -------------------------------------------------------------------------------

    def save_weights(self, state: dict[str, torch.Tensor]) -> None:
        """Write a state dict to RUN/model.safetensors (on the CPU, contiguous)."""
        tensors = {k: v.detach().contiguous().cpu() for k, v in state.items()}
        with atomic_path(self.path / self.WEIGHTS) as tmp:
            save_file(tensors, str(tmp), metadata={"vaelab_version": __version__})

    def load_weights(self, device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
        path = self.path / self.WEIGHTS
        if not path.exists():
            raise FileNotFoundError(f"{path} is missing")
        try:
            return load_file(str(path), device=str(device))
        except (SafetensorError, OSError, ValueError) as err:
            raise _damaged(path, err) from None

    # -- trainer state and metrics ---------------------------------------------------------------

    def save_trainer_state(self, state: dict[str, Any]) -> None:
        with atomic_path(self.path / self.TRAINER_STATE) as tmp:
            torch.save(state, tmp)

    def load_trainer_state(self) -> dict[str, Any]:
        """Read RUN/trainer_state.pt with ``weights_only=True``: tensors and plain containers only."""
        path = self.path / self.TRAINER_STATE
        if not path.exists():
            raise FileNotFoundError(f"{path} is missing: there is no training to resume in {self.path}")
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception:  # torch raises several types for truncated or tampered files
            # Not torch's message: it advises weights_only=False, which would run a tampered file's code.
            raise ValueError(f"{path} is damaged or truncated, or holds objects other than tensors and plain "
                             "containers, which vaelab never unpickles (that could run code)") from None
        if not isinstance(state, dict) or "epoch" not in state:
            raise ValueError(f"{path} is not a vaelab trainer state")
        return state

    def write_metrics(self, records: list[dict[str, Any]]) -> None:
        """Rewrite RUN/metrics.jsonl with one JSON object per epoch."""
        self.write_text(self.METRICS, "".join(json.dumps(r) + "\n" for r in records))

    def read_metrics(self) -> list[dict[str, Any]]:
        """The per-epoch records of RUN/metrics.jsonl (empty before the first epoch has ended)."""
        path = self.path / self.METRICS
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

    # -- evaluation ------------------------------------------------------------------------------

    def write_evaluation(self, record: dict[str, Any]) -> Path:
        return self.write_text(self.EVALUATION, json.dumps(record, indent=2) + "\n")

    def read_evaluation(self) -> dict[str, Any] | None:
        """RUN/evaluation.json, or None when the run has not been evaluated."""
        return self._read_json(self.EVALUATION) if self.has(self.EVALUATION) else None

    # -- the GMM sampler's arrays ----------------------------------------------------------------

    def save_gmm(self, arrays: dict[str, np.ndarray]) -> Path:
        """Write the arrays of a GMM sampler to RUN/gmm.safetensors."""
        return write_arrays(self.path / self.GMM, arrays, GMM_FORMAT, __version__)

    def load_gmm(self) -> dict[str, np.ndarray] | None:
        """The arrays of RUN/gmm.safetensors while they are fresh, else None: a GMM written before the
        weights (the model was trained again since) is stale. A damaged file is an error."""
        path, weights = self.path / self.GMM, self.path / self.WEIGHTS
        if not path.exists():
            return None
        if weights.exists() and path.stat().st_mtime_ns < weights.stat().st_mtime_ns:
            return None
        return read_arrays(path, GMM_FORMAT)
