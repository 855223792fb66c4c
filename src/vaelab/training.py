"""``fit``: the one training loop, model-agnostic, readable top to bottom.

The loop knows one thing about a model: ``model.loss(x, y, kl_weight)`` returns :class:`Losses`.
It never branches on a model's name and never passes epochs or dataset sizes into a model.

Speed on CPU comes from keeping the data one tensor: each epoch draws one permutation, gathers
the rows once, and takes batches as contiguous slices. Nothing on the hot path synchronizes:
the per-epoch sums and the index of a first non-finite step stay on the device until the epoch
ends.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from vaelab import distributed
from vaelab._batching import BATCH, batches
from vaelab.config import DataConfig, TrainConfig
from vaelab.distributed import resolve_device
from vaelab.losses import KLSchedule
from vaelab.models import Autoencoder
from vaelab.precision import TrainStep
from vaelab.run import RunDir


class NonFiniteLossError(RuntimeError):
    """The loss became NaN or infinite; the run directory still holds the last good epoch."""


@dataclass
class FitResult:
    """What :func:`fit` did.

    history : one record per epoch (the lines of metrics.jsonl).
    best_epoch : the epoch whose weights the model holds now (lowest validation loss, or the last).
    stopped_early : whether ``patience`` ended training before ``epochs``.
    """

    history: list[dict[str, Any]] = field(default_factory=list)
    best_epoch: int = 0
    stopped_early: bool = False


def fingerprint(x: np.ndarray) -> str:
    """Shape and hash of the training array, to refuse resuming on different data."""
    digest = hashlib.blake2b(np.ascontiguousarray(x).tobytes(), digest_size=16).hexdigest()
    return f"{tuple(x.shape)}:{digest}"


def make_optimizer(model: torch.nn.Module, config: TrainConfig,
                   device: torch.device) -> torch.optim.Optimizer:
    """Adam; the fused kernel (one pass over all parameters) where this torch has it for the device."""
    kwargs: dict[str, Any] = {"lr": config.lr, "weight_decay": config.weight_decay}
    if device.type in ("cpu", "cuda"):
        kwargs["fused"] = True
    return torch.optim.Adam(model.parameters(), **kwargs)


@torch.no_grad()
def mean_losses(model: Autoencoder, x: torch.Tensor, y: torch.Tensor | None = None,
                batch_size: int = BATCH, seed: int = 0) -> dict[str, float]:
    """Average ``loss``, ``rec`` and ``kl`` over ``x`` in evaluation mode (KL weight 1).

    The random draws use a fixed ``seed`` inside a forked RNG, so the numbers are repeatable and
    the caller's random stream is left as it was.
    """
    was_training = model.training
    model.eval()
    devices = [x.device.index or 0] if x.device.type == "cuda" else []
    sums = torch.zeros(3, device=x.device, dtype=torch.float64)
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        for xb, yb in batches(x, y, device=x.device, batch_size=batch_size, dtype=x.dtype):
            out = model.loss(xb, yb)
            sums += torch.stack([out.total, out.rec, out.kl]).double() * len(xb)
    model.train(was_training)
    total, rec, kl = (sums / len(x)).tolist()
    return {"loss": total, "rec": rec, "kl": kl}


def _split(n: int, val_fraction: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Seeded (train, validation) row indices."""
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    n_val = int(round(n * val_fraction)) if val_fraction > 0 else 0
    if val_fraction > 0 and (n_val < 1 or n - n_val < 1):
        raise ValueError(
            f"val_fraction={val_fraction} of {n} rows leaves no training or no validation rows; "
            "use val_fraction=0 or more data"
        )
    return perm[n_val:], perm[:n_val]


@dataclass
class _Rows:
    """The training and validation rows on the device: x (N, *shape), y (N,) labels, (N, A)
    conditions or None; ``data_id`` fingerprints the training array for resuming."""

    x_train: torch.Tensor
    y_train: torch.Tensor | None
    x_val: torch.Tensor
    y_val: torch.Tensor | None
    data_id: str


@dataclass
class _State:
    """Where training stands: what a checkpoint saves and ``resume`` restores."""

    epoch: int = 0
    step: int = 0
    best_val: float = math.inf
    bad_epochs: int = 0
    best_state: dict[str, torch.Tensor] | None = None
    result: FitResult = field(default_factory=FitResult)
    fresh: bool = True  # the next commit starts a new run (replacing what the directory held)
    config: bytes = b""  # config.json, committed with every epoch
    world: distributed.World = field(default_factory=distributed.World)  # this process in the job


