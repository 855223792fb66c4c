"""Training precision: fp32, or autocast to bf16 or fp16, and the optimizer step that runs under it.

``--precision`` changes how the forward pass computes, never what is stored: the weights and the
optimizer state stay float32, and the distributions cast the network outputs they are built from to
float32 (:func:`vaelab.distributions.base.full_precision`), so log-likelihoods, KLs and losses are
float32 sums whatever the precision. fp16 needs a gradient scaler against underflow, whose state
is part of the trainer state.
"""

from __future__ import annotations

import contextlib
from typing import Any

import torch

from vaelab.config import TrainConfig
from vaelab.models import Autoencoder

#: the autocast dtype of each ``--precision`` (fp32 runs without autocast)
AUTOCAST_DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def check_precision(precision: str, device: torch.device) -> None:
    """Refuse a ``precision`` that ``device`` cannot train in: fp16 needs CUDA (its gradient scaler
    and float16 kernels), bf16 on CUDA needs a GPU with bfloat16 support (Ampere or newer)."""
    if precision == "fp16" and device.type != "cuda":
        raise ValueError(f"precision={precision!r} needs a CUDA GPU (the device is {device.type}); "
                         "use bf16 or fp32")
    if precision == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise ValueError(f"precision={precision!r} needs a GPU with bfloat16 support, and "
                         f"{torch.cuda.get_device_name(device)} has none; use fp16 or fp32")


class TrainStep:
    """One optimizer step on a batch: ``step(xb, yb, kl_weight, share=1) -> Losses`` (detached).

    The forward pass and the loss run under autocast for bf16 and fp16 (the distributions cast what
    they are built from to float32, so the losses are float32 whatever the precision). fp16 scales
    the loss with a :class:`torch.amp.GradScaler` (Micikevicius et al. 2018, "Mixed precision
    training", sec. 3.2), whose scale is training state: :meth:`state_dict` goes into the trainer
    state with every epoch and :meth:`load_state_dict` restores it on resume, so a resumed fp16 run
    skips and scales the same steps as an uninterrupted one. For fp32 and bf16 the scaler is
    disabled: ``scale`` and ``step`` pass through, and its state is empty.

    ``scaler`` replaces the one the precision implies (tests use an enabled CPU scaler); ``loss``
    replaces ``model.loss`` (the distributed wrapper of :func:`vaelab.distributed.parallel`).
    """

    def __init__(self, model: Autoencoder, optimizer: torch.optim.Optimizer, config: TrainConfig,
                 device: torch.device, scaler: torch.amp.GradScaler | None = None, loss: Any = None) -> None:
        check_precision(config.precision, device)
        dtype = AUTOCAST_DTYPES[config.precision]
        self.autocast = (torch.autocast(device.type, dtype=dtype) if dtype is not None
                         else contextlib.nullcontext())
        self.scaler = scaler if scaler is not None else \
            torch.amp.GradScaler(device.type, enabled=config.precision == "fp16")
        self.optimizer = optimizer
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.grad_clip = config.grad_clip
        self.compiled = config.compile
        # Compiled, the KL weight goes in as a tensor so that warm-up does not recompile every step.
        loss = model.loss if loss is None else loss  # or its DistributedDataParallel wrapper
        self.loss_fn = torch.compile(loss, dynamic=False) if config.compile else loss

    def __call__(self, xb: torch.Tensor, yb: torch.Tensor | None, weight: float, share: float = 1.0) -> Any:
        """``share`` weighs this process's part of an uneven global batch (several processes), so
        that the gradient averaged over the processes is that of the whole batch."""
        with self.autocast:
            losses = self.loss_fn(xb, yb, kl_weight=torch.tensor(weight) if self.compiled else weight)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(losses.total * share if share != 1.0 else losses.total).backward()
        if self.grad_clip > 0:
            self.scaler.unscale_(self.optimizer)  # clip the true gradients, not the scaled ones
            torch.nn.utils.clip_grad_norm_(self.params, self.grad_clip, foreach=True)
        self.scaler.step(self.optimizer)  # skipped (and the scale lowered) if fp16 gradients overflowed
        self.scaler.update()
        return losses.detach()

    def state_dict(self) -> dict[str, Any]:
        """The gradient scaler's state (plain numbers; empty unless fp16)."""
        return self.scaler.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`. An empty state (a run trained in fp32 or bf16, or written
        before fp16 existed) leaves a fresh scaler: resuming may change the precision."""
        if state and self.scaler.is_enabled():
            self.scaler.load_state_dict(state)
