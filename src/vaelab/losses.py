"""Pure functions for the terms of the objectives and their schedules.

Variants of the VAE objective (beta, free bits, KL warm-up and cyclical annealing) are values passed
to these functions, never model subclasses.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from vaelab.config import TrainConfig
from vaelab.distributions import DiagonalGaussian, standard_normal_log_prob


@dataclass(frozen=True)
class ElboTerms:
    """The terms of the ELBO of a batch, per example, from S codes z_s ~ q(z|x) each.

    q : the posterior q(z|x) of the B examples; z : (S, B, Z) the codes; log_px_z : (S, B) log p(x|z_s).

    With p(z) = N(0, I): ``rec`` (B,) = -1/S sum_s log p(x|z_s) and ``kl`` (B,) the closed-form
    KL(q || p) (Kingma & Welling 2014, eq. 3 and App. B), so -ELBO = rec + kl; ``log_weights``
    (S, B) = log p(x|z_s) + log p(z_s) - log q(z_s|x), the importance weights of the IWAE bound
    (Burda et al. 2016, eq. 8; :func:`iwae_bound`). Properties are computed when read, so training
    pays only for the terms it uses.
    """

    q: DiagonalGaussian
    z: Tensor
    log_px_z: Tensor

    @property
    def rec(self) -> Tensor:
        return -self.log_px_z.mean(0)

    @property
    def kl_per_dim(self) -> Tensor:
        """(B, Z) KL of each latent dimension."""
        return self.q.kl()

    @property
    def kl(self) -> Tensor:
        return self.kl_per_dim.sum(-1)

    @property
    def neg_elbo(self) -> Tensor:
        return self.rec + self.kl

    @property
    def log_weights(self) -> Tensor:
        return self.log_px_z + standard_normal_log_prob(self.z) - self.q.log_prob(self.z)


def elbo_terms(q: DiagonalGaussian, z: Tensor, log_px_z: Tensor) -> ElboTerms:
    """The ELBO's terms for codes ``z`` (S, B, Z) drawn from ``q`` and their log-likelihoods
    ``log_px_z`` (S, B) (``model.log_prob_at(z, x)``): the one place the VAE's loss, the metrics and
    the anomaly scores take them from.

    >>> q = DiagonalGaussian(torch.zeros(2, 3), torch.zeros(2, 3))
    >>> elbo_terms(q, q.sample(n=4), torch.zeros(4, 2)).kl
    tensor([0., 0.])
    """
    if z.ndim != 3 or log_px_z.shape != z.shape[:2]:
        raise ValueError(f"z has shape {tuple(z.shape)} and log_px_z {tuple(log_px_z.shape)}; allowed: "
                         "(S, B, Z) and (S, B)")
    return ElboTerms(q, z, log_px_z)


def free_bits(kl_per_dim: Tensor, nats: float) -> Tensor:
    """Sum over latent dimensions of max(KL_j, nats), KL_j averaged over the batch.

    Free bits (Kingma et al. 2016, "Improved variational inference with inverse autoregressive
    flow", eq. 15): a dimension whose batch-average KL is below ``nats`` gets no gradient pushing it
    further towards the prior, which counters posterior collapse.

    Parameters
    ----------
    kl_per_dim : (Z,) batch-averaged KL of each latent dimension.
    nats : the floor; 0 gives the plain sum.
    """
    if nats <= 0:
        return kl_per_dim.sum()
    return torch.clamp(kl_per_dim, min=nats).sum()


def linear_warmup(step: int, warmup_steps: int) -> float:
    """KL weight rising linearly from 0 at step 0 to 1 at ``warmup_steps`` (Bowman et al. 2016,
    sec. 3.1; Sønderby et al. 2016). With ``warmup_steps == 0`` the weight is always 1."""
    if warmup_steps <= 0:
        return 1.0
    return min(1.0, step / warmup_steps)


def cyclical(step: int, total_steps: int, cycles: int = 4, ratio: float = 0.5) -> float:
    """Cyclical KL annealing (Fu et al. 2019, "Cyclical annealing schedule: a simple approach to
    mitigating KL vanishing", eq. 6 with a linear f): the ``total_steps`` are split into ``cycles``
    equal periods; in each, the weight rises linearly from 0 to 1 over the first ``ratio`` of the
    period and stays at 1 for the rest. Restarting from 0 lets the encoder re-learn to use z after
    the decoder has learnt to use it. Steps past ``total_steps`` get weight 1.

    >>> [cyclical(s, 8, cycles=2, ratio=0.5) for s in range(9)]
    [0.0, 0.5, 1.0, 1.0, 0.0, 0.5, 1.0, 1.0, 1.0]
    """
    if total_steps <= 0 or step >= total_steps:
        return 1.0
    period = total_steps / cycles
    tau = (step % period) / period  # position in the current cycle, in [0, 1)
    return min(1.0, tau / ratio)


#: name -> schedule(step, spec) -> KL weight; the trainer looks a schedule up here by name.
SCHEDULES: dict[str, Callable[[int, KLSchedule], float]] = {
    "linear": lambda step, s: linear_warmup(step, s.warmup_steps),
    "cyclical": lambda step, s: cyclical(step, s.total_steps, s.cycles, s.ratio),
}


@dataclass(frozen=True)
class KLSchedule:
    """The KL weight as a function of the optimizer step: ``KLSchedule(...)(step) -> float``.

    kind : ``"linear"`` (warm-up over ``warmup_steps``) or ``"cyclical"`` (``cycles`` cycles over
        ``total_steps``, rising over the first ``ratio`` of each).

    >>> KLSchedule("linear", warmup_steps=10)(5)
    0.5
    """

    kind: str = "linear"
    warmup_steps: int = 0
    total_steps: int = 0
    cycles: int = 4
    ratio: float = 0.5

    @classmethod
    def from_config(cls, config: TrainConfig, steps_per_epoch: int) -> KLSchedule:
        """The schedule ``config`` asks for, counted in optimizer steps."""
        return cls(kind=config.kl_schedule, warmup_steps=config.kl_warmup * steps_per_epoch,
                   total_steps=config.epochs * steps_per_epoch, cycles=config.kl_cycles,
                   ratio=config.kl_ratio)

    def __call__(self, step: int) -> float:
        return SCHEDULES[self.kind](step, self)


#: Below this KL (nats per example, summed over z) the posterior carries practically no information
#: about x: the decoder has learnt to ignore z ("posterior collapse", Bowman et al. 2016).
COLLAPSE_NATS = 0.1


def kl_collapse(history: list[dict[str, float]], nats: float = COLLAPSE_NATS) -> int | None:
    """The epoch from which the KL stayed collapsed: the first of the run of final epochs whose
    training KL is below ``nats`` (with a positive KL weight), from per-epoch records with ``epoch``,
    ``train_kl`` and ``kl_weight`` (the lines of metrics.jsonl). None if the last epoch's KL is
    above ``nats``: a KL that dips early and recovers is not a collapse.

    >>> kl_collapse([{"epoch": 1, "train_kl": 5.0}, {"epoch": 2, "train_kl": 0.01},
    ...              {"epoch": 3, "train_kl": 0.02}])
    2
    """
    first = None
    for record in history:
        low = record.get("train_kl", math.inf) < nats
        if low and record.get("kl_weight", 1.0) > 0:
            first = first if first is not None else int(record["epoch"])
        elif not low:
            first = None
    return first


def iwae_bound(log_weights: Tensor) -> Tensor:
    """The importance-weighted bound log (1/K) sum_k w_k from K log-weights per example.

    Burda et al. 2016 ("Importance weighted autoencoders", eq. 8): with
    log w_k = log p(x, z_k) - log q(z_k|x) and z_k ~ q(z|x), the bound is <= log p(x), equals the
    ELBO in expectation for K = 1, and does not decrease as K grows. Computed as a log-sum-exp, so it
    is exact for log-weights of any magnitude.

    Parameters
    ----------
    log_weights : (K, B) tensor, K importance samples for each of B examples.

    Returns
    -------
    (B,) tensor in nats.

    >>> iwae_bound(torch.zeros(10, 3))
    tensor([0., 0., 0.])
    """
    return torch.logsumexp(log_weights, dim=0) - math.log(log_weights.shape[0])
