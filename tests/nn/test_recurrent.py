"""vaelab.nn.recurrent: the rnn backbone: shapes, generation, learning, saving and gradients."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import K, accuracy, elbo_and_iwae, random_tokens, seq_data

import vaelab
from vaelab.config import ModelConfig, TrainConfig
from vaelab.data import Dataset
from vaelab.distributions import Categorical
from vaelab.nn.recurrent import RNNDecoder, RNNEncoder

pytestmark = pytest.mark.usefixtures("one_thread")


TINY = {"latent_dim": 3, "hidden": (16,)}


@pytest.mark.parametrize("shape", [(12,), (3, 12)])
@pytest.mark.parametrize("cond_dim", [0, 2])
@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_backbone_shapes_and_teacher_forcing_matches_generation(shape, cond_dim, cell) -> None:
    config = ModelConfig(input_shape=shape, n_tokens=K, hidden=(16, 8), cell=cell)
    torch.manual_seed(0)
    enc, dec = RNNEncoder(config, out_dim=6, cond_dim=cond_dim), RNNDecoder(config, 4, cond_dim=cond_dim)
    x = torch.from_numpy(random_tokens(5, shape))
    c = torch.randn(5, cond_dim) if cond_dim else None
    assert enc(x, c).shape == (5, 6)
    decoding = dec(torch.randn(5, 4), c)
    assert decoding.logits(x.long()).shape == (5, *shape, K)
    gen = decoding.generate(1.0, torch.Generator().manual_seed(0))
    assert gen.tokens.shape == (5, *shape) and gen.logits.shape == (5, *shape, K)
    assert gen.tokens.min() >= 0 and gen.tokens.max() < K
    # The two paths agree: teacher forcing on the generated tokens gives the logits that generation
    # drew each step from, so log_prob is the sum of the step-by-step log-probabilities.
    assert torch.allclose(decoding.logits(gen.tokens), gen.logits, atol=1e-5)
    step_by_step = gen.logits.log_softmax(-1).gather(-1, gen.tokens[..., None]).squeeze(-1)
    log_prob = Categorical(decoding, torch.zeros(1), torch.ones(1)).log_prob(gen.tokens.float())
    assert torch.allclose(log_prob, step_by_step.reshape(5, -1).sum(1), atol=1e-4)
    # The step input depends on the previous tokens: another history gives other logits.
    assert not torch.allclose(decoding.logits(x.long()), gen.logits)


def test_greedy_and_seeded_sampling() -> None:
    net = vaelab.build_model(data=seq_data(random_tokens(40, (2, 10))), seed=0, **TINY).eval()
    z = torch.randn(6, 3, generator=torch.Generator().manual_seed(0))
    p = net.decode(z)
    greedy = p.mean
    assert greedy.shape == (6, 2, 10) and greedy.dtype == torch.float32
    assert torch.equal(p.sample(torch.Generator().manual_seed(5), temperature=0), greedy)
    assert torch.equal(p.sample(torch.Generator().manual_seed(6), temperature=0), greedy)
    a, b = (p.sample(torch.Generator().manual_seed(1)) for _ in range(2))
    assert torch.equal(a, b)
    assert not torch.equal(a, p.sample(torch.Generator().manual_seed(2)))
    assert torch.equal(a, a.round()) and a.min() >= 0 and a.max() <= K - 1
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    assert torch.equal(net.sample(4, generator=g1), net.sample(4, generator=g2))


def pattern_data() -> Dataset:
    """Two repeating 16-step patterns, 64 rows each."""
    a = [2, 1, 5, 1, 9, 1, 1, 1, 0, 0, 7, 1, 5, 1, 2, 1]
    b = [12, 1, 1, 1, 10, 0, 8, 0, 6, 1, 1, 1, 4, 1, 2, 0]
    return seq_data(np.array([a, b] * 64, dtype=np.float32))


@pytest.fixture(scope="module")
def melody_vae():
    data = pattern_data()
    model = vaelab.build_model(data=data, seed=0, latent_dim=2, hidden=(32,))
    vaelab.fit(model, data.x_train, config=TrainConfig(epochs=20, batch_size=16, lr=3e-3, val_fraction=0,
                                                       device="cpu"))
    return model, data


def test_melody_vae_learns_two_patterns(melody_vae) -> None:
    model, data = melody_vae
    assert model.config.arch == "rnn" and model.config.likelihood == "categorical"
    assert model.config.n_tokens == K and model.config.steps_per_bar == 16
    x = torch.from_numpy(data.x_test)
    assert accuracy(model.reconstruct(x), x) > 0.9
    # Prior samples are (mostly) one of the two patterns.
    s = model.sample(20, generator=torch.Generator().manual_seed(0))
    nearest = torch.cdist(s, torch.from_numpy(data.x_train[:2]), p=0).min(1).values  # mismatching steps
    assert (nearest <= 2).float().mean() > 0.7


def test_metrics_and_save_load_melody_vae(melody_vae, tmp_path) -> None:
    model, data = melody_vae
    x = data.x_test[:16]
    elbo, ll = elbo_and_iwae(model, x)
    assert ll >= elbo + 0.01  # IWAE >= ELBO (Burda et al. 2016); z carries which pattern it is
    model.save(tmp_path / "run")
    loaded = vaelab.load(tmp_path / "run")
    xt = torch.from_numpy(x)
    assert torch.equal(loaded.reconstruct(xt), model.reconstruct(xt))
    z = torch.randn(4, 2)
    assert torch.equal(loaded.decode(z).log_prob(xt[:4]), model.decode(z).log_prob(xt[:4]))
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    assert torch.equal(loaded.decode(z).sample(g1), model.decode(z).sample(g2))


@pytest.mark.parametrize(("model", "cell", "shape"), [("vae", "gru", (10,)), ("cvae", "lstm", (2, 10)),
                                                       ("ae", "gru", (2, 10)), ("accompany", "lstm", (4, 8))])
def test_gradients_reach_every_parameter(model, cell, shape) -> None:
    y = np.arange(40) % 3 if model == "cvae" else None
    data = seq_data(random_tokens(40, shape), y=y, classes=("a", "b", "c") if y is not None else None)
    net = vaelab.build_model(data=data, model=model, cell=cell, seed=0, **TINY)
    x = torch.from_numpy(data.x_train[:8])
    yb = None if y is None else torch.from_numpy(data.y_train[:8])
    net.loss(x, yb).total.backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, f"{name} got a zero gradient"
    net.eval()
    assert net.reconstruct(x, yb).shape == (8, *shape)
