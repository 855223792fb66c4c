"""vaelab.models.build: the model and data combinations build_model refuses, and why."""

from __future__ import annotations

import dataclasses

import pytest
from helpers import image_data, mixed_csv, random_tokens, seq_data, table_data

import vaelab
from vaelab.config import ModelConfig
from vaelab.nn.recurrent import RNNEncoder

pytestmark = pytest.mark.usefixtures("one_thread")


TINY = {"latent_dim": 3, "hidden": (16,)}


def test_build_model_rejects_bad_combinations() -> None:
    with pytest.raises(ValueError, match=r"arch='conv' needs images of shape \(C, H, W\)"):
        vaelab.build_model(ModelConfig(arch="conv"), table_data())
    with pytest.raises(ValueError, match="binarize='dynamic' needs likelihood='bernoulli'"):
        ModelConfig(binarize="dynamic", likelihood="gaussian")
    with pytest.raises(ValueError, match="model='nope' is not allowed; choose from: accompany, ae, cvae"):
        ModelConfig(model="nope")
    with pytest.raises(ValueError, match="Bernoulli likelihood needs data inside the value range"):
        data = image_data(hi=16.0)
        narrow = dataclasses.replace(data, info=dataclasses.replace(data.info, value_range=(0, 10)))
        vaelab.build_model(ModelConfig(likelihood="bernoulli"), narrow)
    with pytest.raises(ValueError, match="not resolved"):
        vaelab.VAE(ModelConfig())


def test_mixed_data_needs_the_mixed_likelihood(tmp_path):
    path = tmp_path / "m.csv"
    mixed_csv(path, n=40)
    data = vaelab.load_dataset(path)
    with pytest.raises(ValueError, match="columns \\(color, size\\); they need likelihood='mixed'"):
        vaelab.build_model(data=data, likelihood="gaussian")


def test_build_model_rejects_what_tokens_cannot_take() -> None:
    seq = seq_data(random_tokens(20, (16,)))
    cases = [
        (dict(likelihood="categorical"), image_data(),
         "likelihood='categorical' takes sequence data, not image data; for image data choose from: "
         "bernoulli, gaussian"),
        (dict(likelihood="categorical"), table_data(), "takes sequence data, not table data"),
        (dict(arch="rnn"), table_data(), "arch='rnn' takes sequence data, not table data"),
        (dict(likelihood="gaussian"), seq,
         "likelihood='gaussian' takes image or table data, not sequence data; for sequence data choose "
         "from: categorical"),
        (dict(arch="mlp"), seq, "arch='mlp' takes image or table data, not sequence data; for sequence "
                                "data choose from: rnn"),
        (dict(arch="conv"), seq, "arch='conv' takes image or table data"),
        (dict(noise="mask:0.2"), seq, "noise='mask:0.2' is not allowed for sequence data"),
        (dict(model="dae"), seq, "noise='gaussian:0.3' is not allowed for sequence data"),
        (dict(binarize="dynamic"), seq, "binarize='dynamic' is not allowed for sequence data"),
    ]
    for overrides, data, message in cases:
        with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
            vaelab.build_model(data=data, **TINY, **overrides)
    bad = seq_data(random_tokens(20, (16,)) + 0.5)
    with pytest.raises(ValueError, match="sequence data must hold token ids, integers from 0 to 19"):
        vaelab.build_model(data=bad, **TINY)
    with pytest.raises(ValueError, match=r"arch='rnn' needs token sequences of shape \(T,\) or \(V, T\)"):
        RNNEncoder(ModelConfig(input_shape=(1, 8, 8), hidden=(8,)), out_dim=2)
