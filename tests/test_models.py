"""The model contract, for every registered model x backbone x likelihood."""

from __future__ import annotations

import dataclasses
import itertools

import pytest
import torch

import vaelab
from vaelab.config import ModelConfig
from vaelab.models import data_kinds
from vaelab.registry import ENCODERS, LIKELIHOODS, MODELS

from helpers import image_data, table_data

TINY = {"latent_dim": 3, "hidden": (16,), "channels": 4}
CASES = [
    (model, arch, lik, kind)
    for model, arch, lik, kind in itertools.product(sorted(MODELS), sorted(ENCODERS),
                                                     sorted(LIKELIHOODS), ("image", "table"))
    if not (arch == "conv" and kind == "table")
    and all(kind in data_kinds(t, n) for t, n in ((MODELS, model), (ENCODERS, arch), (LIKELIHOODS, lik)))
]
# sequence data (rnn, categorical, accompany) have their own suite: tests/test_recurrent.py
ARRAY_MODELS = sorted(m for m in MODELS if "image" in data_kinds(MODELS, m))


def make(model: str, arch: str, lik: str, kind: str):
    conditional = MODELS[model].conditional
    data = image_data() if kind == "image" else table_data(conditions=2 if conditional else 0)
    torch.manual_seed(0)
    net = vaelab.build_model(ModelConfig(model=model, arch=arch, likelihood=lik, **TINY), data)
    return net, data


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


def test_gaussian_scaler_standardizes_each_column() -> None:
    data = table_data()
    net = vaelab.build_model(ModelConfig(**TINY), data)
    assert net.config.likelihood == "gaussian" and net.config.arch == "mlp"
    u = net.scaler.normalize(torch.from_numpy(data.x_train))
    assert torch.allclose(u.mean(0), torch.zeros(5), atol=1e-4)
    assert torch.allclose(u.std(0, unbiased=False), torch.ones(5), atol=1e-3)
    back = net.scaler.denormalize(u)
    assert torch.allclose(back, torch.from_numpy(data.x_train), rtol=1e-4, atol=1e-2)


def test_ae_cannot_sample_and_says_why() -> None:
    net, _ = make("ae", "mlp", "bernoulli", "image")
    assert not net.generative
    with pytest.raises(ValueError, match="AE has no prior"):
        net.sample(3)


@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 28, 28), (3, 32, 32), (3, 64, 64), (1, 28, 32),
                                   (2, 7, 9), (1, 5, 5)])
def test_conv_backbone_handles_any_image_size(shape: tuple[int, ...]) -> None:
    data = image_data(shape=shape, n=8)
    net = vaelab.build_model(ModelConfig(arch="conv", **TINY), data)
    x = torch.from_numpy(data.x_train[:2])
    assert net.reconstruct(x).shape == (2, *shape)
    assert net.loss(x).total.isfinite()


def test_dynamic_binarization_draws_binary_targets() -> None:
    data = image_data(hi=255.0)
    net = vaelab.build_model(ModelConfig(binarize="dynamic", arch="mlp", **TINY), data)
    x = torch.from_numpy(data.x_train)
    a, b = net.prepare(x), net.prepare(x)
    assert set(torch.unique(a).tolist()) <= {0.0, 255.0}
    assert not torch.equal(a, b)  # a fresh draw each batch
    # Pixels at full intensity are always on, empty pixels always off.
    assert torch.all(a[x == 255] == 255) and torch.all(a[x == 0] == 0)


def test_build_model_rejects_bad_combinations() -> None:
    with pytest.raises(ValueError, match=r"arch='conv' needs images of shape \(C, H, W\)"):
        vaelab.build_model(ModelConfig(arch="conv"), table_data())
    with pytest.raises(ValueError, match="binarize='dynamic' needs likelihood='bernoulli'"):
        ModelConfig(binarize="dynamic", likelihood="gaussian")
    with pytest.raises(ValueError, match="unknown model 'nope'; choose from: accompany, ae, cvae, dae, vae"):
        ModelConfig(model="nope")
    with pytest.raises(ValueError, match="Bernoulli likelihood needs data inside the value range"):
        data = image_data(hi=16.0)
        narrow = dataclasses.replace(data, info=dataclasses.replace(data.info, value_range=(0, 10)))
        vaelab.build_model(ModelConfig(likelihood="bernoulli"), narrow)
    with pytest.raises(ValueError, match="not resolved"):
        vaelab.VAE(ModelConfig())


def test_config_round_trip_and_unknown_keys() -> None:
    cfg = ModelConfig(latent_dim=7, hidden=(32, 16))
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match=r"unknown keys \['latent'\]"):
        ModelConfig.from_dict({"latent": 3})
    with pytest.raises(ValueError, match="latent_dim=0 is not allowed"):
        ModelConfig(latent_dim=0)
    with pytest.raises(ValueError, match="lr=-1.0 is not allowed"):
        vaelab.TrainConfig(lr=-1.0)


def test_beta_and_free_bits_change_only_the_penalty() -> None:
    net, data = make("vae", "mlp", "bernoulli", "image")
    x = torch.from_numpy(data.x_train[:16])
    torch.manual_seed(1)
    base = net.loss(x)
    heavy = vaelab.build_model(net.config.replace(beta=4.0, free_bits=5.0), data)
    heavy.load_state_dict(net.state_dict())
    torch.manual_seed(1)
    out = heavy.loss(x)
    assert torch.allclose(out.rec, base.rec) and torch.allclose(out.kl, base.kl)
    # Each dimension's batch-mean KL is lifted to at least 5 nats, then weighted by beta = 4.
    kl_dims = heavy.encode(x).kl().mean(0)
    assert kl_dims.min() < 5.0  # so the floor matters here
    expected = out.rec + 4.0 * torch.clamp(kl_dims, min=5.0).sum()
    assert torch.allclose(out.total, expected)
    torch.manual_seed(1)
    warm = net.loss(x, kl_weight=0.0)
    assert torch.allclose(warm.total, warm.rec)
