"""The run directory: data, not code. :class:`RunDir` owns every file name in it and every write.

    RUN/config.json          model, data and training config; vaelab version     } committed
    RUN/model.safetensors    weights (and scaler buffers) of the plain module    } together,
    RUN/trainer_state.pt     optimizer, RNG states, epoch (torch.load weights_only) } one epoch
    RUN/metrics.jsonl        one JSON object per epoch                           } at a time
    RUN/manifest.json        the last commit: those files with their SHA-256
    RUN/.lock                while a process writes the run: an OS lock naming it (dies with it)
    RUN/evaluation.json, RUN/gmm.safetensors, RUN/report.html     made from the weights, and
                                                                   stamped with their SHA-256
    RUN/figures/, RUN/samples.csv     pictures for people (gone when a new run replaces the run)

One writer at a time holds :meth:`RunDir.writing`; a second is refused, naming the first one's pid.
An epoch is one commit (:mod:`vaelab.commits`): readers see the previous epoch or the new one, never
a mix, and a killed writer's half-done commit is finished or swept by the next writer. A run
written before manifests (vaelab 0.1, 0.2) is read file by file. Derived files record the SHA-256
of the weights they came from (:meth:`RunDir.weights_id`), so a stale one is recomputed or flagged;
where the run directory cannot be written they go to ``$VAELAB_CACHE/runs/...`` instead, so every
read-only command works on a read-only run. Nothing is unpickled. This module knows files and
formats, not models: :func:`vaelab.models.base.load` rebuilds a model from what it reads.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from vaelab._lock import LockedError, exclusive, held_by
from vaelab._version import __version__
from vaelab.commits import Commits, sha256
from vaelab.config import DataConfig, ModelConfig, TrainConfig
from vaelab.data import DataInfo
from vaelab.derived import GMM_FORMAT, DerivedFiles
from vaelab.files import damaged

__all__ = ["GMM_FORMAT", "LockedError", "RunConfig", "RunDir"]


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


class RunDir(DerivedFiles):
    """One run directory and the files in it.

    >>> run = RunDir("runs/digits")
    >>> run.read_config().model.latent_dim, len(run.read_metrics())       # doctest: +SKIP
    (16, 150)
    """

    CONFIG = "config.json"
    WEIGHTS = "model.safetensors"
    TRAINER_STATE = "trainer_state.pt"
    METRICS = "metrics.jsonl"
    MANIFEST = "manifest.json"
    LOCK = ".lock"
    SAMPLES = "samples.csv"
    FIGURES = "figures"
    #: what a commit writes together: the run itself
    COMMITTED = (CONFIG, WEIGHTS, TRAINER_STATE, METRICS)
    #: what is made from the run's weights, and goes when a new run replaces the run
    DERIVED = (DerivedFiles.EVALUATION, DerivedFiles.GMM, DerivedFiles.REPORT, SAMPLES)
    #: the files a run owns (and FIGURES); nothing else in the directory is ever touched
    FILES = (*COMMITTED, MANIFEST, LOCK, *DERIVED)

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._commits = Commits(self.path, self.COMMITTED, self.MANIFEST)

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
        return any((self.path / name).exists()
                   for name in (self.MANIFEST, self.CONFIG, self.WEIGHTS, self.TRAINER_STATE))

    def has(self, name: str) -> bool:
        """Whether the run has the file ``name`` (committed, for the files a commit writes)."""
        manifest = self._commits.manifest()
        if manifest is not None and name in self.COMMITTED:
            return name in manifest["files"]
        return (self.path / name).exists()

    def leftovers(self) -> list[Path]:
        """What interrupted writes left behind: temporary files of atomic writes (``.NAME.*.tmp``,
        also in figures/) and pending files of commits that never happened (``.NAME.G.next``)."""
        found = [p for p in self.path.glob(".*.tmp") if any(p.name.startswith(f".{n}.") for n in self.FILES)]
        return sorted(found) + self._commits.leftovers() + sorted((self.path / self.FIGURES).glob(".*.tmp"))

    def sweep(self) -> None:
        """Remove :meth:`leftovers`; a writer does it when it opens the run (:meth:`writing`)."""
        for path in self.leftovers():
            path.unlink(missing_ok=True)

    def foreign(self) -> list[str]:
        """Names in the directory that are neither a run's files nor their leftovers: the user's."""
        if not self.path.is_dir():
            return []
        own = {*self.FILES, self.FIGURES}
        return sorted(p.name for p in self.path.iterdir() if p.name not in own and not (
            p.name.endswith((".tmp", ".next")) and any(p.name.startswith(f".{n}.") for n in self.FILES)))

    # -- the writer's lock ---------------------------------------------------------------------

    @contextmanager
    def writing(self) -> Iterator[RunDir]:
        """Hold the run's writer lock for the ``with`` block (re-entrant in one process).

        A second process is refused at once with a :class:`LockedError` (a ``ValueError``) that names
        the holder's pid. On entry the writer finishes a commit that a killed writer left between
        its commit point and its renames, and removes :meth:`leftovers`.
        """
        created = [p for p in (self.path, *self.path.parents) if not p.exists()]  # deepest first
        self.path.mkdir(parents=True, exist_ok=True)
        try:
            with exclusive(self.path / self.LOCK, str(self.path)) as taken:
                if taken:  # not again for every commit of a writer that holds the lock already
                    self._commits.roll_forward()
                    self.sweep()
                yield self
        finally:
            for folder in created:  # a writer that wrote nothing leaves no empty folders behind
                if folder.is_dir() and not any(folder.iterdir()):
                    folder.rmdir()

    def writer(self) -> str | None:
        """Who writes the run now (``process 123 (vaelab train, since ...)``), or None."""
        return held_by(self.path / self.LOCK)

    # -- commits ---------------------------------------------------------------------------------

    def commit(self, files: dict[str, bytes], *, epoch: int | None = None, fresh: bool = False) -> None:
        """Replace some of the run's files (:attr:`COMMITTED` names) together, as one unit
        (:class:`vaelab.commits.Commits`); ``epoch`` is recorded in the manifest.

        ``fresh`` starts a new run: the commit names only ``files`` and, once it is made, the
        derived files of the run it replaced (evaluation, GMM, report, samples, figures) are removed.
        Until then the old run stays whole, so a new run killed before its first commit loses
        nothing. Takes the writer's lock.
        """
        with self.writing():
            self._commits.commit(files, fresh=fresh, **({"epoch": epoch} if epoch is not None else {}))
            if fresh:  # what the replaced run had and the new one does not
                for name in (*self.DERIVED, *(n for n in self.COMMITTED if n not in files)):
                    if (self.path / name).exists():
                        (self.path / name).unlink(missing_ok=True)
                if (self.path / self.FIGURES).exists():
                    shutil.rmtree(self.path / self.FIGURES)

    def read_bytes(self, name: str) -> bytes:
        """The committed contents of RUN/NAME, checked against the manifest (a file of a run without a
        manifest, or one the manifest does not name, is read as it is). A commit that a killed writer
        left unfinished is finished first where the reader may (nobody writes, the folder is writable),
        so that tools which open the files directly see the committed ones too."""
        if self._commits.unfinished():
            with contextlib.suppress(LockedError, OSError), self.writing():
                pass
        return self._commits.read_bytes(name)

    def weights_id(self) -> str | None:
        """The SHA-256 of the run's committed weights (None when there are none): what every
        derived file records, so that a stale one can be told from a fresh one."""
        manifest = self._commits.manifest()
        if manifest is not None:
            entry = manifest["files"].get(self.WEIGHTS)
            return None if entry is None else entry["sha256"]
        path = self.path / self.WEIGHTS
        return sha256(path.read_bytes()) if path.exists() else None

    def generation(self) -> int:
        """How many commits the run has had (0 for none, or for a run written before manifests):
        compare it before and after a write to see whether anything was committed."""
        return self._commits.generation()

    # -- config.json ---------------------------------------------------------------------------

    @staticmethod
    def config_bytes(model: ModelConfig, data_info: DataInfo | None, train: TrainConfig | None = None,
                     data: DataConfig | None = None) -> bytes:
        """The contents of RUN/config.json for these settings."""
        config = {
            "vaelab_version": __version__,
            "model": model.to_dict(),
            "data_info": data_info.to_dict() if data_info is not None else {},
            "data": data.to_dict() if data is not None else None,
            "train": train.to_dict() if train is not None else None,
        }
        return (json.dumps(config, indent=2) + "\n").encode()

    def read_config(self) -> RunConfig:
        """Read and validate RUN/config.json into a :class:`RunConfig`."""
        if self.path.exists() and not self.path.is_dir():
            raise FileNotFoundError(f"{self.path} is a file, not a run directory")
        if not self.path.is_dir():
            raise FileNotFoundError(f"run directory {self.path} does not exist")
        path = self.path / self.CONFIG
        if not self.has(self.CONFIG):
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
        try:
            return json.loads(self.read_bytes(name).decode("utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise damaged(self.path / name, err) from None

    # -- weights -------------------------------------------------------------------------------

    @staticmethod
    def weights_bytes(state: dict[str, torch.Tensor]) -> bytes:
        """The contents of RUN/model.safetensors for a state dict (on the CPU, contiguous)."""
        tensors = {k: v.detach().contiguous().cpu() for k, v in state.items()}
        return save_safetensors(tensors, metadata={"vaelab_version": __version__})

    def load_weights(self, device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
        """The committed weights as a state dict on ``device``."""
        return self.read_weights(device)[0]

    def read_weights(self, device: str | torch.device = "cpu") -> tuple[dict[str, torch.Tensor], str]:
        """The committed weights and their identity (SHA-256), read together: what a derived file
        made from this model records as its source."""
        data = self.read_bytes(self.WEIGHTS)
        try:
            state = load_safetensors(data)
        except (SafetensorError, OSError, ValueError) as err:
            raise damaged(self.path / self.WEIGHTS, err) from None
        return {k: v.to(device) for k, v in state.items()}, sha256(data)

    # -- trainer state and metrics ---------------------------------------------------------------

    @staticmethod
    def trainer_state_bytes(state: dict[str, Any]) -> bytes:
        """The contents of RUN/trainer_state.pt (tensors and plain containers)."""
        buffer = io.BytesIO()
        torch.save(state, buffer)
        return buffer.getvalue()

    def load_trainer_state(self) -> dict[str, Any]:
        """Read RUN/trainer_state.pt with ``weights_only=True``: tensors and plain containers only."""
        path = self.path / self.TRAINER_STATE
        if not self.has(self.TRAINER_STATE):
            raise FileNotFoundError(f"{path} is missing: there is no training to resume in {self.path}")
        data = self.read_bytes(self.TRAINER_STATE)
        try:
            state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
        except Exception:  # torch raises several types for truncated or tampered files
            # Not torch's message: it advises weights_only=False, which would run a tampered file's code.
            raise ValueError(f"{path} is damaged or truncated, or holds objects other than tensors and plain "
                             "containers, which vaelab never unpickles (that could run code)") from None
        if not isinstance(state, dict) or "epoch" not in state:
            raise ValueError(f"{path} is not a vaelab trainer state")
        return state

    @staticmethod
    def metrics_bytes(records: list[dict[str, Any]]) -> bytes:
        """The contents of RUN/metrics.jsonl: one JSON object per epoch."""
        return "".join(json.dumps(r) + "\n" for r in records).encode()

    def read_metrics(self) -> list[dict[str, Any]]:
        """The per-epoch records of RUN/metrics.jsonl (empty before the first epoch has ended)."""
        path = self.path / self.METRICS
        if not self.has(self.METRICS):
            return []
        records = []
        for i, line in enumerate(self.read_bytes(self.METRICS).decode("utf-8").splitlines(), start=1):
            if line.strip():
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError as err:
                    raise ValueError(f"{path} line {i} is not JSON ({err})") from None
        return records
