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

from vaelab._batching import BATCH, batches
from vaelab.config import DataConfig, TrainConfig
from vaelab.losses import KLSchedule
from vaelab.models import Autoencoder
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


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` -> CUDA if available, else Apple MPS, else CPU; an unavailable choice is an error."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    available = {"cpu": True, "cuda": torch.cuda.is_available(),
                 "mps": torch.backends.mps.is_available()}
    if name not in available:
        raise ValueError(f"device={name!r} is not allowed; choose from: auto, cpu, cuda, mps")
    if not available[name]:
        raise ValueError(f"device={name!r} is not available on this machine; use auto or cpu")
    return torch.device(name)


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


def fit(model: Autoencoder, x: np.ndarray | torch.Tensor, y: np.ndarray | torch.Tensor | None = None,
        config: TrainConfig | None = None, *, run_dir: str | os.PathLike[str] | None = None,
        data_config: DataConfig | None = None, resume: bool = False,
        progress: bool = False) -> FitResult:
    """Train ``model`` on ``x`` (N, *shape) in data units, with labels ``y`` (N,) if the model uses
    them.

    With ``run_dir``, every epoch atomically rewrites config.json, trainer_state.pt (the last
    weights, optimizer, RNG states), model.safetensors (the best weights so far) and metrics.jsonl,
    so a crash or Ctrl-C loses at most the epoch in progress; ``resume=True`` continues from the
    last completed epoch and ends where an uninterrupted run would.

    Parameters
    ----------
    model : a model from :func:`vaelab.build_model`; moved to ``config.device``.
    x, y : training rows; a ``config.val_fraction`` share of them is held out for validation.
    config : the training settings (:class:`TrainConfig`).
    run_dir : where to checkpoint; None keeps everything in memory.
    data_config : how ``x`` was loaded, stored in config.json for later commands.
    resume : continue the run in ``run_dir``.
    progress : show a tqdm progress bar per epoch (on stderr).

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
    device = resolve_device(config.device)
    run_path = RunDir(run_dir) if run_dir is not None else None
    if resume and run_path is None:
        raise ValueError("resume=True needs the run_dir to resume from")
    x_np = np.asarray(x, dtype=np.float32)
    if tuple(x_np.shape[1:]) != tuple(model.config.input_shape):
        raise ValueError(f"data rows have shape {tuple(x_np.shape[1:])}, the model expects "
                         f"{tuple(model.config.input_shape)}")
    if len(x_np) < 1:
        raise ValueError("there are no training rows")
    model.to(device)
    x_all = torch.from_numpy(x_np).to(device)  # (N, *shape)
    y_all = None
    if y is not None:  # class ids (N,) or condition columns (N, A)
        y_np = np.asarray(y)
        if len(y_np) != len(x_np):
            raise ValueError(f"y has {len(y_np)} rows but x has {len(x_np)}; give one label or condition "
                             "row per data row")
        dtype = torch.float32 if y_np.dtype.kind == "f" else torch.long
        y_all = torch.as_tensor(y_np, dtype=dtype).to(device)
    train_idx, val_idx = _split(len(x_all), config.val_fraction, config.seed)
    x_train, x_val = x_all[train_idx.to(device)], x_all[val_idx.to(device)]
    y_train = None if y_all is None else y_all[train_idx.to(device)]
    y_val = None if y_all is None else y_all[val_idx.to(device)]
    n_train, bs = len(x_train), config.batch_size
    steps_per_epoch = math.ceil(n_train / bs)
    kl_weight = KLSchedule.from_config(config, steps_per_epoch)

    optimizer = make_optimizer(model, config, device)
    shuffle = torch.Generator().manual_seed(config.seed + 1)
    torch.manual_seed(config.seed)
    data_id = fingerprint(x_np) if run_path is not None else ""
    result = FitResult()
    start, step, best_val, bad_epochs = 0, 0, math.inf, 0
    best_state: dict[str, torch.Tensor] | None = None

    if resume:
        assert run_path is not None
        state = run_path.load_trainer_state()
        if state.get("data") != data_id:
            raise ValueError(f"{run_path}: the data differ from the data this run was trained on; "
                             "resume with the same data, or start a new run")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        for group in optimizer.param_groups:  # a resumed run may lower the learning rate
            group.update(lr=config.lr, weight_decay=config.weight_decay)
        torch.set_rng_state(state["rng"])
        shuffle.set_state(state["shuffle_rng"])
        if device.type == "cuda" and "cuda_rng" in state:
            torch.cuda.set_rng_state(state["cuda_rng"])
        start, step = int(state["epoch"]), int(state["step"])
        best_val, bad_epochs = float(state["best_val"]), int(state["bad_epochs"])
        result.best_epoch = int(state["best_epoch"])
        result.history = run_path.read_metrics()[:start]
        best_state = run_path.load_weights(device)
    if run_path is not None:
        run_path.write_config(model.config, model.data_info, config, data_config)

    autocast = (torch.autocast(device.type, dtype=torch.bfloat16)
                if config.precision == "bfloat16" else contextlib.nullcontext())
    params = [p for p in model.parameters() if p.requires_grad]
    # Compiled, the KL weight goes in as a tensor so that warm-up does not recompile every step.
    loss_fn = torch.compile(model.loss, dynamic=False) if config.compile else model.loss
    # One bar for the whole run (on stderr), so that short epochs do not print a line each.
    bar = tqdm(total=config.epochs * steps_per_epoch, initial=start * steps_per_epoch,
               disable=not progress, unit="batch", mininterval=0.5, dynamic_ncols=True)
    try:
        for epoch in range(start + 1, config.epochs + 1):
            model.train()
            t0 = time.perf_counter()
            order = torch.randperm(n_train, generator=shuffle).to(device)
            xs = x_train[order]  # (N_train, *shape): one gather per epoch, then contiguous slices
            ys = None if y_train is None else y_train[order]
            # Per-step losses stay on the device as detached scalars; one stack at the end of the
            # epoch turns them into sums and finds a first non-finite step without a sync per step.
            steps: list[torch.Tensor] = []
            bar.set_description(f"epoch {epoch}/{config.epochs}")
            for i in range(steps_per_epoch):
                xb = xs[i * bs:(i + 1) * bs]
                yb = None if ys is None else ys[i * bs:(i + 1) * bs]
                with autocast:
                    weight = kl_weight(step)
                    losses = loss_fn(xb, yb, kl_weight=torch.tensor(weight) if config.compile else weight)
                optimizer.zero_grad(set_to_none=True)
                losses.total.backward()
                if config.grad_clip > 0:
                    torch.nn.utils.clip_grad_norm_(params, config.grad_clip, foreach=True)
                optimizer.step()
                steps.append(losses.total.detach())
                steps.append(losses.rec.detach())
                steps.append(losses.kl.detach())
                step += 1
                if progress:
                    bar.update()
                    if i % 50 == 0:
                        loss, rec, kl = torch.stack(steps).float().view(-1, 3).mean(0).tolist()
                        bar.set_postfix(loss=f"{loss:.2f}", rec=f"{rec:.2f}", kl=f"{kl:.2f}")
            per_step = torch.stack(steps).float().view(-1, 3)  # (steps, 3): total, rec, kl
            sizes = torch.full((steps_per_epoch, 1), float(bs), device=device)
            sizes[-1] = n_train - bs * (steps_per_epoch - 1)
            train_loss, train_rec, train_kl = ((per_step * sizes).sum(0) / n_train).tolist()
            seconds = time.perf_counter() - t0
            bad = (~torch.isfinite(per_step[:, 0])).nonzero()
            if len(bad) or not math.isfinite(train_loss):
                first_bad = int(bad[0, 0]) if len(bad) else 0
                where = f"{run_path}" if run_path is not None else "nothing was saved (no run_dir)"
                raise NonFiniteLossError(
                    f"the loss became non-finite at epoch {epoch}, step {first_bad + 1} of "
                    f"{steps_per_epoch}; last good checkpoint: epoch {epoch - 1} in {where}; "
                    "lower the learning rate or clip the gradient norm"
                )
            record: dict[str, Any] = {
                "epoch": epoch, "step": step, "train_loss": train_loss, "train_rec": train_rec,
                "train_kl": train_kl, "kl_weight": kl_weight(step - 1),
                "seconds": seconds, "samples_per_s": n_train / seconds,
            }
            improved = True
            if len(x_val):
                val = mean_losses(model, x_val, y_val, seed=config.seed)
                record.update(val_loss=val["loss"], val_rec=val["rec"], val_kl=val["kl"])
                improved = val["loss"] < best_val
                if improved:
                    best_val, bad_epochs = val["loss"], 0
                    best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
                else:
                    bad_epochs += 1
            if improved:
                result.best_epoch = epoch
            result.history.append(record)
            if run_path is not None:
                run_path.save_trainer_state({
                    "epoch": epoch, "step": step, "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(), "rng": torch.get_rng_state(),
                    "shuffle_rng": shuffle.get_state(), "best_val": best_val,
                    "best_epoch": result.best_epoch, "bad_epochs": bad_epochs, "data": data_id,
                    **({"cuda_rng": torch.cuda.get_rng_state()} if device.type == "cuda" else {}),
                })
                if improved:
                    run_path.save_weights(model.state_dict())
                run_path.write_metrics(result.history)
            if config.patience and bad_epochs >= config.patience:
                result.stopped_early = True
                break
    finally:
        bar.close()
    if best_state is not None and len(x_val):
        model.load_state_dict(best_state)
    model.eval()
    return result
