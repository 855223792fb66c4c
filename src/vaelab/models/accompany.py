"""Chorale harmonizer: a conditional VAE that writes alto, tenor and bass under a soprano melody."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from vaelab.config import ModelConfig
from vaelab.distributions import Categorical, check_token_temperature
from vaelab.models.vae import VAE
from vaelab.nn.recurrent import HarmonyDecoder
from vaelab.registry import MODELS, register


@register(MODELS, "accompany")
class Accompany(VAE):
    """Harmonize a melody: x (B, 4, T) are SATB chorale tokens (voice 0 the soprano), and the model
    is a conditional VAE of the lower voices given the soprano S (Sohn et al. 2015):

        q(z | S, A, T, B)      the rnn encoder over all four voices
        p(A, T, B | z, S)      :class:`vaelab.nn.HarmonyDecoder` (bidirectional melody context +
                               autoregressive GRU/LSTM over the lower voices)

    with the prior p(z) = N(0, I). The loss is the VAE's negative ELBO of log p(A, T, B | S) (beta,
    free bits and KL schedules as for the VAE): ``decode(z).log_prob(x)`` reads the soprano from
    ``x[:, 0]`` and scores voices 1..3 only, so :func:`vaelab.metrics.elbo` and
    :func:`vaelab.metrics.log_likelihood` measure the harmonization as they are.

    For generation ``y`` is the melody, soprano tokens (B, T): ``decode(z, y=melody)`` gives a
    distribution whose ``mean`` (greedy) and ``sample()`` are whole chorales (B, 4, T) with the
    melody copied exactly into voice 0; ``sample(n, y=melody)`` decodes n prior draws.

    Examples
    --------
    >>> model = vaelab.build_model(data=chorales, model="accompany")     # data of shape (4, 32)
    >>> vaelab.fit(model, chorales.x_train)
    >>> chorales = model.harmonize(melodies, n_variations=3)    # melodies (B, 32) -> (B, 3, 4, 32)
    """

    data_kinds = ("sequence",)
    harmonizes = True

    def __init__(self, config: ModelConfig) -> None:
        shape = tuple(config.input_shape)
        if len(shape) != 2 or shape[0] != 4 or config.likelihood != "categorical":
            raise ValueError(f"the accompany model needs four-voice chorales (soprano, alto, tenor, bass): "
                             f"sequence data of shape (4, T) with likelihood='categorical', got input shape "
                             f"{shape} and likelihood={config.likelihood!r}")
        super().__init__(config)
        # The encoder is the registry's backbone (config.arch); p(A, T, B | z, S) is this model's own.
        self.decoder = HarmonyDecoder(config, config.latent_dim)

    def melody_tokens(self, y: Tensor | np.ndarray, n: int | None = None) -> Tensor:
        """Melody tokens as a float tensor (B, T) on the model's device; the shape (``n`` rows, when
        given) and the token ids 0..K-1 are checked."""
        t = self.config.input_shape[1]
        y = torch.as_tensor(np.asarray(y) if not isinstance(y, Tensor) else y, device=self.device)
        if y.ndim != 2 or y.shape[1] != t or (n is not None and len(y) != n):
            rows = "B" if n is None else str(n)
            raise ValueError(f"the melody has shape {tuple(y.shape)}; allowed: ({rows}, {t}) soprano tokens, "
                             "one row per chorale")
        k = self.config.n_tokens
        if len(y) and bool(((y < 0) | (y > k - 1) | (y != y.round())).any()):
            raise ValueError(f"the melody holds values that are not token ids; allowed: integers 0 to "
                             f"{k - 1}")
        return y.float()

    def decode(self, z: Tensor, y: Tensor | None = None) -> Categorical:
        """p(x | z, S) over chorales (B, 4, T): scores voices 1..3 of any x given its own soprano; with
        the melody ``y`` (B, T) it also generates (``mean``, ``sample``) with that soprano."""
        melody = None if y is None else self.melody_tokens(y, len(z))
        return Categorical(self.decoder(z, melody), self.scaler.shift, self.scaler.scale)

    @torch.no_grad()
    def reconstruct(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """Greedy chorales (B, 4, T) from the codes of ``x``, under x's own soprano (or the melody
        ``y`` when given)."""
        return self.decode(self.embed(x), x[:, 0] if y is None else y).mean

    @torch.no_grad()
    def harmonize(self, melody: Tensor | np.ndarray, n_variations: int = 1, temperature: float = 0.5,
                  generator: torch.Generator | None = None) -> Tensor:
        """Harmonizations of one window per melody: tokens (B, T) -> chorales (B, n_variations, 4, T),
        float token ids with the melody in voice 0.

        Each variation decodes its own prior draw z ~ N(0, I) and samples the lower voices step by
        step at ``temperature`` (0: greedy; below 1, safer and less varied; MusicVAE's examples use
        0.5). Longer melodies are cut into windows (and transposed into range) by the caller.

        >>> model.harmonize(torch.full((2, 32), 14.0), n_variations=3, temperature=0.0).shape
        torch.Size([2, 3, 4, 32])
        """
        if isinstance(n_variations, bool) or not isinstance(n_variations, int) or n_variations < 1:
            raise ValueError(f"n_variations={n_variations!r} is not allowed; it must be an integer >= 1")
        temperature = check_token_temperature(temperature)
        melody = self.melody_tokens(melody)
        b, t = melody.shape
        device = generator.device if generator is not None else self.device  # draws reproducible anywhere
        z = torch.randn(b * n_variations, self.config.latent_dim, generator=generator, device=device)
        z = z.to(self.device)  # (B * n, Z)
        repeated = melody.repeat_interleave(n_variations, dim=0)  # (B * n, T), example-major
        x = self.decode(z, repeated).sample(generator, temperature)  # (B * n, 4, T)
        return x.reshape(b, n_variations, 4, t)
