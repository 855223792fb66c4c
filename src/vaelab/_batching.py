"""Rows in, a batch at a time: the one loop over large inputs at inference.

Inputs are (N, ...) numpy arrays or tensors in the data's own units, with optional labels or
conditions y (N, ...). :func:`batches` yields them ``batch_size`` rows at a time as tensors on a
device; :func:`map_batches` applies a function to every batch under ``torch.no_grad`` and joins
the results. Nothing here knows about models: callers pass ``model.embed``, a decoder's mean, a
classifier, ...
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import torch
from torch import Tensor

from vaelab._checks import check_int

Array = np.ndarray | Tensor

#: rows per forward pass at inference: large enough for fast matrix products on a CPU, small enough
#: that the activations of a conv network on 28x28 images stay in the tens of MB
BATCH = 1024


def as_tensor(x: Array, device: torch.device | str, dtype: torch.dtype = torch.float32) -> Tensor:
    """``x`` as a tensor of ``dtype`` on ``device``; a numpy view (e.g. ``x[::-1]``) is copied once."""
    if not isinstance(x, Tensor):
        x = np.asarray(x)
        if not x.flags.c_contiguous or any(s < 0 for s in x.strides):  # torch takes neither
            x = np.array(x, order="C")  # (a one-row slice of x[::-1] counts as contiguous to numpy)
    return torch.as_tensor(x, dtype=dtype, device=device)


def labels_tensor(y: Array | None, device: torch.device | str) -> Tensor | None:
    """Labels (N,) or conditions (N, A) as a tensor on ``device``, keeping their dtype."""
    if y is None:
        return None
    return torch.as_tensor(np.asarray(y) if not isinstance(y, Tensor) else y, device=device)


def batches(x: Array, y: Array | None = None, *, device: torch.device | str = "cpu",
            batch_size: int = BATCH, dtype: torch.dtype = torch.float32
            ) -> Iterator[tuple[Tensor, Tensor | None]]:
    """``(xb, yb)`` for consecutive slices of ``batch_size`` rows of ``x`` (N, ...) and ``y``
    (N, ...) or None: ``xb`` as ``dtype`` on ``device``, ``yb`` with its own dtype (None without y).

    >>> [xb.shape[0] for xb, _ in batches(np.zeros((5, 2)), batch_size=2)]
    [2, 2, 1]
    """
    check_int(batch_size, "batch_size", 1)
    y_t = labels_tensor(y, device)
    for i in range(0, len(x), batch_size):
        yield as_tensor(x[i:i + batch_size], device, dtype), None if y_t is None else y_t[i:i + batch_size]


@torch.no_grad()
def map_batches(fn: Callable[..., Tensor], x: Array, y: Array | None = None, *,
                device: torch.device | str = "cpu", batch_size: int = BATCH,
                dtype: torch.dtype = torch.float32, empty: tuple[int, ...] | None = None) -> Tensor:
    """``fn(xb)`` (or ``fn(xb, yb)`` when ``y`` is given) for every batch of :func:`batches`, joined
    along the first axis, under ``torch.no_grad``. The result stays on ``fn``'s device.

    ``empty`` is the per-row shape of the result for ``x`` with no rows (there is no batch to
    learn it from); without it an empty ``x`` is an error.

    >>> map_batches(lambda xb: xb * 2, np.ones((3, 2)), batch_size=2).shape
    torch.Size([3, 2])
    """
    parts = [fn(xb) if y is None else fn(xb, yb)
             for xb, yb in batches(x, y, device=device, batch_size=batch_size, dtype=dtype)]
    if parts:
        return torch.cat(parts)
    if empty is None:
        raise ValueError("x has 0 rows; it needs at least 1")
    return torch.empty(0, *empty, device=device)
