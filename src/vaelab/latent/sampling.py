"""Drawing new data: codes from the prior or a post-hoc sampler, decoded in the data's units.

Codes are drawn and decoded :data:`CHUNK` rows at a time, from one generator, chunk after chunk:
:func:`sample_chunks` hands the chunks over as they come (a caller can write millions of samples
with one chunk in memory) and :func:`sample` joins them, so both give the same samples for the same
seed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

import torch
from torch import Tensor

from vaelab._batching import BATCH, Array, labels_tensor
from vaelab._checks import check_int, check_temperature
from vaelab.distributions import check_token_temperature, standard_normal
from vaelab.latent.codes import decode_all, draw_all
from vaelab.latent.samplers import GMMSampler
from vaelab.models import Autoencoder

#: rows whose codes are drawn together. The draws of a seed depend on it (a GMM draws all the noise
#: of a chunk before its components), so it is a constant, not ``batch_size``: how many rows are
#: decoded at once, or consumed at once, never changes the samples.
CHUNK = BATCH


def sample_chunks(model: Autoencoder, n: int, temperature: float = 1.0,
                  generator: torch.Generator | None = None,
                  sampler: Literal["prior"] | GMMSampler = "prior", y: Array | None = None,
                  batch_size: int = BATCH, token_temperature: float | None = None) -> Iterator[Tensor]:
    """:func:`sample`, :data:`CHUNK` rows at a time: tensors (m, *shape) with m = CHUNK but the
    last, n rows in all. The arguments are checked here, before the first draw.

    >>> sum(len(x) for x in sample_chunks(vae, 3000))
    3000
    """
    check_int(n, "n", 1)
    check_temperature(temperature)
    z_dim = model.config.latent_dim
    if isinstance(sampler, GMMSampler):
        if sampler.latent_dim != z_dim:
            raise ValueError(f"the GMM sampler draws codes of size {sampler.latent_dim}; the model's "
                             f"latent_dim is {z_dim}")
    elif not (isinstance(sampler, str) and sampler == "prior"):
        raise ValueError(f"sampler={sampler!r} is not allowed; use 'prior' or a GMMSampler from fit_gmm")
    elif not model.generative:
        raise ValueError("an AE has no prior over its codes, so sampler='prior' is not allowed; "
                         "fit a GMM sampler with fit_gmm(model, x_train) and pass sampler=it")
    y_t = None
    if y is not None:
        y_t = labels_tensor(y, model.device)
        if len(y_t) != n:
            raise ValueError(f"y has {len(y_t)} rows; give one label or condition row per sample ({n})")
    if token_temperature is not None:
        if model.config.likelihood != "categorical":
            raise ValueError(f"token_temperature applies to token models (music); this model's likelihood "
                             f"is {model.config.likelihood!r}")
        token_temperature = check_token_temperature(token_temperature)

    def codes(m: int) -> Tensor:  # (m, Z)
        if isinstance(sampler, GMMSampler):
            return sampler.sample(m, temperature, generator)
        return temperature * standard_normal(m, z_dim, generator, torch.float32)

    @torch.no_grad()
    def chunks() -> Iterator[Tensor]:
        for start in range(0, n, CHUNK):
            z = codes(min(CHUNK, n - start))
            yb = None if y_t is None else y_t[start:start + len(z)]
            if token_temperature is None:
                yield decode_all(model, z, yb, batch_size=batch_size)
            else:
                yield draw_all(model, z, yb, token_temperature, generator, batch_size)

    return chunks()


def sample(model: Autoencoder, n: int, temperature: float = 1.0, generator: torch.Generator | None = None,
           sampler: Literal["prior"] | GMMSampler = "prior", y: Array | None = None,
           batch_size: int = BATCH, token_temperature: float | None = None) -> Tensor:
    """Decode ``n`` new codes: (n, *shape), means of p(x|z, y) in data units.

    For note tokens the "mean" is greedy decoding, which an autoregressive decoder turns into long
    held notes; ``token_temperature`` instead draws each token from the softmax at that temperature
    (MusicVAE samples at 0.5; 0 is greedy). It applies to token models (music) only.

    ``sampler="prior"`` draws z ~ N(0, temperature^2 I), the VAE's prior; a :class:`GMMSampler`
    draws from its mixture with each component's spread scaled by ``temperature`` > 0. Below 1,
    samples are more typical and less diverse (reduced-temperature sampling, Kingma & Dhariwal 2018).
    A conditional model needs ``y``, the labels (n,) or conditions (n, A) of the n samples.
    The samples are those of :func:`sample_chunks` joined: the same for a seed however they are taken.

    >>> sample(vae, 16, temperature=0.7, generator=torch.Generator().manual_seed(0)).shape
    torch.Size([16, 1, 8, 8])
    """
    return torch.cat(list(sample_chunks(model, n, temperature, generator, sampler, y, batch_size,
                                        token_temperature)))
