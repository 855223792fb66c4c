"""Small shared pieces of the backbones."""

from __future__ import annotations

from torch import nn

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "silu": nn.SiLU,
    "gelu": nn.GELU,
    "tanh": nn.Tanh,
    "elu": nn.ELU,
}


def mlp(sizes: list[int], activation: str, last_activation: bool = False) -> nn.Sequential:
    """Linear layers of the given widths with ``activation`` between them.

    ``mlp([784, 400, 40], "relu")`` is Linear(784, 400), ReLU, Linear(400, 40).
    """
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(n_in, n_out))
        if last_activation or i < len(sizes) - 2:
            layers.append(ACTIVATIONS[activation]())
    return nn.Sequential(*layers)
