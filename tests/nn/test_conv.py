"""vaelab.nn.conv: the conv backbone handles any image size."""

from __future__ import annotations

import pytest
import torch
from helpers import TINY, image_data

import vaelab
from vaelab.config import ModelConfig


@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 28, 28), (3, 32, 32), (3, 64, 64), (1, 28, 32),
                                   (2, 7, 9), (1, 5, 5)])
def test_conv_backbone_handles_any_image_size(shape: tuple[int, ...]) -> None:
    data = image_data(shape=shape, n=8)
    net = vaelab.build_model(ModelConfig(arch="conv", **TINY), data)
    x = torch.from_numpy(data.x_train[:2])
    assert net.reconstruct(x).shape == (2, *shape)
    assert net.loss(x).total.isfinite()
