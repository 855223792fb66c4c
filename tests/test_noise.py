"""vaelab.noise: the corruptions (gaussian, mask, salt and pepper) and the PSNR and RMSE measures."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from vaelab.noise import corrupt, psnr, rmse

pytestmark = pytest.mark.usefixtures("one_thread")


SHIFT, SCALE = torch.zeros(1), torch.full((1,), 16.0)  # a range scaler for data in [0, 16]


def test_gaussian_noise_level_is_in_normalized_units_and_clipped() -> None:
    x = torch.full((10000,), 8.0)
    free = corrupt(x, "gaussian:0.3", SHIFT, SCALE, None, torch.Generator().manual_seed(0))
    assert (free - x).std().item() == pytest.approx(0.3 * 16, rel=0.05)
    assert (free - x).mean().abs().item() < 0.15
    assert free.min() < 0 and free.max() > 16  # some draws leave the range before clipping
    clipped = corrupt(x, "gaussian:0.3", SHIFT, SCALE, (0.0, 16.0), torch.Generator().manual_seed(0))
    assert clipped.min() >= 0 and clipped.max() <= 16
    assert torch.equal(clipped, free.clamp(0, 16))  # the same draw, clipped
    # With a per-column Gaussian scaler, the level is a share of each column's scale.
    shift, scale = torch.tensor([0.0, 100.0]), torch.tensor([1.0, 10.0])
    g = torch.Generator().manual_seed(1)
    cols = corrupt(shift.expand(10000, 2), "gaussian:0.3", shift, scale, None, g)  # (10000, 2)
    assert torch.allclose((cols - shift).std(0), torch.tensor([0.3, 3.0]), rtol=0.05)


def test_mask_and_salt_and_pepper_fractions() -> None:
    x = torch.rand(10000, generator=torch.Generator().manual_seed(0)) * 14 + 1  # in [1, 15]: never 0 or 16
    masked = corrupt(x, "mask:0.5", SHIFT, SCALE, (0.0, 16.0), torch.Generator().manual_seed(1))
    hit = masked != x
    assert hit.float().mean().item() == pytest.approx(0.5, abs=0.05)
    assert torch.all(masked[hit] == 0)  # u = 0 is the bottom of the range for a range scaler
    sp = corrupt(x, "saltpepper:0.2", SHIFT, SCALE, (0.0, 16.0), torch.Generator().manual_seed(2))
    assert (sp == 0).float().mean().item() == pytest.approx(0.1, abs=0.02)
    assert (sp == 16).float().mean().item() == pytest.approx(0.1, abs=0.02)
    kept = (sp != 0) & (sp != 16)
    assert kept.float().mean().item() == pytest.approx(0.8, abs=0.02)
    assert torch.equal(sp[kept], x[kept])


def test_corrupt_none_and_seeding() -> None:
    x = torch.rand(50, 1, 8, 8) * 16
    assert corrupt(x, "none", SHIFT, SCALE, (0.0, 16.0)) is x
    assert corrupt(x, "mask:0", SHIFT, SCALE, (0.0, 16.0)) is x
    for noise in ("gaussian:0.3", "mask:0.5", "saltpepper:0.2"):
        a = corrupt(x, noise, SHIFT, SCALE, (0.0, 16.0), torch.Generator().manual_seed(5))
        b = corrupt(x, noise, SHIFT, SCALE, (0.0, 16.0), torch.Generator().manual_seed(5))
        c = corrupt(x, noise, SHIFT, SCALE, (0.0, 16.0), torch.Generator().manual_seed(6))
        assert torch.equal(a, b) and not torch.equal(a, c), noise
        assert a.shape == x.shape and not torch.equal(a, x)


def test_psnr_and_rmse_known_values() -> None:
    clean = np.zeros((4, 4))
    assert psnr(clean, clean + 0.5, (0.0, 16.0)) == pytest.approx(20 * math.log10(16 / 0.5))
    assert psnr(clean, clean - 2.0, (-1.0, 1.0)) == pytest.approx(20 * math.log10(2 / 2.0))
    assert rmse(clean, clean + 0.5) == pytest.approx(0.5)
    assert psnr(clean, clean, (0.0, 16.0)) == math.inf
    assert rmse(clean, clean) == 0.0
    g = np.random.default_rng(0)
    a, b = g.normal(size=100), g.normal(size=100)
    assert rmse(a, b) == pytest.approx(float(np.sqrt(np.mean((a - b) ** 2))))
    assert psnr(a, b, (0.0, 3.0)) == pytest.approx(20 * math.log10(3.0 / rmse(a, b)))
