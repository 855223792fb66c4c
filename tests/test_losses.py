"""vaelab.losses: the ELBO terms, free bits, the linear and cyclical KL schedules, collapse detection and
the IWAE bound."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from vaelab.config import TrainConfig
from vaelab.distributions import DiagonalGaussian
from vaelab.losses import (
    COLLAPSE_NATS,
    KLSchedule,
    cyclical,
    elbo_terms,
    free_bits,
    iwae_bound,
    kl_collapse,
    linear_warmup,
)

pytestmark = pytest.mark.usefixtures("one_thread")


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


def test_cyclical_key_points() -> None:
    # 80 steps, 2 cycles of 40, rising over the first half of each.
    assert cyclical(0, 80, 2, 0.5) == 0.0
    assert cyclical(10, 80, 2, 0.5) == pytest.approx(0.5)
    assert cyclical(20, 80, 2, 0.5) == 1.0
    assert cyclical(39, 80, 2, 0.5) == 1.0
    assert cyclical(40, 80, 2, 0.5) == 0.0  # second cycle restarts
    assert cyclical(50, 80, 2, 0.5) == pytest.approx(0.5)
    assert cyclical(80, 80, 2, 0.5) == 1.0 and cyclical(500, 80, 2, 0.5) == 1.0  # past the end
    saw = [cyclical(s, 8, cycles=2, ratio=1.0) for s in range(8)]
    assert saw == pytest.approx([0.0, 0.25, 0.5, 0.75, 0.0, 0.25, 0.5, 0.75])


def test_kl_schedule_from_config() -> None:
    config = TrainConfig(epochs=10, kl_schedule="cyclical", kl_cycles=2, kl_ratio=0.5)
    schedule = KLSchedule.from_config(config, steps_per_epoch=10)
    assert schedule.total_steps == 100
    assert [schedule(s) for s in (0, 25, 50, 75)] == [0.0, 1.0, 0.0, 1.0]
    assert schedule(12) == pytest.approx(0.48)
    flat = KLSchedule.from_config(TrainConfig(kl_warmup=0), steps_per_epoch=10)
    assert [flat(s) for s in (0, 1, 50, 10**6)] == [1.0, 1.0, 1.0, 1.0]
    warm = KLSchedule.from_config(TrainConfig(kl_warmup=2), steps_per_epoch=10)
    assert [warm(s) for s in (0, 5, 20, 30)] == [0.0, 0.25, 1.0, 1.0]


def test_kl_collapse() -> None:
    assert COLLAPSE_NATS == 0.1
    history = [
        {"epoch": 1, "train_kl": 0.01, "kl_weight": 0.0},  # warm-up start: a small KL is expected
        {"epoch": 2, "train_kl": 3.0, "kl_weight": 0.5},
        {"epoch": 3, "train_kl": 0.05, "kl_weight": 1.0},
        {"epoch": 4, "train_kl": 0.01, "kl_weight": 1.0},
    ]
    assert kl_collapse(history) == 3
    assert kl_collapse(history, nats=0.02) == 4
    assert kl_collapse(history[:3], nats=0.01) is None  # below means strictly below
    assert kl_collapse([{"epoch": e, "train_kl": 5.0, "kl_weight": 1.0} for e in range(1, 6)]) is None
    assert kl_collapse(history[:1]) is None
    assert kl_collapse([]) is None
    # A KL that dips and recovers did not collapse; one that falls again did, from its last fall.
    recovered = [*history, {"epoch": 5, "train_kl": 0.5, "kl_weight": 1.0}]
    assert kl_collapse(recovered) is None
    assert kl_collapse([*recovered, {"epoch": 6, "train_kl": 0.02, "kl_weight": 1.0}]) == 6


def test_iwae_bound_is_a_stable_log_mean_exp() -> None:
    log_w = torch.tensor([[-1000.0, 0.0], [-1000.0 + math.log(3.0), 0.0]])
    np.testing.assert_allclose(iwae_bound(log_w).numpy(), [-1000.0 + math.log(2.0), 0.0], atol=1e-4)


def test_elbo_terms_match_torch_distributions() -> None:
    gen = torch.Generator().manual_seed(0)
    q = DiagonalGaussian(torch.randn(3, 2, generator=gen), torch.randn(3, 2, generator=gen))
    z = q.sample(gen, n=5)  # (5, 3, 2)
    log_px_z = torch.randn(5, 3, generator=gen)
    terms = elbo_terms(q, z, log_px_z)
    normal = torch.distributions.Normal(q.mean, q.std)
    prior = torch.distributions.Normal(torch.zeros(2), torch.ones(2))
    kl = torch.distributions.kl_divergence(normal, prior)  # (3, 2)
    torch.testing.assert_close(terms.kl_per_dim, kl)
    torch.testing.assert_close(terms.rec, -log_px_z.mean(0))
    torch.testing.assert_close(terms.neg_elbo, terms.rec + kl.sum(-1))
    expected = log_px_z + prior.log_prob(z).sum(-1) - normal.log_prob(z).sum(-1)
    torch.testing.assert_close(terms.log_weights, expected)
    with pytest.raises(ValueError, match=r"z has shape \(3, 2\) and log_px_z"):
        elbo_terms(q, z[0], log_px_z)


def test_one_draw_gives_the_elbo_and_the_iwae_bound_is_above_it() -> None:
    gen = torch.Generator().manual_seed(1)
    q = DiagonalGaussian(torch.zeros(4, 2), torch.zeros(4, 2))
    z = q.sample(gen, n=1)
    log_px_z = -(z.square().sum(-1))  # any function of z
    terms = elbo_terms(q, z, log_px_z)
    # With one draw the IWAE bound is the single-sample ELBO: log w = log p(x|z) + log p(z) - log q(z).
    torch.testing.assert_close(iwae_bound(terms.log_weights), terms.log_weights[0])
    many = elbo_terms(q, q.sample(gen, n=2000), -(q.sample(gen, n=2000).square().sum(-1)))
    assert bool((iwae_bound(many.log_weights) >= -many.neg_elbo - 0.05).all())

