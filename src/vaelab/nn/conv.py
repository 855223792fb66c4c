"""Convolutional backbone for images of any size C x H x W.

The encoder halves the spatial size with stride-2 convolutions (kernel 4, padding 1: out = floor(in/2))
while both sides are at least 8 pixels, so 8x8 -> 4x4, 28x28 -> 14 -> 7, 32x32 -> 16 -> 8 -> 4,
64x64 -> ... -> 4x4. The decoder retraces the recorded sizes with transposed convolutions whose
output padding restores odd sizes (7 -> 14 needs none, 14 -> 28 none, 3 -> 7 one), so no size is
hard-coded anywhere.
"""

from __future__ import annotations

import math

from torch import Tensor, nn

from vaelab.config import ModelConfig
from vaelab.nn.conditioning import broadcast_channels, concat
from vaelab.nn.layers import ACTIVATIONS, mlp
from vaelab.registry import DECODERS, ENCODERS, register

DEFAULT_HIDDEN = (256,)
MAX_CHANNEL_MULT = 8


def spatial_plan(height: int, width: int) -> list[tuple[int, int]]:
    """Spatial sizes from the input down to the smallest feature map, e.g. 28x28 ->
    [(28, 28), (14, 14), (7, 7)]. At least one downsampling step is always taken."""
    sizes = [(height, width)]
    while True:
        h, w = sizes[-1]
        if len(sizes) > 1 and min(h, w) < 8:
            break
        if min(h, w) < 2:
            break
        sizes.append((h // 2, w // 2))
    return sizes


def channel_plan(base: int, n_layers: int) -> list[int]:
    """Output channels of each stride-2 layer: base, 2*base, 4*base ..., capped at 8*base."""
    return [base * min(2**i, MAX_CHANNEL_MULT) for i in range(n_layers)]


def _plan(config: ModelConfig) -> tuple[int, list[tuple[int, int]], list[int]]:
    """Input channels, spatial sizes per level and channels per stride-2 layer for ``config``."""
    if len(config.input_shape) != 3:
        raise ValueError(
            f"arch='conv' needs images of shape (C, H, W), got input shape {config.input_shape}; "
            "use arch='mlp' for tables"
        )
    c, h, w = config.input_shape
    if min(h, w) < 4:
        raise ValueError(f"arch='conv' needs images of at least 4x4 pixels, got {h}x{w}")
    sizes = spatial_plan(h, w)
    return c, sizes, channel_plan(config.channels, len(sizes) - 1)


@register(ENCODERS, "conv")
class ConvEncoder(nn.Module):
    """x (B, C, H, W) [+ the condition c (B, cond_dim) as constant channels] -> stride-2
    convolutions -> flatten -> dense layers -> (B, out_dim)."""

    default_hidden = DEFAULT_HIDDEN

    def __init__(self, config: ModelConfig, out_dim: int, cond_dim: int = 0) -> None:
        super().__init__()
        c, sizes, channels = _plan(config)
        c += cond_dim
        act = ACTIVATIONS[config.activation]
        layers: list[nn.Module] = []
        for c_in, c_out in zip([c, *channels[:-1]], channels, strict=True):
            layers += [nn.Conv2d(c_in, c_out, kernel_size=4, stride=2, padding=1), act()]
        flat = channels[-1] * math.prod(sizes[-1])
        layers += [nn.Flatten(), mlp([flat, *config.hidden, out_dim], config.activation)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor, c: Tensor | None = None) -> Tensor:
        return self.net(broadcast_channels(x, c))


@register(DECODERS, "conv")
class ConvDecoder(nn.Module):
    """[z (B, in_dim), c (B, cond_dim)] -> dense layers -> (B, C', h, w) -> transposed convs ->
    (B, C, H, W)."""

    def __init__(self, config: ModelConfig, in_dim: int, cond_dim: int = 0) -> None:
        super().__init__()
        c, sizes, channels = _plan(config)
        act = ACTIVATIONS[config.activation]
        first = (channels[-1], *sizes[-1])
        layers: list[nn.Module] = [
            mlp([in_dim + cond_dim, *reversed(config.hidden), math.prod(first)], config.activation,
                last_activation=True),
            nn.Unflatten(1, first),
        ]
        # Walk back up: layer i maps sizes[i+1] -> sizes[i] and channels[i] -> channels[i-1] (or C).
        outs = [c, *channels[:-1]]
        for i in reversed(range(len(channels))):
            (h_out, w_out), (h_in, w_in) = sizes[i], sizes[i + 1]
            pad = (h_out - 2 * h_in, w_out - 2 * w_in)
            layers.append(nn.ConvTranspose2d(channels[i], outs[i], kernel_size=4, stride=2,
                                             padding=1, output_padding=pad))
            if i > 0:
                layers.append(act())
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor, c: Tensor | None = None) -> Tensor:
        return self.net(concat(z, c))
