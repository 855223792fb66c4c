"""vaelab.latent.sampling: prior samples, their temperature and seeds, and the arguments sample() refuses."""

from __future__ import annotations

import pytest
import torch
from helpers import SHAPE, gen, tiny

from vaelab import latent


def test_prior_samples_are_reproducible_and_temperature_scales_the_codes(monkeypatch) -> None:
    model, _ = tiny()
    drawn = []
    decode = model.decode
    monkeypatch.setattr(model, "decode", lambda z, y=None: drawn.append(z.clone()) or decode(z, y))
    a = latent.sample(model, 2000, generator=gen(0))
    assert a.shape == (2000, *SHAPE) and 0 <= a.min() and a.max() <= 255
    assert torch.equal(a, latent.sample(model, 2000, generator=gen(0)))
    assert not torch.equal(a, latent.sample(model, 2000, generator=gen(1)))
    z1 = drawn[0]
    # z ~ N(0, I) at temperature 1 ...
    assert z1.mean(0).abs().max() < 0.1 and (z1.std(0) - 1).abs().max() < 0.06
    # ... and the same draws scaled by T at temperature T.
    drawn.clear()
    latent.sample(model, 2000, temperature=0.5, generator=gen(0))
    assert torch.equal(drawn[0], 0.5 * z1)
    # Decoding in batches changes nothing.
    assert torch.allclose(latent.sample(model, 10, generator=gen(2), batch_size=3),
                          latent.sample(model, 10, generator=gen(2)), atol=1e-4)


def test_sample_rejects_bad_arguments() -> None:
    model, data = tiny()
    for t in (0, -1.0, float("nan")):
        with pytest.raises(ValueError, match=rf"temperature={t!r} is not allowed; it must be a finite "):
            latent.sample(model, 4, temperature=t)
    with pytest.raises(ValueError, match="n=0 is not allowed; it must be an integer >= 1"):
        latent.sample(model, 0)
    with pytest.raises(ValueError, match="sampler='gmm' is not allowed; use 'prior' or a GMMSampler"):
        latent.sample(model, 4, sampler="gmm")
    ae, _ = tiny("ae")
    with pytest.raises(ValueError, match=r"an AE has no prior over its codes.*fit_gmm"):
        latent.sample(ae, 4)
    wide = latent.fit_gmm(tiny(latent_dim=5)[0], data.x_train, n_components=2)
    with pytest.raises(ValueError, match="draws codes of size 5; the model's latent_dim is 3"):
        latent.sample(model, 4, sampler=wide)


@pytest.mark.usefixtures("one_thread", "isolated")
def test_token_temperature_is_only_for_token_models():
    import vaelab

    digits = vaelab.load_dataset("digits")
    model = vaelab.build_model(data=digits, latent_dim=2, hidden=(8,), seed=0)
    with pytest.raises(ValueError, match="token_temperature applies to token models"):
        vaelab.latent.sample(model, 2, token_temperature=0.5)


@pytest.mark.parametrize("sampler", ["prior", "gmm"])
def test_samples_come_in_chunks_that_do_not_change_them(sampler) -> None:
    """sample() is sample_chunks() joined, so a seed gives the same samples however they are taken:
    at once, chunk by chunk, or decoded in other batches; and n rows drawn at a chunk boundary are
    the first n rows of any larger draw (a GMM used to draw the noise of all n rows first)."""
    from vaelab.latent.sampling import CHUNK

    model, data = tiny()
    source = "prior" if sampler == "prior" else latent.fit_gmm(model, data.x_train, n_components=3)
    n = 2 * CHUNK + 7
    whole = latent.sample(model, n, generator=gen(5), sampler=source)
    chunks = list(latent.sample_chunks(model, n, generator=gen(5), sampler=source))
    assert [len(c) for c in chunks] == [CHUNK, CHUNK, 7]
    assert torch.equal(torch.cat(chunks), whole)
    assert torch.equal(latent.sample(model, CHUNK, generator=gen(5), sampler=source), whole[:CHUNK])
    assert torch.allclose(latent.sample(model, n, generator=gen(5), sampler=source, batch_size=100), whole,
                          atol=1e-4)


def test_sample_chunks_checks_its_arguments_before_the_first_draw() -> None:
    model, _ = tiny()
    with pytest.raises(ValueError, match="n=0 is not allowed"):
        latent.sample_chunks(model, 0)  # raised on the call, not on the first next()
