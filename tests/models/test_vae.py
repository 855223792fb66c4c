"""vaelab.models.vae: beta and free bits change only the KL penalty of the VAE's loss."""

from __future__ import annotations

import torch
from helpers import make

import vaelab


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
