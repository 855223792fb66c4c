"""Conditional and denoising models: how y enters the networks, corruption, denoising quality, KL
schedules and posterior-collapse detection."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import vaelab
from vaelab.config import ModelConfig, TrainConfig, parse_noise
from vaelab.losses import COLLAPSE_NATS, KLSchedule, cyclical, kl_collapse
from vaelab.nn.conditioning import Condition, broadcast_channels, concat
from vaelab.noise import corrupt, psnr, rmse

from cli_helpers import one_thread  # noqa: F401  (fixture: one torch thread)
from helpers import image_data, table_data

TINY = {"latent_dim": 3, "hidden": (16,), "channels": 4}
EMBED = 5  # size of the learned label embedding in the tests that use one

# (arch, how y enters): labels one-hot, labels through a learned embedding, or attribute columns.
# Columns come from tables, and tables only take the MLP backbone.
CONDITION_CASES = [("mlp", "onehot"), ("mlp", "embedding"), ("conv", "onehot"), ("conv", "embedding"),
                   ("mlp", "columns")]


def cvae(arch: str, how: str, seed: int = 0):
    """A tiny CVAE for the case, its data, and a batch (x, y) of 6 training rows."""
    data = table_data(conditions=2) if how == "columns" else image_data()
    config = ModelConfig(model="cvae", arch=arch, label_embedding=EMBED if how == "embedding" else 0, **TINY)
    net = vaelab.build_model(config, data, seed=seed)
    return net, data, torch.from_numpy(data.x_train[:6]), torch.from_numpy(data.y_train[:6])


# -- 1. shapes --------------------------------------------------------------------------------


def test_condition_module_dims_and_values() -> None:
    onehot = Condition(ModelConfig(condition="label", n_conditions=4))
    assert onehot.dim == 4 and onehot.embedding is None
    assert onehot(torch.tensor([2, 0])).tolist() == [[0, 0, 1, 0], [1, 0, 0, 0]]
    learned = Condition(ModelConfig(condition="label", n_conditions=4, label_embedding=3))
    assert learned.dim == 3 and learned(torch.tensor([1, 3, 1])).shape == (3, 3)
    assert torch.equal(learned(torch.tensor([1]))[0], learned.embedding.weight[1])
    columns = Condition(ModelConfig(condition="columns", n_conditions=2))
    assert columns.dim == 2
    assert columns(torch.tensor([[1.0, -2.0]])).tolist() == [[1.0, -2.0]]  # unfitted: identity
    with pytest.raises(ValueError, match="Condition needs condition='label' or 'columns', got 'none'"):
        Condition(ModelConfig(condition="none"))


@pytest.mark.parametrize(("arch", "how"), CONDITION_CASES)
def test_conditional_shapes_for_every_backbone(arch: str, how: str) -> None:
    net, data, x, y = cvae(arch, how)
    shape = tuple(data.info.shape)
    e = {"onehot": 4, "embedding": EMBED, "columns": 2}[how]
    assert net.config.condition == ("columns" if how == "columns" else "label")
    assert net.condition.dim == e
    c = net.conditioning(y)
    assert c.shape == (6, e)
    # The encoder emits mean and log-variance, (B, 2Z); the decoder mean is in the data's shape.
    assert net.encoder(net.scaler.normalize(x), c).shape == (6, 2 * 3)
    z = net.embed(x, y)
    assert z.shape == (6, 3)
    assert net.decode(z, y).mean.shape == (6, *shape)
    assert net.sample(6, y).shape == (6, *shape)
    # The condition widens the first layer of each network by E inputs.
    linears = [m for m in net.decoder.modules() if isinstance(m, torch.nn.Linear)]
    assert linears[0].in_features == 3 + e
    if arch == "conv":
        first = next(m for m in net.encoder.modules() if isinstance(m, torch.nn.Conv2d))
        assert first.in_channels == shape[0] + e
    else:
        first = next(m for m in net.encoder.modules() if isinstance(m, torch.nn.Linear))
        assert first.in_features == math.prod(shape) + e


def test_broadcast_channels_and_concat() -> None:
    g = torch.Generator().manual_seed(0)
    x, c = torch.randn(2, 3, 4, 5, generator=g), torch.randn(2, 2, generator=g)
    out = broadcast_channels(x, c)
    assert out.shape == (2, 3 + 2, 4, 5)
    assert torch.equal(out[:, :3], x)
    # Each condition channel is that example's condition value at every pixel.
    assert torch.equal(out[:, 3:], c[:, :, None, None].expand(2, 2, 4, 5))
    assert broadcast_channels(x, None) is x
    h = torch.randn(2, 3, generator=g)
    assert torch.equal(concat(h, c), torch.cat([h, c], dim=1)) and concat(h, c).shape == (2, 5)
    assert concat(h, None) is h
    assert concat(h, torch.ones(2, 1, dtype=torch.float64)).dtype == torch.float32  # follows h


# -- 2. the networks use y ----------------------------------------------------------------------


@pytest.mark.parametrize("arch", ["mlp", "conv"])
def test_cvae_decoder_and_encoder_depend_on_the_label(arch: str) -> None:
    net, _, x, _ = cvae(arch, "embedding")
    z = torch.randn(4, 3, generator=torch.Generator().manual_seed(0))
    y1, y2 = torch.zeros(4, dtype=torch.long), torch.ones(4, dtype=torch.long)
    assert not torch.allclose(net.decode(z, y1).mean, net.decode(z, y2).mean)
    assert not torch.allclose(net.embed(x[:4], y1), net.embed(x[:4], y2))
    # Gradients reach the embedding rows of the labels in the batch, and only those.
    net.train()
    net.loss(x[:4], torch.tensor([0, 2, 0, 2])).total.backward()
    grad = net.condition.embedding.weight.grad
    assert grad[0].abs().sum() > 0 and grad[2].abs().sum() > 0
    assert grad[1].abs().sum() == 0 and grad[3].abs().sum() == 0


def test_one_hot_cvae_decoder_depends_on_the_label() -> None:
    net, _, _, _ = cvae("mlp", "onehot")
    z = torch.zeros(1, 3)
    means = torch.stack([net.decode(z, torch.tensor([k])).mean for k in range(4)])  # (4, 1, 1, 8, 8)
    for a in range(4):
        for b in range(a + 1, 4):
            assert not torch.allclose(means[a], means[b]), (a, b)


# -- 3. errors ----------------------------------------------------------------------------------


def test_conditional_model_without_y_lists_what_it_needs() -> None:
    net, _, x, _ = cvae("conv", "onehot")
    with pytest.raises(ValueError, match=r"this CVAE is conditional: give labels y, one of: "
                                         r"0 \(a\), 1 \(b\), 2 \(c\), 3 \(d\)$"):
        net.embed(x)
    with pytest.raises(ValueError, match="this CVAE is conditional"):
        net.sample(3)
    table, _, x, _ = cvae("mlp", "columns")
    with pytest.raises(ValueError, match="give conditions for the columns a0, a1$"):
        table.reconstruct(x)


def test_wrong_y_shape_or_type_is_an_error() -> None:
    table, _, x, _ = cvae("mlp", "columns")
    with pytest.raises(ValueError, match=r"conditions y must have shape \(B, 2\).* got \(6, 3\)"):
        table.embed(x, torch.zeros(6, 3))
    with pytest.raises(ValueError, match=r"conditions y must have shape \(B, 2\).* got \(6,\)"):
        table.embed(x, torch.zeros(6))
    images, _, x, _ = cvae("mlp", "onehot")
    with pytest.raises(ValueError, match=r"labels y must be integer class ids of shape \(B,\), got "
                                         r"torch.float32 \(6,\)"):
        images.embed(x, torch.zeros(6))


@pytest.mark.parametrize("how", ["onehot", "embedding"])
def test_label_out_of_range_is_a_value_error(how: str) -> None:
    net, _, _, _ = cvae("mlp", how)
    with pytest.raises(ValueError, match="label 7 is out of range; labels are 0 to 3"):
        net.sample(2, torch.tensor([0, 7]))
    with pytest.raises(ValueError, match="label -1 is out of range"):
        net.embed(torch.zeros(1, 1, 8, 8), torch.tensor([-1]))


def test_bad_model_and_condition_combinations() -> None:
    with pytest.raises(ValueError, match="toy-table: model 'cvae' is conditional but the data have neither "
                                         "class labels nor condition columns"):
        vaelab.build_model(ModelConfig(model="cvae", **TINY), table_data())
    with pytest.raises(ValueError, match=r"condition='label' applies only to conditional models \(cvae\), "
                                         "not to 'vae'"):
        vaelab.build_model(ModelConfig(model="vae", condition="label", n_conditions=4, **TINY), image_data())
    with pytest.raises(ValueError, match="noise='none' turns the DAE into a plain AE; give KIND:LEVEL"):
        vaelab.build_model(ModelConfig(model="dae", noise="none", **TINY), image_data())
    with pytest.raises(ValueError, match="a CVAE needs a condition"):
        vaelab.models.CVAE(ModelConfig(model="cvae", arch="mlp", likelihood="bernoulli", input_shape=(4,),
                                       free_bits=0.0, **TINY))


def test_condition_on_a_plain_vae_names_the_real_problem() -> None:
    with pytest.raises(ValueError, match="applies only to conditional models"):
        vaelab.build_model(ModelConfig(model="vae", condition="label", **TINY), image_data())
    with pytest.raises(ValueError, match="condition='columns' does not match the data: toy-images gives"):
        vaelab.build_model(ModelConfig(model="cvae", condition="columns", **TINY), image_data())


@pytest.mark.parametrize(("text", "allowed"), [
    ("gauss:0.3", "give none or KIND:LEVEL with KIND one of gaussian, mask, saltpepper, e.g. gaussian:0.3"),
    ("mask:1.5", "mask's level is the fraction of inputs hit, from 0 to 1"),
    ("saltpepper:2", "saltpepper's level is the fraction of inputs hit, from 0 to 1"),
    ("gaussian:-1", "give none or KIND:LEVEL"),
    ("gaussian", "give none or KIND:LEVEL"),
    ("gaussian:nan", "give none or KIND:LEVEL"),
])
def test_parse_noise_errors_say_what_is_allowed(text: str, allowed: str) -> None:
    with pytest.raises(ValueError, match=f"noise='{text}' is not allowed; {allowed}"):
        parse_noise(text)
    with pytest.raises(ValueError, match=f"noise='{text}' is not allowed"):
        ModelConfig(noise=text)


def test_parse_noise_accepts_the_kinds() -> None:
    assert parse_noise("none") == ("none", 0.0)
    assert parse_noise("gaussian:0.3") == ("gaussian", 0.3)
    assert parse_noise("gaussian:2") == ("gaussian", 2.0)  # a standard deviation may exceed 1
    assert parse_noise("mask:1") == ("mask", 1.0)
    assert parse_noise("saltpepper:0") == ("saltpepper", 0.0)


# -- 4. condition columns ---------------------------------------------------------------------


def test_condition_columns_are_standardized_with_the_training_conditions() -> None:
    net, data, _, _ = cvae("mlp", "columns")
    y = data.y_train
    assert np.abs(y.mean(0)).min() > 10  # raw conditions are far from standardized (around 50)
    c = net.condition(torch.from_numpy(y))
    assert torch.allclose(c.mean(0), torch.zeros(2), atol=1e-4)
    assert torch.allclose(c.std(0, unbiased=False), torch.ones(2), atol=1e-4)
    # A constant column keeps scale 1 instead of dividing by zero.
    cond = Condition(ModelConfig(condition="columns", n_conditions=2))
    cond.fit(np.array([[1.0, 5.0], [3.0, 5.0]]))
    assert cond.shift.tolist() == [2.0, 5.0] and cond.scale.tolist() == [1.0, 1.0]
    # Labels need no fitting: fit leaves the module as it was.
    labels = Condition(ModelConfig(condition="label", n_conditions=3))
    labels.fit(np.array([0, 1, 2]))
    assert labels(torch.tensor([1])).tolist() == [[0.0, 1.0, 0.0]]


def test_columns_cvae_save_load_round_trip(tmp_path) -> None:
    net, data, _, _ = cvae("mlp", "columns")
    net.eval()
    x, y = torch.from_numpy(data.x_test), torch.from_numpy(data.y_test)
    net.save(tmp_path / "run")
    loaded = vaelab.load(tmp_path / "run")
    assert type(loaded) is vaelab.models.CVAE and loaded.config.condition == "columns"
    assert torch.equal(loaded.condition.shift, net.condition.shift)
    assert torch.equal(loaded.condition.scale, net.condition.scale)
    assert not torch.equal(loaded.condition.scale, torch.ones(2))  # the fitted scaler, not the default
    assert torch.equal(loaded.reconstruct(x, y), net.reconstruct(x, y))
    with pytest.raises(ValueError, match="give conditions for the columns a0, a1"):
        loaded.reconstruct(x)  # the column names survive the round trip


# -- 5. loading condition columns from a CSV ----------------------------------------------------


def write_csv(path, n: int = 20) -> np.ndarray:
    """A CSV with columns f0, a, f1, b; returns its values (n, 4) in file order."""
    rows = np.column_stack([np.arange(n), 100 + np.arange(n), 2 * np.arange(n), -np.arange(n)]) + 0.5
    lines = ["f0,a,f1,b", *(",".join(f"{v:g}" for v in row) for row in rows)]
    path.write_text("\n".join(lines) + "\n")
    return rows.astype(np.float32)


def test_load_dataset_splits_off_condition_columns(tmp_path) -> None:
    rows = write_csv(tmp_path / "t.csv")
    data = vaelab.load_dataset(str(tmp_path / "t.csv"), condition_columns=["b", "a"])
    assert data.info.columns == ("f0", "f1") and data.info.shape == (2,)
    assert data.info.condition_columns == ("b", "a") and data.info.classes is None
    assert data.y_train.dtype == np.float32 and data.y_train.shape == (len(data.x_train), 2)
    x, y = data.split("all")
    # Rows come back in file order; the conditions in the order named, and x without them.
    assert np.array_equal(x, rows[:, [0, 2]])
    assert np.array_equal(y, rows[:, [3, 1]])
    net = vaelab.build_model(ModelConfig(model="cvae", **TINY), data)
    assert net.config.condition == "columns" and net.config.n_conditions == 2


def test_load_dataset_condition_column_errors(tmp_path) -> None:
    write_csv(tmp_path / "t.csv")
    path = str(tmp_path / "t.csv")
    with pytest.raises(ValueError, match="give a label column or condition columns, not both"):
        vaelab.load_dataset(path, label_column="f0", condition_columns=["a"])
    with pytest.raises(ValueError, match="condition column\\(s\\) 'zz' not found; columns: f0, a, f1, b"):
        vaelab.load_dataset(path, condition_columns=["a", "zz"])


# -- 6. corruption ------------------------------------------------------------------------------

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


# -- 7. denoising quality measures -----------------------------------------------------------


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


# -- 8. KL schedules --------------------------------------------------------------------------


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


@pytest.mark.parametrize(("field", "value", "message"), [
    ("kl_schedule", "nope", "kl_schedule='nope' is not allowed; choose from: linear, cyclical"),
    ("kl_cycles", 0, "kl_cycles=0 is not allowed; it must be a positive integer"),
    ("kl_ratio", 0, "kl_ratio=0 is not allowed; it must be in \\(0, 1\\]"),
    ("kl_ratio", 1.5, "kl_ratio=1.5 is not allowed; it must be in \\(0, 1\\]"),
])
def test_train_config_rejects_bad_schedules(field: str, value, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TrainConfig(**{field: value})


def test_train_config_schedule_defaults() -> None:
    config = TrainConfig()
    assert (config.kl_schedule, config.kl_cycles, config.kl_ratio, config.grad_clip) == (
        "linear", 4, 0.5, 1000.0)
    assert TrainConfig(kl_ratio=1).kl_ratio == 1  # a pure sawtooth is allowed


# -- 9. posterior collapse --------------------------------------------------------------------


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


# -- 10. learning: a DAE denoises real digits ----------------------------------------------------


@pytest.fixture(scope="module")
def digits():
    return vaelab.load_dataset("digits")


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
