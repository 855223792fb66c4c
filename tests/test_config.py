"""vaelab.config: ModelConfig and TrainConfig round trips and checks, and parse_noise."""

from __future__ import annotations

from dataclasses import fields

import pytest

import vaelab
from vaelab.config import ModelConfig, TrainConfig, _settings, applicable, parse_noise

pytestmark = pytest.mark.usefixtures("one_thread")


def test_config_round_trip_and_unknown_keys() -> None:
    cfg = ModelConfig(latent_dim=7, hidden=(32, 16))
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match=r"unknown keys \['latent'\]"):
        ModelConfig.from_dict({"latent": 3})
    with pytest.raises(ValueError, match="latent_dim=0 is not allowed"):
        ModelConfig(latent_dim=0)
    with pytest.raises(ValueError, match="lr=-1.0 is not allowed"):
        vaelab.TrainConfig(lr=-1.0)


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


def test_applicable_keeps_only_the_fields_that_take_effect_on_the_model() -> None:
    image_vae = ModelConfig(arch="conv", likelihood="bernoulli", input_shape=(1, 8, 8))
    shown = applicable(image_vae, image_vae)
    assert {"channels", "binarize", "beta", "free_bits", "activation"} <= set(shown)
    assert {"cell", "n_tokens", "steps_per_bar", "scale", "sigma", "categories",
            "condition"}.isdisjoint(shown)
    assert shown["channels"] == image_vae.channels and shown["input_shape"] == [1, 8, 8]  # as to_dict has it
    melody = ModelConfig(arch="rnn", likelihood="categorical", n_tokens=20)
    assert {"cell", "n_tokens", "steps_per_bar"} <= set(applicable(melody, melody))
    assert {"channels", "activation", "binarize"}.isdisjoint(applicable(melody, melody))
    table_ae = ModelConfig(model="ae", arch="mlp", likelihood="mixed")
    assert {"scale", "sigma", "categories"} <= set(applicable(table_ae, table_ae))
    assert {"beta", "free_bits", "logvar_limit"}.isdisjoint(applicable(table_ae, table_ae))
    assert {"kl_schedule", "kl_warmup", "kl_cycles"}.isdisjoint(applicable(TrainConfig(), table_ae))
    cvae = ModelConfig(model="cvae", condition="label", n_conditions=3)
    assert {"condition", "n_conditions", "label_embedding"} <= set(applicable(cvae, cvae))
    columns = cvae.replace(condition="columns")
    assert "label_embedding" not in applicable(columns, columns)
    assert set(applicable(TrainConfig(), image_vae)) >= {"kl_schedule", "kl_warmup"}
    cyclical = applicable(TrainConfig(kl_schedule="cyclical"), image_vae)
    assert {"kl_cycles", "kl_ratio"} <= set(cyclical) and "kl_warmup" not in cyclical
    # an "auto" setting may become anything, so an unresolved config hides none of its fields' settings
    auto = ModelConfig()
    assert {"channels", "cell", "n_tokens", "binarize", "scale"} <= set(applicable(auto, auto))


def test_every_when_names_a_known_setting() -> None:
    known = set(_settings(ModelConfig(), TrainConfig()))
    for cls in (ModelConfig, TrainConfig):
        for f in fields(cls):
            assert set(f.metadata["when"]) <= known, (cls.__name__, f.name)


@pytest.mark.parametrize(("old", "new"), [("float32", "fp32"), ("bfloat16", "bf16"), ("fp16", "fp16")])
def test_precision_reads_the_old_names_as_the_new_ones(old: str, new: str) -> None:
    # config.json files from before fp32/bf16/fp16 say "float32" or "bfloat16"
    config = TrainConfig.from_dict({**TrainConfig().to_dict(), "precision": old})
    assert config.precision == new and config.to_dict()["precision"] == new
    assert TrainConfig(precision=old) == TrainConfig(precision=new)


def test_precision_rejects_other_names() -> None:
    with pytest.raises(ValueError,
                       match=r"^precision='float16' is not allowed; choose from: fp32, bf16, fp16$"):
        TrainConfig(precision="float16")
