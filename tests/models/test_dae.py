"""vaelab.models.dae: the denoising autoencoder corrupts in training mode only and denoises real digits."""

from __future__ import annotations

import pytest
import torch
from helpers import TINY, image_data

import vaelab
from vaelab.config import ModelConfig, TrainConfig
from vaelab.noise import psnr, rmse

pytestmark = pytest.mark.usefixtures("one_thread")


def test_dae_corrupts_in_training_mode_only() -> None:
    data = image_data(hi=16.0)
    net = vaelab.build_model(ModelConfig(model="dae", arch="mlp", **TINY), data)
    assert net.noise == "gaussian:0.3" and net.config.noise == "gaussian:0.3"
    x = torch.from_numpy(data.x_train)
    net.train()
    noisy = net.training_input(x)
    assert not torch.equal(noisy, x) and noisy.min() >= 0 and noisy.max() <= 16
    assert 0.2 * 16 < (noisy - x).std().item() < 0.3 * 16  # clipping at 0 and 16 trims the spread
    net.eval()
    assert net.training_input(x) is x
    masked = vaelab.build_model(ModelConfig(model="dae", arch="mlp", noise="mask:0.5", **TINY), data).train()
    hit = masked.training_input(x)[x > 0] == 0
    assert masked.noise == "mask:0.5" and hit.float().mean().item() == pytest.approx(0.5, abs=0.05)
    plain = vaelab.build_model(ModelConfig(model="vae", arch="mlp", **TINY), data).train()
    assert plain.noise == "none" and plain.training_input(x) is x


def test_dae_denoises_digits(digits) -> None:
    net = vaelab.build_model(ModelConfig(model="dae", arch="mlp", hidden=(128,), latent_dim=16), digits,
                             seed=0)
    vaelab.fit(net, digits.x_train, config=TrainConfig(epochs=30, lr=3e-3, batch_size=64, device="cpu"))
    assert not net.training
    x = torch.from_numpy(digits.x_test)
    noisy = net.corrupt(x, torch.Generator().manual_seed(0))
    denoised = net.reconstruct(noisy)
    value_range = tuple(digits.info.value_range)
    before = psnr(x.numpy(), noisy.numpy(), value_range)
    after = psnr(x.numpy(), denoised.numpy(), value_range)
    assert 10 < before < 16  # gaussian:0.3 of the 0..16 range, clipped
    assert after > before + 2.0, (before, after)
    assert rmse(x.numpy(), denoised.numpy()) < rmse(x.numpy(), noisy.numpy())