def fit(model: Autoencoder, x: np.ndarray | torch.Tensor, y: np.ndarray | torch.Tensor | None = None,
        config: TrainConfig | None = None, *, run_dir: str | os.PathLike[str] | None = None,
        data_config: DataConfig | None = None, resume: bool = False,
        progress: bool = False) -> FitResult:
    """Train ``model`` on ``x`` (N, *shape) in data units, with labels ``y`` (N,) if the model uses
    them.

    With ``run_dir``, training holds the run's writer lock (a second writer is refused) and every
    epoch commits config.json, trainer_state.pt (the last weights, optimizer, RNG states),
    model.safetensors (the best weights so far) and metrics.jsonl as one unit
    (:meth:`vaelab.RunDir.commit`), so a crash, kill or Ctrl-C loses at most the epoch in progress
    and never leaves files from two different epochs; ``resume=True`` continues from the last
    committed epoch and ends where an uninterrupted run would. A new run replaces a run already in
    ``run_dir`` only when its first epoch commits: until then the old run stays whole.

    Parameters
    ----------
    model : a model from :func:`vaelab.build_model`; moved to ``config.device``.
    x, y : training rows; a ``config.val_fraction`` share of them is held out for validation.
    config : the training settings (:class:`TrainConfig`).
    run_dir : where to checkpoint; None keeps everything in memory.
    data_config : how ``x`` was loaded, stored in config.json for later commands.
    resume : continue the run in ``run_dir``.
    progress : show a tqdm progress bar (on stderr).

    Returns
    -------
    FitResult ; the model ends holding the weights of ``result.best_epoch``.

    Raises
    ------
    NonFiniteLossError if the loss becomes NaN or infinite (the run directory keeps the last good
    epoch). ``KeyboardInterrupt`` passes through after the last completed epoch has been saved.

    Examples
    --------
    >>> data = vaelab.load_dataset("digits")
    >>> model = vaelab.build_model(data=data, latent_dim=8)
    >>> result = vaelab.fit(model, data.x_train, config=TrainConfig(epochs=5))
    """
    config = config or TrainConfig()
    w = distributed.world()
    device = distributed.device(w, resolve_device(config.device))
    run = RunDir(run_dir) if run_dir is not None else None
    if resume and run is None:
        raise ValueError("resume=True needs the run_dir to resume from")
    if min(config.batch_size, len(x)) < w.size:
        raise ValueError(f"batch_size={config.batch_size} on {len(x)} rows is not allowed with {w.size} "
                         f"processes; each global batch is shared among them: give at least {w.size}")
    rows = _prepare(model, x, y, config, device, fingerprinted=run is not None)
    started = distributed.join(w, device)
    try:  # only rank 0 writes the run directory
        with run.writing() if run is not None and w.main else contextlib.nullcontext():
            return _fit(model, rows, config, device, run, data_config, resume, progress and w.main, w)
    finally:
        distributed.leave(started)


def _fit(model: Autoencoder, rows: _Rows, config: TrainConfig, device: torch.device, run: RunDir | None,
         data_config: DataConfig | None, resume: bool, progress: bool, w: distributed.World) -> FitResult:
    """:func:`fit` on prepared rows, with the run's writer lock held (by rank 0)."""
    model.weights_id = None  # the weights are about to change
    model.to(device)
    optimizer = make_optimizer(model, config, device)
    shuffle = torch.Generator().manual_seed(config.seed + 1)  # the same order of rows on every rank
    torch.manual_seed(config.seed + w.rank)  # but each rank its own noise
    state = _State(fresh=not resume, world=w, config=b"" if run is None else
                   run.config_bytes(model.config, model.data_info, config, data_config))
    loss_fn = distributed.parallel(model, w, device) if w.distributed else model.loss
    step = _step_function(model, optimizer, config, device, loss_fn)
    if resume:
        _restore(run, rows, model, optimizer, shuffle, state, config, device, step)
    steps_per_epoch = math.ceil(len(rows.x_train) / config.batch_size)
    kl_weight = KLSchedule.from_config(config, steps_per_epoch)
    # One bar for the whole run (on stderr), so that short epochs do not print a line each.
    bar = tqdm(total=config.epochs * steps_per_epoch, initial=state.epoch * steps_per_epoch,
               disable=not progress, unit="batch", mininterval=0.5, dynamic_ncols=True)
    try:
        for epoch in range(state.epoch + 1, config.epochs + 1):
            bar.set_description(f"epoch {epoch}/{config.epochs}")
            record = _train_epoch(model, rows, step, kl_weight, shuffle, state, config, epoch, bar, run)
            if _end_epoch(model, rows, record, optimizer, shuffle, state, config, device, run, step):
                break
    finally:
        bar.close()
    if state.best_state is not None and len(rows.x_val):
        model.load_state_dict(state.best_state)
    if w.distributed:
        torch.distributed.barrier()  # rank 0's last commit is done before anyone reads it
    if run is not None and state.epoch:
        model.weights_id = run.weights_id()
    model.eval()
    return state.result


