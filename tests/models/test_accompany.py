"""vaelab.models.accompany: the harmonizer learns a rule, scores the lower voices, checks its input."""

from __future__ import annotations

import pytest
import torch
from helpers import K, accuracy, chorales, elbo_and_iwae, image_data, random_tokens, seq_data

import vaelab
from vaelab.config import ModelConfig, TrainConfig
from vaelab.nn.recurrent import HarmonyDecoder

pytestmark = pytest.mark.usefixtures("one_thread")


TINY = {"latent_dim": 3, "hidden": (16,)}


@pytest.fixture(scope="module")
def harmonizer():
    data = seq_data(chorales(384))
    # No free bits: the rule is deterministic, so z has nothing to carry (the metrics test relies on it).
    model = vaelab.build_model(data=data, model="accompany", seed=0, latent_dim=2, hidden=(32,),
                               free_bits=0.0)
    vaelab.fit(model, data.x_train, config=TrainConfig(epochs=6, batch_size=16, lr=1e-2, val_fraction=0,
                                                       device="cpu"))
    return model, data


def test_accompany_learns_a_harmony_rule(harmonizer) -> None:
    model, data = harmonizer
    x = torch.from_numpy(data.x_test)
    out = model.harmonize(x[:, 0], n_variations=2, temperature=0.0,
                          generator=torch.Generator().manual_seed(0))
    assert out.shape == (len(x), 2, 4, 16)
    assert torch.equal(out[:, :, 0], x[:, None, 0].expand(-1, 2, -1))  # the melody, copied exactly
    assert accuracy(out[:, :, 1:], x[:, None, 1:].expand_as(out[:, :, 1:])) > 0.95
    assert accuracy(model.reconstruct(x)[:, 1:], x[:, 1:]) > 0.95
    # The same holds for a melody it has not seen, and for sampled chorales.
    new = torch.from_numpy(chorales(8, seed=7))
    s = model.sample(8, y=new[:, 0], generator=torch.Generator().manual_seed(0))
    assert torch.equal(s[:, 0], new[:, 0])
    assert accuracy(s[:, 1:], new[:, 1:]) > 0.9


def test_accompany_scores_only_the_lower_voices(harmonizer) -> None:
    model, data = harmonizer
    x = torch.from_numpy(data.x_test[:6])
    z = model.embed(x)
    p = model.decode(z)
    logits = p.logits(x)  # (B, 4, T, K)
    per_position = logits.log_softmax(-1).gather(-1, x.long()[..., None]).squeeze(-1)
    assert torch.allclose(p.log_prob(x), per_position[:, 1:].sum((1, 2)), atol=1e-4)
    assert torch.equal(logits[:, 0], torch.zeros_like(logits[:, 0]))  # voice 0 is given, not predicted
    # The soprano conditions the other voices: another melody changes their likelihood.
    other = x.clone()
    other[:, 0] = x[[1, 2, 3, 4, 5, 0], 0]
    assert not torch.allclose(p.log_prob(other), p.log_prob(x))
    # Generation's step logits agree with teacher forcing on what was generated.
    gen = model.decoder(z, x[:, 0]).generate(1.0, torch.Generator().manual_seed(0))
    assert torch.allclose(model.decode(z).logits(gen.tokens.float()), gen.logits, atol=1e-5)


def test_accompany_metrics_and_save_load(harmonizer, tmp_path) -> None:
    model, data = harmonizer
    x = data.x_test[:12]
    elbo, ll = elbo_and_iwae(model, x)
    # The rule is deterministic, so z carries almost nothing and the bounds nearly meet.
    assert elbo - 1e-3 <= ll <= elbo + 0.01
    assert ll > -1.0  # nats for 3 x 16 tokens: the harmony is nearly certain given the melody
    model.save(tmp_path / "run")
    loaded = vaelab.load(tmp_path / "run")
    assert type(loaded) is vaelab.models.Accompany
    melody = torch.from_numpy(x[:, 0])
    g1, g2 = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    assert torch.equal(loaded.harmonize(melody, 3, generator=g1), model.harmonize(melody, 3, generator=g2))


def test_accompany_needs_a_melody_and_four_voices(harmonizer) -> None:
    model, _ = harmonizer
    with pytest.raises(ValueError, match=r"pass y=melody, soprano tokens of shape \(B, T\)"):
        model.sample(3)
    with pytest.raises(ValueError, match=r"the melody has shape \(3, 12\); allowed: \(3, 16\)"):
        model.sample(3, y=torch.zeros(3, 12))
    with pytest.raises(ValueError, match="not token ids; allowed: integers 0 to 19"):
        model.harmonize(torch.full((2, 16), 20.0))
    with pytest.raises(ValueError, match="n_variations=0 is not allowed"):
        model.harmonize(torch.zeros(2, 16), n_variations=0)
    with pytest.raises(ValueError, match=r"needs four-voice chorales .* got input shape \(16,\)"):
        vaelab.build_model(data=seq_data(random_tokens(20, (16,))), model="accompany", **TINY)
    with pytest.raises(ValueError, match="model='accompany' takes sequence data, not image data"):
        vaelab.build_model(data=image_data(), model="accompany", **TINY)
    with pytest.raises(ValueError, match="the harmony decoder needs four voices"):
        HarmonyDecoder(ModelConfig(input_shape=(4, 16), n_tokens=K, hidden=(8,)), 2)
