"""The formulas against torch.distributions and closed forms."""

from __future__ import annotations

import math

import pytest
import torch
from torch.distributions import Bernoulli as TorchBernoulli
from torch.distributions import Normal, kl_divergence

from vaelab.distributions import Bernoulli, DiagonalGaussian, Gaussian, standard_normal_log_prob
from vaelab.losses import free_bits, linear_warmup


def test_kl_matches_torch_distributions() -> None:
    g = torch.Generator().manual_seed(0)
    mean, logvar = torch.randn(7, 5, generator=g) * 2, torch.randn(7, 5, generator=g)
    ours = DiagonalGaussian(mean, logvar).kl()
    ref = kl_divergence(Normal(mean, (0.5 * logvar).exp()), Normal(0.0, 1.0))
    assert ours.shape == (7, 5)
    assert torch.allclose(ours, ref, atol=1e-5)


def test_posterior_log_prob_and_reparameterized_sample() -> None:
    mean, logvar = torch.tensor([[1.0, -2.0]]), torch.tensor([[0.5, -1.0]])
    q = DiagonalGaussian(mean.requires_grad_(), logvar.requires_grad_())
    z = torch.tensor([[0.3, 0.1]])
    ref = Normal(mean, (0.5 * logvar).exp()).log_prob(z).sum(-1)
    assert torch.allclose(q.log_prob(z), ref)
    assert torch.allclose(standard_normal_log_prob(z), Normal(0.0, 1.0).log_prob(z).sum(-1))
    s = q.sample(torch.Generator().manual_seed(0))
    s.sum().backward()  # gradients flow through the draw
    assert mean.grad is not None and logvar.grad is not None and logvar.grad.abs().sum() > 0
    draws = DiagonalGaussian(torch.full((20000, 1), 3.0), torch.full((20000, 1), math.log(4.0)))
    z = draws.sample(torch.Generator().manual_seed(1))
    assert z.mean().item() == pytest.approx(3.0, abs=0.05)
    assert z.std().item() == pytest.approx(2.0, abs=0.05)


def test_bernoulli_log_prob_in_data_units() -> None:
    logits = torch.randn(4, 1, 3, 3, generator=torch.Generator().manual_seed(0))
    u = torch.bernoulli(torch.full((4, 1, 3, 3), 0.5), generator=torch.Generator().manual_seed(1))
    shift, scale = torch.zeros(1, 1, 1, 1), torch.full((1, 1, 1, 1), 255.0)
    lik = Bernoulli(logits, shift, scale)
    ref = TorchBernoulli(logits=logits).log_prob(u).sum((1, 2, 3))
    assert torch.allclose(lik.log_prob(u * 255.0), ref, atol=1e-5)
    assert torch.allclose(lik.mean, torch.sigmoid(logits) * 255.0)


def test_gaussian_log_prob_is_the_density_in_data_units() -> None:
    g = torch.Generator().manual_seed(0)
    loc, log_scale = torch.randn(3, 4, generator=g), torch.randn(4, generator=g) * 0.3
    shift, scale = torch.tensor([[10.0, -2.0, 0.0, 5.0]]), torch.tensor([[3.0, 0.5, 1.0, 100.0]])
    x = torch.randn(3, 4, generator=g) * scale + shift
    ours = Gaussian(loc, shift, scale, log_scale=log_scale).log_prob(x)
    # The same density written directly in data units: N(shift + scale*loc, scale*sigma).
    ref = Normal(shift + scale * loc, scale * log_scale.exp()).log_prob(x).sum(-1)
    assert torch.allclose(ours, ref, atol=1e-4)
    # Per-channel statistics broadcast over pixels: the Jacobian counts every pixel.
    loc_img = torch.zeros(2, 3, 4, 4)
    sh, sc = torch.zeros(1, 3, 1, 1), torch.tensor([2.0, 3.0, 4.0]).reshape(1, 3, 1, 1)
    x_img = torch.randn(2, 3, 4, 4, generator=g)
    ours = Gaussian(loc_img, sh, sc, log_scale=torch.zeros(3, 4, 4)).log_prob(x_img)
    ref = Normal(torch.zeros_like(x_img), sc.expand_as(x_img)).log_prob(x_img).sum((1, 2, 3))
    assert torch.allclose(ours, ref, atol=1e-4)


def test_free_bits_floor_per_dimension() -> None:
    kl = torch.tensor([0.1, 2.0, 0.5])
    assert free_bits(kl, 0.0).item() == pytest.approx(2.6)
    assert free_bits(kl, 1.0).item() == pytest.approx(1.0 + 2.0 + 1.0)
    kl.requires_grad_()
    free_bits(kl, 1.0).backward()
    assert kl.grad.tolist() == [0.0, 1.0, 0.0]  # dimensions below the floor get no push


def test_linear_warmup_key_points() -> None:
    assert linear_warmup(0, 100) == 0.0
    assert linear_warmup(50, 100) == 0.5
    assert linear_warmup(100, 100) == 1.0
    assert linear_warmup(1000, 100) == 1.0
    assert linear_warmup(0, 0) == 1.0
