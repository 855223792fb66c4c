"""Fully connected backbone for any flat or flattenable input (tables, small images)."""

from __future__ import annotations

from torch import Tensor, nn

from vaelab.config import ModelConfig
from vaelab.nn.conditioning import concat
from vaelab.nn.layers import mlp
from vaelab.nn.scaling import network_width
from vaelab.registry import DECODERS, ENCODERS, register

DEFAULT_HIDDEN = (512, 256)


@register(ENCODERS, "mlp")
class MLPEncoder(nn.Module):
    """x (B, *input_shape) -> flatten -> [with the condition c (B, cond_dim)] -> hidden layers ->
    (B, out_dim).

    Examples
    --------
    >>> enc = MLPEncoder(ModelConfig(input_shape=(1, 8, 8), hidden=(32,)), out_dim=4)
    >>> enc(torch.zeros(5, 1, 8, 8)).shape
    torch.Size([5, 4])
    """

    default_hidden = DEFAULT_HIDDEN

    def __init__(self, config: ModelConfig, out_dim: int, cond_dim: int = 0) -> None:
        super().__init__()
        n_in = network_width(config.input_shape, config.categories) + cond_dim
        self.net = nn.Sequential(
            nn.Flatten(), mlp([n_in, *config.hidden, out_dim], config.activation)
        )

    def forward(self, x: Tensor, c: Tensor | None = None) -> Tensor:
        flatten, layers = self.net
        return layers(concat(flatten(x), c))


@register(DECODERS, "mlp")
class MLPDecoder(nn.Module):
    """[z (B, in_dim), c (B, cond_dim)] -> hidden layers in reverse order -> (B, *input_shape)
    likelihood parameters; (B, W) for a table with categorical columns (one mean or K logits per
    column, :mod:`vaelab.distributions_table`)."""

    def __init__(self, config: ModelConfig, in_dim: int, cond_dim: int = 0) -> None:
        super().__init__()
        n_out = network_width(config.input_shape, config.categories)
        shape = (n_out,) if config.categories else config.input_shape
        self.net = nn.Sequential(
            mlp([in_dim + cond_dim, *reversed(config.hidden), n_out], config.activation),
            nn.Unflatten(1, shape),
        )

    def forward(self, z: Tensor, c: Tensor | None = None) -> Tensor:
        return self.net(concat(z, c))
