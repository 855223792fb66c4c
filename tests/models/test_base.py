"""vaelab.models.base: the model contract, for every registered model x backbone x likelihood."""

from __future__ import annotations

import itertools

import pytest
import torch
from helpers import TINY, image_data, make, random_tokens, seq_data

import vaelab
from vaelab.config import ModelConfig
from vaelab.models import data_kinds
from vaelab.registry import ENCODERS, LIKELIHOODS, MODELS

CASES = [
    (model, arch, lik, kind)
    for model, arch, lik, kind in itertools.product(sorted(MODELS), sorted(ENCODERS),
                                                     sorted(LIKELIHOODS), ("image", "table"))
    if not (arch == "conv" and kind == "table")
    and all(kind in data_kinds(t, n) for t, n in ((MODELS, model), (ENCODERS, arch), (LIKELIHOODS, lik)))
]
# sequence data (rnn, categorical, accompany) have their own tests: tests/nn/test_recurrent.py,
# tests/distributions/test_tokens.py, tests/models/test_accompany.py
ARRAY_MODELS = sorted(m for m in MODELS if "image" in data_kinds(MODELS, m))


def test_every_registered_combination_is_covered() -> None:
    assert {"vae", "ae"} <= set(MODELS) and {"mlp", "conv"} <= set(ENCODERS)
    for table, column in ((MODELS, 0), (ENCODERS, 1), (LIKELIHOODS, 2)):
        takes_arrays = {n for n in table if {"image", "table"} & set(data_kinds(table, n))}
        assert {case[column] for case in CASES} == takes_arrays


@pytest.mark.parametrize(("model", "arch", "lik", "kind"), CASES)
def test_contract(model: str, arch: str, lik: str, kind: str, tmp_path) -> None:
    net, data = make(model, arch, lik, kind)
    shape = tuple(data.info.shape)
    x = torch.from_numpy(data.x_train[:6])
    # Every model takes y (labels, or condition columns for a conditional model on a table);
    # unconditional models ignore it.
    y = None if data.y_train is None else torch.from_numpy(data.y_train[:6])

    # Shapes: codes (B, Z), reconstructions and likelihood means (B, *shape).
    z = net.embed(x, y)
    assert z.shape == (6, 3)
    assert net.decode(z, y).mean.shape == (6, *shape)
    assert net.reconstruct(x, y).shape == (6, *shape)
    assert not net.reconstruct(x, y).requires_grad  # an inference verb

    # Finite loss, and every parameter receives a gradient.
    net.train()
    losses = net.loss(x, y)
    assert all(torch.isfinite(t) and t.dim() == 0 for t in (losses.total, losses.rec, losses.kl))
    losses.total.backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, f"{name} got a zero gradient"

    # Deterministic use: the code of an input does not change between calls.
    net.eval()
    assert torch.equal(net.embed(x, y), net.embed(x, y))

    # Save -> load gives identical outputs (and the same scaler).
    net.save(tmp_path / "run")
    loaded = vaelab.load(tmp_path / "run")
    assert type(loaded) is type(net)
    assert torch.equal(loaded.reconstruct(x, y), net.reconstruct(x, y))
    assert loaded.data_info == net.data_info
    if net.generative:
        g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
        y4 = None if y is None else y[:4]
        assert torch.equal(loaded.sample(4, y4, generator=g1), net.sample(4, y4, generator=g2))
        assert loaded.sample(4, y4).shape == (4, *shape)


@pytest.mark.parametrize("model", ARRAY_MODELS)
def test_outputs_come_back_in_data_units(model: str) -> None:
    data = image_data(hi=16.0)  # grey levels 0..16 like scikit-learn's digits
    net = vaelab.build_model(ModelConfig(model=model, arch="mlp", **TINY), data).eval()
    x, y = torch.from_numpy(data.x_test), torch.from_numpy(data.y_test)
    recon = net.reconstruct(x, y)
    assert recon.min() >= 0.0 and recon.max() <= 16.0
    assert recon.max() > 1.0  # not left in [0, 1]
    if net.generative:
        s = net.sample(50, torch.arange(50) % 4)
        assert s.min() >= 0.0 and s.max() <= 16.0 and s.max() > 1.0
        draws = net.decode(net.embed(x, y), y).sample()
        assert set(torch.unique(draws).tolist()) <= {0.0, 16.0}


def test_dynamic_binarization_draws_binary_targets() -> None:
    data = image_data(hi=255.0)
    net = vaelab.build_model(ModelConfig(binarize="dynamic", arch="mlp", **TINY), data)
    x = torch.from_numpy(data.x_train)
    a, b = net.prepare(x), net.prepare(x)
    assert set(torch.unique(a).tolist()) <= {0.0, 255.0}
    assert not torch.equal(a, b)  # a fresh draw each batch
    # Pixels at full intensity are always on, empty pixels always off.
    assert torch.all(a[x == 255] == 255) and torch.all(a[x == 0] == 0)


def sequence_case():
    """A tiny recurrent VAE on token rows (B, T) and a batch of them."""
    data = seq_data(random_tokens(40, (16,)))
    net = vaelab.build_model(ModelConfig(arch="rnn", likelihood="categorical", latent_dim=3, hidden=(16,)),
                             data, seed=0)
    return net, torch.from_numpy(data.x_train[:6]), None


def array_case(model: str, arch: str, lik: str, kind: str):
    net, data = make(model, arch, lik, kind)
    return net, torch.from_numpy(data.x_train[:6]), None if data.y_train is None else \
        torch.from_numpy(data.y_train[:6])


@pytest.mark.parametrize("case", [*CASES, "sequence"], ids=[*map("-".join, CASES), "rnn-categorical"])
def test_the_loss_stays_float32_under_bf16_autocast(case) -> None:
    # --precision bf16 runs the networks in bfloat16; the likelihoods and the KL cast what they are
    # built from, so the loss is a float32 sum that agrees with the float32 model to bf16's error.
    net, x, y = sequence_case() if case == "sequence" else array_case(*case)
    net.eval()  # the same draws in both passes: the posterior mean is still sampled, so fix the seed
    torch.manual_seed(0)
    exact = net.loss(x, y)
    torch.manual_seed(0)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        z = torch.zeros(len(x), net.config.latent_dim)
        if case != "sequence":  # the decoder itself does run in bfloat16 (so the casts matter)
            assert net.run(net.decoder, z, y).dtype == torch.bfloat16
        losses = net.loss(x, y)
    for got, want in zip(losses.__dict__.values(), exact.__dict__.values(), strict=True):
        assert got.dtype == torch.float32
        assert got.item() == pytest.approx(want.item(), rel=0.05, abs=0.05)
