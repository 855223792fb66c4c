"""The likelihood of token sequences (:mod:`vaelab.data.tokens`): a Categorical over the vocabulary
at every position, with fixed logits or an autoregressive decoder bound to a code z.

Tokens are their own units: :class:`Categorical` reads and returns token ids.
"""

from __future__ import annotations

import math
from typing import NamedTuple, Protocol

import torch
import torch.nn.functional as F
from torch import Tensor

from vaelab.distributions.base import Likelihood, full_precision, sum_except_batch
from vaelab.registry import LIKELIHOODS, register


class Generated(NamedTuple):
    """Tokens drawn from a token distribution, with the logits each was drawn from.

    tokens : (B, *shape) int64 token ids.
    logits : (B, *shape, K) the model's logits at every position (before any temperature); for an
        autoregressive decoder, step t's logits given the tokens generated before t.
    """

    tokens: Tensor
    logits: Tensor


class TokenDecoding(Protocol):
    """What :class:`Categorical` needs from its parameters: an (autoregressive) decoder bound to one
    batch of codes z (and conditions), over token arrays of shape (B, *shape) with K classes.

    ``scored`` : bool tensor broadcastable to ``shape``, the positions :meth:`Categorical.log_prob`
    counts (e.g. every voice but a given melody), or None for all of them.
    """

    scored: Tensor | None

    def logits(self, tokens: Tensor) -> Tensor:
        """Teacher-forced logits (B, *shape, K): position t's distribution given the true tokens
        before t, for int64 ``tokens`` (B, *shape)."""
        ...

    def generate(self, temperature: float, generator: torch.Generator | None) -> Generated:
        """Tokens drawn position by position (ancestral sampling) at ``temperature``; 0 takes the
        most likely token each time (greedy decoding)."""
        ...


def choose_tokens(logits: Tensor, temperature: float, generator: torch.Generator | None) -> Tensor:
    """Token ids (...) from ``logits`` (..., K): the argmax for ``temperature`` 0, else a draw from
    softmax(logits / temperature) by the Gumbel-max trick, argmax(logits / temperature + g) with
    g = -log(-log u), u ~ U(0, 1) (Gumbel 1954; Maddison et al. 2014, "A* sampling", sec. 2).

    The uniforms come from ``generator`` on its own device (the CPU unless it lives elsewhere), so a
    seeded draw is the same whatever the model's device."""
    if temperature == 0:
        return logits.argmax(-1)
    device = generator.device if generator is not None else logits.device
    u = torch.rand(logits.shape, generator=generator, device=device).to(logits.device)
    gumbel = -torch.log(-torch.log(u.clamp(min=torch.finfo(u.dtype).tiny)))
    return (logits.float() / temperature + gumbel).argmax(-1)


def check_token_temperature(temperature: float) -> float:
    """``temperature`` as a float, or a ValueError saying what is allowed (a finite number >= 0)."""
    if isinstance(temperature, bool) or not isinstance(temperature, int | float) \
            or not math.isfinite(temperature) or temperature < 0:
        raise ValueError(f"temperature={temperature!r} is not allowed; give a finite number >= 0 "
                         "(0 picks the most likely token)")
    return float(temperature)


class IndependentLogits:
    """:class:`TokenDecoding` for fixed logits (B, *shape, K): every position independent of the
    others, so greedy decoding is the exact mode."""

    scored: Tensor | None = None

    def __init__(self, logits: Tensor) -> None:
        self.fixed = logits

    def logits(self, tokens: Tensor) -> Tensor:
        return self.fixed

    def generate(self, temperature: float, generator: torch.Generator | None) -> Generated:
        return Generated(choose_tokens(self.fixed, temperature, generator), self.fixed)


@register(LIKELIHOODS, "categorical")
class Categorical(Likelihood):
    """Categorical distribution over the K token ids at every position of a token array
    (B, *shape): (B, T) for one voice, (B, V, T) for V voices (:mod:`vaelab.data.tokens`).

    Tokens are their own units: ``shift`` and ``scale`` are taken for the common signature and are
    the identity (0 and 1) for token data; token ids go in and come out as exact float values.

    - ``log_prob(x)`` sums log p(x_i | ...) over the scored positions; with an autoregressive
      decoder it is the exact chain-rule likelihood under teacher forcing (each step conditioned on
      the true tokens before it; Williams & Zipser 1989, Roberts et al. 2018 sec. 3).
    - ``mean`` is the greedy sequence: the most likely token at each position, chosen step by step
      for an autoregressive decoder. For tokens an average is meaningless, so "mean" is the greedy
      mode here (the exact mode for independent logits, an approximation for autoregressive ones).
    - ``sample(generator, temperature)`` is ancestral sampling; temperature 0 is greedy.

    Parameters
    ----------
    params : logits (B, *shape, K), or a :class:`TokenDecoding` (an autoregressive decoder bound to
        the codes z).

    Examples
    --------
    >>> p = Categorical(torch.zeros(2, 16, 5), torch.zeros(1), torch.ones(1))
    >>> p.log_prob(torch.zeros(2, 16))           # 16 uniform positions: -16 log 5 each
    tensor([-25.7506, -25.7506])
    >>> p.sample(torch.Generator().manual_seed(0)).shape
    torch.Size([2, 16])
    """

    #: the kinds of data this likelihood takes
    data_kinds = ("sequence",)

    def __init__(self, params: Tensor | TokenDecoding, shift: Tensor, scale: Tensor,
                 log_scale: Tensor | None = None) -> None:
        super().__init__(shift, scale)
        self.decoding: TokenDecoding = IndependentLogits(params) if isinstance(params, Tensor) else params

    def logits(self, x: Tensor) -> Tensor:
        """Teacher-forced logits (B, *shape, K) for token ids ``x`` (B, *shape)."""
        return self.decoding.logits(x.round().long())

    def log_prob(self, x: Tensor) -> Tensor:
        tokens = x.round().long()  # (B, *shape)
        logits = full_precision(self.decoding.logits(tokens))  # (B, *shape, K)
        per_position = -F.cross_entropy(logits.movedim(-1, 1), tokens, reduction="none")  # (B, *shape)
        scored = self.decoding.scored
        if scored is not None:
            per_position = torch.where(scored, per_position, 0.0)
        return sum_except_batch(per_position)

    @property
    def mean(self) -> Tensor:
        """The greedy token sequence (B, *shape) as float token ids (see the class notes)."""
        return self.decoding.generate(0.0, None).tokens.float()

    def sample(self, generator: torch.Generator | None = None, temperature: float = 1.0) -> Tensor:
        """Ancestral draw (B, *shape) as float token ids, each token from softmax(logits /
        temperature) given the tokens drawn before it; ``temperature`` 0 is greedy."""
        temperature = check_token_temperature(temperature)
        return self.decoding.generate(temperature, generator).tokens.float()
