"""vaelab.distributions.likelihoods: Bernoulli and Gaussian densities in data units, and missing cells."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import table_data
from torch.distributions import Bernoulli as TorchBernoulli
from torch.distributions import Normal

import vaelab
from vaelab.distributions import Bernoulli, Gaussian


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


@pytest.mark.usefixtures("one_thread")
def test_missing_cells_keep_gradients_finite():
    data = table_data(d=4, n=64)
    x = data.x_train.copy()
    x[::3, 1] = np.nan
    x[::5, 0] = np.nan
    model = vaelab.build_model(data=data, latent_dim=2, hidden=(16,), seed=0)
    model.loss(torch.from_numpy(x)).total.backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
    g = Gaussian(torch.zeros(2, 2), torch.zeros(1, 2), torch.ones(1, 2), log_scale=torch.zeros(2))
    full = g.log_prob(torch.tensor([[0.0, 1.0], [0.0, 1.0]]))
    part = g.log_prob(torch.tensor([[0.0, float("nan")], [0.0, 1.0]]))
    assert part[0] > full[0] and part[1] == full[1]  # the missing cell's term is left out
