"""vaelab.models.cvae: labels and condition columns in both networks, their errors, digits on demand."""

from __future__ import annotations

import math

import pytest
import torch
from helpers import EMBED, TINY, cvae, image_data, table_data

import vaelab
from vaelab.config import ModelConfig

pytestmark = pytest.mark.usefixtures("one_thread")


# (arch, how y enters): labels one-hot, labels through a learned embedding, or attribute columns.
# Columns come from tables, and tables only take the MLP backbone.
CONDITION_CASES = [("mlp", "onehot"), ("mlp", "embedding"), ("conv", "onehot"), ("conv", "embedding"),
                   ("mlp", "columns")]


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


@pytest.mark.usefixtures("isolated")
def test_cvae_samples_are_classified_as_the_label_asked_for(digits):
    model = vaelab.build_model(data=digits, model="cvae", seed=0)
    vaelab.fit(model, digits.x_train, digits.y_train, vaelab.TrainConfig(epochs=30, device="cpu"))
    clf = vaelab.classifier.train_classifier(digits, seed=0)
    assert clf.meta["test_accuracy"] > 0.9  # a judge worth listening to
    model.eval()
    asked = torch.arange(1000) % 10
    with torch.no_grad():
        samples = model.sample(1000, asked, generator=torch.Generator().manual_seed(0))  # (1000, 1, 8, 8)
        predicted = clf(samples).argmax(1)
    assert float((predicted == asked).float().mean()) >= 0.8
    shuffled = asked[torch.randperm(1000, generator=torch.Generator().manual_seed(1))]
    assert float((predicted == shuffled).float().mean()) < 0.3