def _prepare(model: Autoencoder, x: np.ndarray | torch.Tensor, y: np.ndarray | torch.Tensor | None,
             config: TrainConfig, device: torch.device, fingerprinted: bool) -> _Rows:
    """Check the rows against the model, move them to the device once and split off validation."""
    x_np = np.asarray(x, dtype=np.float32)
    if tuple(x_np.shape[1:]) != tuple(model.config.input_shape):
        raise ValueError(f"data rows have shape {tuple(x_np.shape[1:])}, the model expects "
                         f"{tuple(model.config.input_shape)}")
    if len(x_np) < 1:
        raise ValueError("there are no training rows")
    x_all = torch.from_numpy(x_np).to(device)  # (N, *shape)
    y_all = None
    if y is not None:  # class ids (N,) or condition columns (N, A)
        y_np = np.asarray(y)
        if len(y_np) != len(x_np):
            raise ValueError(f"y has {len(y_np)} rows but x has {len(x_np)}; give one label or condition "
                             "row per data row")
        dtype = torch.float32 if y_np.dtype.kind == "f" else torch.long
        y_all = torch.as_tensor(y_np, dtype=dtype).to(device)
    train_idx, val_idx = (i.to(device) for i in _split(len(x_all), config.val_fraction, config.seed))
    return _Rows(x_all[train_idx], None if y_all is None else y_all[train_idx], x_all[val_idx],
                 None if y_all is None else y_all[val_idx], fingerprint(x_np) if fingerprinted else "")


def _restore(run: RunDir, rows: _Rows, model: Autoencoder, optimizer: torch.optim.Optimizer,
             shuffle: torch.Generator, state: _State, config: TrainConfig, device: torch.device,
             step: TrainStep) -> None:
    """Continue the run in ``run``: weights, optimizer, gradient scaler, RNG states, counters, history,
    best weights."""
    saved = run.load_trainer_state()
    if saved.get("data") != rows.data_id:
        raise ValueError(f"{run}: the data differ from the data this run was trained on; "
                         "resume with the same data, or start a new run")
    model.load_state_dict(saved["model"])
    optimizer.load_state_dict(saved["optimizer"])
    for group in optimizer.param_groups:  # a resumed run may lower the learning rate
        group.update(lr=config.lr, weight_decay=config.weight_decay)
    step.load_state_dict(saved.get("scaler", {}))
    ranks = saved.get("rng_ranks", [saved["rng"]])
    torch.set_rng_state(ranks[state.world.rank] if state.world.rank < len(ranks) else saved["rng"])
    shuffle.set_state(saved["shuffle_rng"])
    if device.type == "cuda" and "cuda_rng" in saved:
        torch.cuda.set_rng_state(saved["cuda_rng"])
    state.epoch, state.step = int(saved["epoch"]), int(saved["step"])
    state.best_val, state.bad_epochs = float(saved["best_val"]), int(saved["bad_epochs"])
    state.result.best_epoch = int(saved["best_epoch"])
    state.result.history = run.read_metrics()[:state.epoch]
    state.best_state = run.load_weights(device)


def _step_function(model: Autoencoder, optimizer: torch.optim.Optimizer, config: TrainConfig,
                   device: torch.device, loss: Any) -> TrainStep:
    """One optimizer step on a batch under ``config.precision`` (:class:`TrainStep`); ``loss`` is
    ``model.loss`` or its distributed wrapper."""
    return TrainStep(model, optimizer, config, device, loss=loss)


