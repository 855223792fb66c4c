"""vaelab.latent.interpolation: interpolate between inputs or codes, slerp and lerp."""

from __future__ import annotations

import pytest
import torch
from helpers import SHAPE, embed, gen

from vaelab import latent


def test_interpolation_endpoints_are_the_inputs_reconstructions(vae, digits) -> None:
    a, b = digits.x_test[0], digits.x_test[1]
    out = latent.interpolate(vae, a, b, steps=6)
    assert out.decoded.shape == (6, *SHAPE) and out.codes.shape == (6, 8)
    assert torch.allclose(out.codes[[0, -1]], embed(vae, digits.x_test[:2]), atol=1e-5)
    recon = vae.reconstruct(torch.from_numpy(digits.x_test[:2]))
    assert torch.allclose(out.decoded[[0, -1]], recon, atol=1e-4)
    same = latent.interpolate(vae, a[None], torch.from_numpy(b), steps=6)  # (1, *shape) and tensors
    assert torch.allclose(same.codes, out.codes)


def test_interpolation_between_codes_keeps_them_exactly(vae) -> None:
    za, zb = torch.randn(8, generator=gen(0)), torch.randn(8, generator=gen(1))
    for method in ("slerp", "lerp"):
        out = latent.interpolate(vae, za, zb, steps=5, method=method)
        assert torch.equal(out.codes[0], za) and torch.equal(out.codes[-1], zb)
        assert torch.allclose(out.decoded, vae.decode(out.codes).mean, atol=1e-5)
    path = latent.interpolate(vae, za, zb, steps=5, method="lerp").codes
    assert torch.allclose(path[2], (za + zb) / 2, atol=1e-6)
    assert torch.allclose(path.diff(dim=0), ((zb - za) / 4).expand(4, 8), atol=1e-6)


def test_slerp_moves_along_the_great_circle_with_linear_norm() -> None:
    a, b = torch.tensor([3.0, 0.0, 0.0]), torch.tensor([0.0, 1.0, 1.0])
    t = torch.linspace(0, 1, 9)
    z = latent.slerp(a, b, t)
    assert torch.allclose(z.norm(dim=1), (1 - t) * 3 + t * 2**0.5, atol=1e-6)
    # The angle from a grows linearly to the angle between a and b (here 90 degrees).
    angle = torch.arccos((z @ a) / (z.norm(dim=1) * 3).clamp_min(1e-12))
    assert torch.allclose(angle, t * torch.pi / 2, atol=1e-5)
    assert torch.allclose(z[:, 1], z[:, 2])  # stays in the plane of a and b
    assert (latent.lerp(a, b, t)[1:-1].norm(dim=1) < z[1:-1].norm(dim=1) - 1e-3).all()
    for parallel in (2.5 * a, -a, torch.zeros(3)):  # no unique great circle: falls back to lerp
        assert torch.allclose(latent.slerp(a, parallel, t), latent.lerp(a, parallel, t), atol=1e-6)


def test_interpolate_rejects_bad_arguments(vae, digits) -> None:
    a, b = digits.x_test[0], digits.x_test[1]
    with pytest.raises(ValueError, match=r"steps=1 is not allowed; it must be an integer >= 2 \(the "):
        latent.interpolate(vae, a, b, steps=1)
    with pytest.raises(ValueError, match="method='cubic' is not allowed; choose from: lerp, slerp"):
        latent.interpolate(vae, a, b, method="cubic")
    with pytest.raises(ValueError, match=r"b has shape \(2, 1, 8, 8\); allowed: one input of shape "
                                         r"\(1, 8, 8\) or \(1, 1, 8, 8\), or a code of shape \(8,\)"):
        latent.interpolate(vae, a, digits.x_test[:2])
