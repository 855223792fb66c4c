"""vaelab.models.ae: the plain autoencoder reconstructs (images and tokens) but cannot sample."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import make, random_tokens, seq_data

import vaelab
from vaelab.evaluation import metrics

TINY = {"latent_dim": 3, "hidden": (16,)}


def test_ae_cannot_sample_and_says_why() -> None:
    net, _ = make("ae", "mlp", "bernoulli", "image")
    assert not net.generative
    with pytest.raises(ValueError, match="AE has no prior"):
        net.sample(3)


@pytest.mark.usefixtures("one_thread")
def test_ae_on_tokens_reconstructs_and_cannot_sample() -> None:
    data = seq_data(random_tokens(20, (16,)))
    net = vaelab.build_model(data=data, model="ae", seed=0, **TINY).eval()
    x = torch.from_numpy(data.x_test)
    assert net.reconstruct(x).shape == x.shape
    assert np.isfinite(metrics.reconstruction_error(net, x)).all()
    with pytest.raises(ValueError, match="AE has no prior"):
        net.sample(2)
