"""vaelab.distributions.posterior: the diagonal Gaussian posterior against torch.distributions."""

from __future__ import annotations

import math

import pytest
import torch
from torch.distributions import Normal, kl_divergence

from vaelab.distributions import DiagonalGaussian, standard_normal_log_prob


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