def _train_epoch(model: Autoencoder, rows: _Rows, step: TrainStep, kl_weight: KLSchedule,
                 shuffle: torch.Generator, state: _State, config: TrainConfig, epoch: int, bar: Any,
                 run: RunDir | None) -> dict[str, Any]:
    """One pass over the shuffled training rows; returns the epoch's record (without validation)."""
    model.train()
    t0 = time.perf_counter()
    n, bs = len(rows.x_train), config.batch_size
    steps_per_epoch = math.ceil(n / bs)
    order = torch.randperm(n, generator=shuffle).to(rows.x_train.device)
    xs = rows.x_train[order]  # (N_train, *shape): one gather per epoch, then contiguous slices
    ys = None if rows.y_train is None else rows.y_train[order]
    # Per-step losses stay on the device as detached scalars; one stack at the end of the epoch
    # turns them into sums and finds a first non-finite step without a sync per step.
    per_step: list[torch.Tensor] = []
    w = state.world
    sizes = []  # rows of each step on this rank
    for i in range(steps_per_epoch):
        batch = slice(i * bs, min((i + 1) * bs, n))
        rows_now = batch.stop - batch.start
        if rows_now < w.size:  # a last batch too small to share: no rank trains on it
            state.step += 1
            continue
        mine = distributed.share(rows_now, w)  # this rank's part of the global batch
        part = slice(batch.start + mine.start, batch.start + mine.stop)
        losses = step(xs[part], None if ys is None else ys[part], kl_weight(state.step),
                      (mine.stop - mine.start) * w.size / rows_now)
        per_step += [losses.total, losses.rec, losses.kl]
        sizes.append(float(mine.stop - mine.start))
        state.step += 1
        if not bar.disable:
            bar.update()
            if i % 50 == 0:
                loss, rec, kl = torch.stack(per_step).float().view(-1, 3).mean(0).tolist()
                bar.set_postfix(loss=f"{loss:.2f}", rec=f"{rec:.2f}", kl=f"{kl:.2f}")
    table = torch.stack(per_step).float().view(-1, 3)  # (steps, 3): total, rec, kl
    weights = torch.tensor(sizes, device=table.device).unsqueeze(1)  # (steps, 1): rows of each step
    # Sums over this rank's rows, then over every rank's: the epoch means of the whole job.
    sums = distributed.total(torch.cat([(table * weights).sum(0), weights.sum(0)]).double(), w)
    train_loss, train_rec, train_kl = (sums[:3] / sums[3]).tolist()
    seconds = time.perf_counter() - t0
    bad = (~torch.isfinite(table[:, 0])).nonzero()
    if len(bad) or not math.isfinite(train_loss):
        first_bad = int(bad[0, 0]) if len(bad) else 0
        if run is None:
            saved = "nothing was saved (no run_dir)"
        elif epoch == 1:
            saved = f"no epoch was completed, so nothing was saved in {run}"
        else:
            saved = f"last good checkpoint: epoch {epoch - 1} in {run}"
        raise NonFiniteLossError(
            f"the loss became non-finite at epoch {epoch}, step {first_bad + 1} of {steps_per_epoch}; "
            f"{saved}; lower the learning rate or clip the gradient norm"
        )
    return {"epoch": epoch, "step": state.step, "train_loss": train_loss, "train_rec": train_rec,
            "train_kl": train_kl, "kl_weight": kl_weight(state.step - 1), "seconds": seconds,
            "samples_per_s": float(sums[3]) / seconds}


def _end_epoch(model: Autoencoder, rows: _Rows, record: dict[str, Any], optimizer: torch.optim.Optimizer,
               shuffle: torch.Generator, state: _State, config: TrainConfig, device: torch.device,
               run: RunDir | None, step: TrainStep) -> bool:
    """Validate, keep the best weights, checkpoint the epoch; returns whether to stop early."""
    epoch, w = record["epoch"], state.world
    improved = True
    if len(rows.x_val):
        val = mean_losses(model, rows.x_val, rows.y_val, seed=config.seed)
        if w.distributed:  # every rank takes rank 0's numbers, so that all decide alike
            mine = torch.tensor([val["loss"], val["rec"], val["kl"]], dtype=torch.float64, device=device)
            val = dict(zip(("loss", "rec", "kl"), distributed.total(mine * w.main, w).tolist(), strict=True))
        record.update(val_loss=val["loss"], val_rec=val["rec"], val_kl=val["kl"])
        improved = val["loss"] < state.best_val
        if improved:
            state.best_val, state.bad_epochs = val["loss"], 0
            state.best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            state.bad_epochs += 1
    if improved:
        state.result.best_epoch = epoch
    state.result.history.append(record)
    state.epoch = epoch
    rngs = distributed.gather(torch.get_rng_state(), w)  # every rank's noise, to resume exactly
    if run is not None and w.main:
        files = {
            run.CONFIG: state.config,
            run.TRAINER_STATE: run.trainer_state_bytes({
                "epoch": epoch, "step": state.step, "model": model.state_dict(),
                "optimizer": optimizer.state_dict(), "scaler": step.state_dict(),
                "rng": rngs[0], "rng_ranks": rngs,
                "shuffle_rng": shuffle.get_state(), "best_val": state.best_val,
                "best_epoch": state.result.best_epoch, "bad_epochs": state.bad_epochs, "data": rows.data_id,
                **({"cuda_rng": torch.cuda.get_rng_state()} if device.type == "cuda" else {}),
            }),
            run.METRICS: run.metrics_bytes(state.result.history),
        }
        if improved or state.fresh or not run.has(run.WEIGHTS):
            files[run.WEIGHTS] = run.weights_bytes(model.state_dict())
        run.commit(files, epoch=epoch, fresh=state.fresh)  # the epoch's one commit point
        state.fresh = False
    stop = bool(config.patience and state.bad_epochs >= config.patience)
    state.result.stopped_early = stop
    return stop
