"""Where training runs: the device (:func:`resolve_device`) and, for a job of several processes,
where each stands. torchrun starts the processes, :func:`world` reads their places, and
:func:`vaelab.fit` wraps the model in PyTorch's ``DistributedDataParallel``.

    torchrun --standalone --nproc-per-node 2 -m vaelab train --data digits --out runs/ddp

torchrun sets ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK`` (and the rendezvous address) in each
process; :func:`world` reads them, :func:`join` starts the process group (NCCL on CUDA, gloo on the
CPU) unless the caller's script already did. Every rank walks the same shuffled order of the
training rows and takes its share of each global batch, so ``--batch-size`` means the same with
one process or eight; only rank 0 writes the run directory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist


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


@dataclass(frozen=True)
class World:
    """Where this process stands among those of one training job."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        """Whether this process writes files and prints (rank 0)."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1


def world() -> World:
    """This process's place in the job, from torchrun's environment (one process when unset)."""
    try:
        rank, size = int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))
        local = int(os.environ.get("LOCAL_RANK", str(rank)))
    except ValueError as err:
        raise ValueError(f"RANK, WORLD_SIZE and LOCAL_RANK must be integers, as torchrun sets them ({err})") \
            from None
    if not (size >= 1 and 0 <= rank < size):
        raise ValueError(f"RANK={rank} and WORLD_SIZE={size} are not allowed; 0 <= RANK < WORLD_SIZE")
    return World(rank, size, local)


def device(w: World, device: torch.device) -> torch.device:
    """The device of this rank: its own GPU (``cuda:LOCAL_RANK``) on CUDA, else ``device``."""
    if w.distributed and device.type == "cuda":
        return torch.device("cuda", w.local_rank)
    return device


def join(w: World, device: torch.device) -> bool:
    """Start the process group of the job (NCCL for CUDA, gloo otherwise) if there is a job and the
    caller has not started one; returns whether this call started it (and :func:`leave` should end it)."""
    if not w.distributed or dist.is_initialized():
        return False
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo", rank=w.rank, world_size=w.size)
    return True


def leave(started: bool) -> None:
    if started and dist.is_initialized():
        dist.destroy_process_group()


def share(rows: int, w: World) -> slice:
    """This rank's contiguous share of a batch of ``rows`` rows (sizes differ by at most one)."""
    base, extra = divmod(rows, w.size)
    start = w.rank * base + min(w.rank, extra)
    return slice(start, start + base + (w.rank < extra))


def total(t: torch.Tensor, w: World) -> torch.Tensor:
    """``t`` summed over the ranks (itself on one process)."""
    if w.distributed:
        t = t.clone()
        dist.all_reduce(t)
    return t


def gather(obj: Any, w: World) -> list[Any]:
    """``obj`` of every rank, in rank order ([obj] on one process)."""
    if not w.distributed:
        return [obj]
    found: list[Any] = [None] * w.size
    dist.all_gather_object(found, obj)
    return found


class LossModule(torch.nn.Module):
    """``model.loss`` as a module's forward, so that ``DistributedDataParallel`` (which synchronises
    what goes through ``forward``) can wrap it."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor, y: torch.Tensor | None, kl_weight: Any) -> Any:
        return self.model.loss(x, y, kl_weight=kl_weight)


def parallel(model: torch.nn.Module, w: World, device: torch.device) -> Any:
    """The loss of ``model`` with gradients averaged over the ranks: ``loss(x, y, kl_weight)``."""
    ids = [device.index] if device.type == "cuda" else None
    return torch.nn.parallel.DistributedDataParallel(LossModule(model), device_ids=ids)
