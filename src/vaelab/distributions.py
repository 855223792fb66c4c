"""Small distribution objects: the posterior q(z|x) and the output likelihoods p(x|z).

Likelihoods read and return data in the data's own units (pixels 0..255, CSV values): the model
network works on a normalized copy u = (x - shift) / scale, and each likelihood maps between the
two, so ``mean`` and ``sample()`` are in data units and ``log_prob(x)`` takes data-unit ``x``.

Every ``log_prob`` is in nats, summed over the data (or latent) dimensions: shape (B,).

Token sequences (:mod:`vaelab.data.tokens`) are their own units: the :class:`Categorical` likelihood
reads and returns token ids, and its parameters are either per-position logits or an autoregressive
decoder bound to a code z (:class:`TokenDecoding`).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import NamedTuple, Protocol

import torch
import torch.nn.functional as F
from torch import Tensor

from vaelab.registry import LIKELIHOODS, register

LOG_2PI = math.log(2.0 * math.pi)


def _sum_except_batch(t: Tensor) -> Tensor:
    """(B, ...) -> (B,)."""
    return t.reshape(t.shape[0], -1).sum(dim=1)


class DiagonalGaussian:
    """q(z|x) = N(mean, diag(exp(logvar))).

    Parameters
    ----------
    mean, logvar : (B, Z) tensors.

    Examples
    --------
    >>> q = DiagonalGaussian(torch.zeros(2, 3), torch.zeros(2, 3))
    >>> q.kl().shape
    torch.Size([2, 3])
    """

    def __init__(self, mean: Tensor, logvar: Tensor) -> None:
        self.mean = mean
        self.logvar = logvar

    @property
    def std(self) -> Tensor:
        return torch.exp(0.5 * self.logvar)

    def sample(self, generator: torch.Generator | None = None) -> Tensor:
        """Reparameterized draw z = mean + std * eps, eps ~ N(0, I) (Kingma & Welling 2014, sec. 2.4),
        so gradients flow to mean and logvar. Shape (B, Z)."""
        eps = torch.randn(self.mean.shape, generator=generator, device=self.mean.device,
                          dtype=self.mean.dtype)
        return self.mean + self.std * eps

    def kl(self) -> Tensor:
        """KL(q || N(0, I)) per latent dimension, shape (B, Z), in nats.

        Closed form for two Gaussians (Kingma & Welling 2014, App. B):
        0.5 * (mean^2 + var - 1 - log var).
        """
        return 0.5 * (self.mean.square() + self.logvar.exp() - 1.0 - self.logvar)

    def log_prob(self, z: Tensor) -> Tensor:
        """log q(z|x) summed over latent dimensions; ``z`` is (B, Z) or (K, B, Z)."""
        return -0.5 * (LOG_2PI + self.logvar + (z - self.mean).square() / self.logvar.exp()).sum(-1)


def standard_normal_log_prob(z: Tensor) -> Tensor:
    """log N(z; 0, I) summed over the last dimension."""
    return -0.5 * (LOG_2PI + z.square()).sum(-1)


class Likelihood(ABC):
    """Base of the output likelihoods p(x|z): holds the affine map between data units and the
    normalized units the network works in, x = shift + scale * u.

    ``shift`` and ``scale`` broadcast against a batch (B, *shape): (1, C, 1, 1) for images,
    (1, D) for tables.
    """

    #: whether the model keeps a per-dimension scale parameter for this likelihood
    has_scale: bool = False

    def __init__(self, shift: Tensor, scale: Tensor) -> None:
        self.shift = shift
        self.scale = scale

    def normalize(self, x: Tensor) -> Tensor:
        return (x - self.shift) / self.scale

    def denormalize(self, u: Tensor) -> Tensor:
        return u * self.scale + self.shift

    @property
    @abstractmethod
    def mean(self) -> Tensor:
        """Expected x in data units, (B, *shape)."""

    @abstractmethod
    def log_prob(self, x: Tensor) -> Tensor:
        """log p(x|z) in nats for data-unit x (B, *shape), summed over data dimensions: (B,)."""

    @abstractmethod
    def sample(self, generator: torch.Generator | None = None) -> Tensor:
        """A draw of x in data units, (B, *shape)."""


@register(LIKELIHOODS, "bernoulli")
class Bernoulli(Likelihood):
    """Bernoulli on logits for data in a known range [lo, hi] (shift = lo, scale = hi - lo).

    ``log_prob`` is the negative binary cross-entropy of the normalized data u in [0, 1]; it is a
    log-likelihood in the strict sense only when u is binary (e.g. ``binarize="dynamic"``), and a
    cross-entropy for grey levels.

    Parameters
    ----------
    logits : (B, *shape) decoder output.
    """

    def __init__(self, logits: Tensor, shift: Tensor, scale: Tensor,
                 log_scale: Tensor | None = None) -> None:
        super().__init__(shift, scale)
        self.logits = logits

    @property
    def mean(self) -> Tensor:
        return self.denormalize(torch.sigmoid(self.logits))

    def log_prob(self, x: Tensor) -> Tensor:
        u = self.normalize(x)
        missing = torch.isnan(u)
        per_dim = F.binary_cross_entropy_with_logits(self.logits, u.nan_to_num(0.0), reduction="none")
        return -_sum_except_batch(torch.where(missing, 0.0, per_dim))

    def sample(self, generator: torch.Generator | None = None) -> Tensor:
        return self.denormalize(torch.bernoulli(torch.sigmoid(self.logits), generator=generator))


@register(LIKELIHOODS, "gaussian")
class Gaussian(Likelihood):
    """Gaussian with per-dimension scale on standardized data, u = (x - mean_train) / std_train.

    ``log_prob`` is the density of x in the data's own units: the density of u plus the log-Jacobian
    -sum(log scale) of the standardization, so likelihoods stay comparable across preprocessing.
    Missing values (NaN) are left out of the sum, as in :mod:`vaelab.distributions_table`.

    Parameters
    ----------
    loc : (B, *shape) decoder output, in standardized units.
    log_scale : (*shape) per-dimension log standard deviation, in standardized units.
    """

    has_scale = True

    def __init__(self, loc: Tensor, shift: Tensor, scale: Tensor,
                 log_scale: Tensor | None = None) -> None:
        super().__init__(shift, scale)
        if log_scale is None:
            raise ValueError("the Gaussian likelihood needs a log_scale tensor")
        self.loc = loc
        self.log_scale = log_scale

    @property
    def mean(self) -> Tensor:
        return self.denormalize(self.loc)

    def log_prob(self, x: Tensor) -> Tensor:
        u = self.normalize(x)
        missing = torch.isnan(u)
        u = u.nan_to_num(0.0)  # a NaN anywhere in the sum would poison the gradients, masked or not
        # Jacobian of u = (x - shift) / scale: every observed data dimension contributes -log scale.
        per_dim = -0.5 * (LOG_2PI + ((u - self.loc) / self.log_scale.exp()).square()) - self.log_scale \
            - torch.log(self.scale)
        return _sum_except_batch(torch.where(missing, 0.0, per_dim))

    def sample(self, generator: torch.Generator | None = None) -> Tensor:
        eps = torch.randn(self.loc.shape, generator=generator, device=self.loc.device,
                          dtype=self.loc.dtype)
        return self.denormalize(self.loc + self.log_scale.exp() * eps)


# -- token sequences ---------------------------------------------------------------------------


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
        logits = self.decoding.logits(tokens)  # (B, *shape, K)
        per_position = -F.cross_entropy(logits.movedim(-1, 1), tokens, reduction="none")  # (B, *shape)
        scored = self.decoding.scored
        if scored is not None:
            per_position = torch.where(scored, per_position, 0.0)
        return _sum_except_batch(per_position)

    @property
    def mean(self) -> Tensor:
        """The greedy token sequence (B, *shape) as float token ids (see the class notes)."""
        return self.decoding.generate(0.0, None).tokens.float()

    def sample(self, generator: torch.Generator | None = None, temperature: float = 1.0) -> Tensor:
        """Ancestral draw (B, *shape) as float token ids, each token from softmax(logits /
        temperature) given the tokens drawn before it; ``temperature`` 0 is greedy."""
        temperature = check_token_temperature(temperature)
        return self.decoding.generate(temperature, generator).tokens.float()
