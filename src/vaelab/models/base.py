"""The contract every model speaks, and the parts all models share.

Every model takes data in the data's own units and gives them back in those units:

- ``encode(x, y=None)`` -> posterior object (VAE) or code tensor (AE)
- ``embed(x, y=None)`` -> (B, Z) deterministic code: the posterior mean, or the AE's code
- ``decode(z, y=None)`` -> likelihood object p(x|z) (``.mean``, ``.sample()``, ``.log_prob(x)``)
- ``loss(x, y=None, kl_weight=1.0)`` -> :class:`Losses`
- ``reconstruct(x, y=None)``, ``sample(n, y=None, generator=None)`` -> tensors in data units
- ``save(run_dir)``, ``Model.load(run_dir)``

Losses are in nats: summed over the data (and latent) dimensions of one example, averaged over
the batch. ``y`` (labels or conditions) is accepted everywhere so that conditional models share the
signatures: unconditional models ignore it, conditional ones (``conditional = True``) require it and
hand it to both networks through :class:`vaelab.nn.Condition`.

Denoising is a config value, not a model: with ``config.noise`` set, ``loss`` corrupts its input
(in training mode only) and scores the reconstruction against the clean data.
"""

from __future__ import annotations

import math
import os
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Self

import torch
from torch import Tensor, nn

from vaelab.config import AUTO, ModelConfig
from vaelab.data import DataInfo
from vaelab.distributions import DiagonalGaussian, Likelihood
from vaelab.nn.conditioning import Condition
from vaelab.nn.scaling import Scaler
from vaelab.noise import corrupt
from vaelab.registry import DECODERS, ENCODERS, LIKELIHOODS, MODELS, lookup
from vaelab.run import RunDir


@dataclass(frozen=True)
class Losses:
    """One batch's objective and its parts, each a scalar tensor in nats per example.

    total : what training minimizes (includes beta, free bits and the KL weight).
    rec : -E_q[log p(x|z)], the reconstruction term.
    kl : KL(q(z|x) || p(z)) as it is, without beta, free bits or weight; 0 for an AE.
    """

    total: Tensor
    rec: Tensor
    kl: Tensor

    def detach(self) -> Losses:
        return Losses(self.total.detach(), self.rec.detach(), self.kl.detach())


class Autoencoder(nn.Module, ABC):
    """Shared body of the models: encoder and decoder backbones from the registry, the likelihood,
    and the scaler that records how the data were scaled.

    Subclasses define how many numbers the encoder emits per latent dimension (``code_params``),
    ``encode``, ``embed``, ``loss`` and ``sample``.

    Parameters
    ----------
    config : a fully resolved :class:`ModelConfig` (no ``"auto"`` fields, ``input_shape`` set);
        :func:`vaelab.build_model` resolves one from data.
    """

    code_params: ClassVar[int] = 1
    #: whether ``sample`` can draw new data (a prior over codes exists)
    generative: ClassVar[bool] = True
    #: whether ``encode`` gives a posterior q(z|x), so that the model has an ELBO and a likelihood
    variational: ClassVar[bool] = True
    #: whether both networks take a condition y (labels or attribute columns), which is then required
    conditional: ClassVar[bool] = False
    #: whether the model writes voices under a given melody (``harmonize``; the accompany model)
    harmonizes: ClassVar[bool] = False
    #: what ``noise="auto"`` means for this model
    default_noise: ClassVar[str] = "none"

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        if not config.input_shape or AUTO in (config.arch, config.likelihood, config.free_bits) or \
                not config.hidden:
            raise ValueError(
                "the model config is not resolved (input_shape, arch, likelihood, free_bits, hidden); "
                "build models with vaelab.build_model(config, data)"
            )
        if self.conditional and (config.condition not in ("label", "columns") or config.n_conditions < 1):
            raise ValueError(
                f"a {type(self).__name__} needs a condition (labels or condition columns); build it with "
                "vaelab.build_model(config, data) on labeled data"
            )
        self.config = config
        #: the corruption applied to inputs in training (``"none"`` or ``KIND:LEVEL``)
        self.noise = self.default_noise if config.noise == AUTO else config.noise
        #: the training data's description (kind, shape, value range, columns, classes, ...), stored
        #: in config.json; None for a model built from a config alone.
        self.data_info: DataInfo | None = None
        #: SHA-256 of the weights file this model was loaded from or saved to (None for weights that
        #: live only in memory): what derived files (evaluation, GMM, report) record as their source
        self.weights_id: str | None = None
        self.condition = Condition(config) if config.condition in ("label", "columns") else None
        cond_dim = self.condition.dim if self.condition is not None else 0
        self.encoder = lookup(ENCODERS, config.arch, "arch")(
            config, out_dim=self.code_params * config.latent_dim, cond_dim=cond_dim
        )
        self.decoder = lookup(DECODERS, config.arch, "arch")(config, config.latent_dim,
                                                                    cond_dim=cond_dim)
        self.likelihood_cls: type[Likelihood] = lookup(LIKELIHOODS, config.likelihood, "likelihood")
        self.scaler = Scaler(config.input_shape, config.categories)
        if self.likelihood_cls.has_scale:
            log_sigma = torch.full(config.input_shape, math.log(config.sigma))
            if config.scale == "learned":
                self.log_sigma = nn.Parameter(log_sigma)
            else:
                self.register_buffer("log_sigma", log_sigma)
        else:
            self.log_sigma = None

    # -- the shared verbs -------------------------------------------------------------------

    def decode(self, z: Tensor, y: Tensor | None = None) -> Likelihood:
        """p(x|z) for codes ``z`` (B, Z); its ``mean`` and ``sample()`` are in data units."""
        log_sigma = None
        if self.log_sigma is not None:
            # A floor on the learned scale keeps the density finite on (near-)constant dimensions.
            log_sigma = self.log_sigma.clamp(min=-7.0)
        tables = {"categories": self.config.categories} if self.config.categories else {}
        return self.likelihood_cls(self.run(self.decoder, z, y), self.scaler.shift,
                                   self.scaler.scale, log_scale=log_sigma, **tables)

    def run(self, net: nn.Module, h: Tensor, y: Tensor | None) -> Tensor:
        """``net(h, c)`` with the condition of ``y``, or ``net(h)`` for an unconditional model, so
        that any plain module can serve as the encoder or decoder of an unconditional model."""
        c = self.conditioning(y)
        return net(h) if c is None else net(h, c)

    def conditioning(self, y: Tensor | None) -> Tensor | None:
        """The condition vector c (B, E) for ``y``, or None for an unconditional model (which
        ignores ``y``). A conditional model without ``y`` is an error naming what it needs."""
        if self.condition is None:
            return None
        if y is None:
            raise ValueError(f"this {type(self).__name__} is conditional: give {self.condition_help()}")
        return self.condition(y)

    def condition_help(self) -> str:
        """What a conditional model's ``y`` must be, with the known labels or columns, for errors."""
        info = self.data_info
        if self.config.condition == "columns":
            names = (info and info.condition_columns) or [f"c{i}" for i in range(self.config.n_conditions)]
            return f"conditions for the columns {', '.join(names)}"
        classes = (info and info.classes) or [str(i) for i in range(self.config.n_conditions)]
        numeric = any(name.strip().lstrip("+-").isdigit() for name in classes)  # ids would be ambiguous
        known = ", ".join(name if numeric else f"{i} ({name})" for i, name in enumerate(classes))
        return f"labels y, one of: {known}"

    def corrupt(self, x: Tensor, generator: torch.Generator | None = None,
                noise: str | None = None) -> Tensor:
        """``x`` (B, *shape) with the corruption ``noise`` (default: the model's training noise
        ``self.noise``) applied, clipped to the data's value range; ``x`` itself for ``"none"``.

        Levels are in units of the value range for images (whatever the likelihood, so that
        ``gaussian:0.3`` means the same on every image model) and of the scaler's units for tables
        (column standard deviations under the Gaussian likelihood). Categorical table columns are
        left as they are."""
        noise = self.noise if noise is None else noise
        if noise == "none":
            return x
        info = self.data_info
        vr = None if info is None else info.value_range
        shift, scale = self.scaler.shift, self.scaler.scale
        if info is not None and info.kind == "image" and vr[1] > vr[0]:
            shift, scale = torch.full_like(shift, vr[0]), torch.full_like(scale, vr[1] - vr[0])
        noisy = corrupt(x, noise, shift, scale, vr, generator)
        if self.config.categories:  # noise on category codes means nothing: keep them
            categorical = torch.tensor([k > 0 for k in self.config.categories], device=x.device)
            noisy = torch.where(categorical, x, noisy)
        return noisy

    def training_input(self, x: Tensor) -> Tensor:
        """What the encoder sees in ``loss``: the corrupted ``x`` in training mode, ``x`` in eval."""
        return self.corrupt(x) if self.training else x

    @torch.no_grad()
    def reconstruct(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """Mean of p(x|z) at the deterministic code of ``x``: (B, *shape) in data units.

        An inference verb: no gradients are tracked (``encode``/``decode`` stay differentiable)."""
        return self.decode(self.embed(x, y), y).mean

    def prepare(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """The data the likelihood is fitted to: ``x`` itself, or with ``binarize="dynamic"`` a fresh
        Bernoulli draw x ~ Bernoulli(u) of the normalized intensities, mapped back to data units."""
        if self.config.binarize != "dynamic":
            return x
        u = self.scaler.normalize(x).clamp(0.0, 1.0)
        return self.scaler.denormalize(torch.bernoulli(u, generator=generator))

    @abstractmethod
    def encode(self, x: Tensor, y: Tensor | None = None) -> Any:
        """Posterior q(z|x) (VAE) or code tensor (AE) for data-unit ``x`` (B, *shape)."""

    @abstractmethod
    def embed(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """Deterministic code of ``x``: (B, Z)."""

    @abstractmethod
    def loss(self, x: Tensor, y: Tensor | None = None, kl_weight: float = 1.0) -> Losses:
        """The training objective on one batch, with its parts."""

    @abstractmethod
    def sample(self, n: int, y: Tensor | None = None,
               generator: torch.Generator | None = None) -> Tensor:
        """``n`` new examples in data units, (n, *shape)."""

    def posterior(self, x: Tensor, y: Tensor | None = None, what: str = "posterior") -> DiagonalGaussian:
        """q(z|x) for ``x`` (B, *shape); a model without one (``variational = False``) raises an error
        saying that it has no ``what`` (e.g. "ELBO")."""
        if not self.variational:
            raise ValueError(f"{type(self).__name__} has no posterior q(z|x) (its encoder gives codes), "
                             f"so it has no {what}; use a VAE")
        return self.encode(x, y)

    def log_prob_at(self, z: Tensor, x: Tensor, y: Tensor | None = None) -> Tensor:
        """log p(x|z_s, y) in nats for S codes per example: ``z`` (S, B, Z), ``x`` (B, *shape) -> (S, B).

        The batch is repeated once per code, sample-major like ``z``, and decoded in one pass."""
        s, b = z.shape[:2]
        x_rep = x.unsqueeze(0).expand(s, *x.shape).reshape(s * b, *x.shape[1:])  # (S*B, *shape)
        y_rep = None if y is None else y.unsqueeze(0).expand(s, *y.shape).reshape(s * b, *y.shape[1:])
        return self.decode(z.reshape(s * b, -1), y_rep).log_prob(x_rep).reshape(s, b)  # (S*B,) -> (S, B)

    @property
    def device(self) -> torch.device:
        return self.scaler.shift.device

    @property
    def dtype(self) -> torch.dtype:
        """float32, or float64 for a model made double (the estimators score in float64)."""
        return self.scaler.shift.dtype

    # -- persistence ------------------------------------------------------------------------

    def save(self, run_dir: str | os.PathLike[str]) -> None:
        """Write ``config.json`` and ``model.safetensors`` into ``run_dir``, together as one commit
        that replaces a run there (the user's other files stay)."""
        run = RunDir(run_dir)
        weights = run.weights_bytes(self.state_dict())
        run.commit({RunDir.CONFIG: run.config_bytes(self.config, self.data_info), RunDir.WEIGHTS: weights},
                   fresh=True)
        self.weights_id = run.weights_id()

    @classmethod
    def load(cls, run_dir: str | os.PathLike[str], device: str | torch.device = "cpu") -> Self:
        """Rebuild a model from ``run_dir`` (config.json + model.safetensors); nothing is unpickled."""
        model = load(run_dir, device=device)
        if not isinstance(model, cls):
            raise ValueError(f"{run_dir} holds a {type(model).__name__}, not a {cls.__name__}")
        return model

    def extra_repr(self) -> str:
        c = self.config
        return f"arch={c.arch}, latent_dim={c.latent_dim}, likelihood={c.likelihood}"


def load(run_dir: str | os.PathLike[str], device: str | torch.device = "cpu") -> Autoencoder:
    """Rebuild the model in ``run_dir`` from config.json and load its weights strictly, in eval mode.

    Examples
    --------
    >>> model = vaelab.load("runs/demo")
    >>> model.sample(8).shape
    """
    run = RunDir(run_dir)
    config = run.read_config()
    try:
        model = lookup(MODELS, config.model.model, "model")(config.model)
    except ValueError as err:
        raise ValueError(f"{run.file(RunDir.CONFIG)}: {err}") from None
    model.data_info = config.data_info
    state, model.weights_id = run.read_weights(device="cpu")
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError:
        raise ValueError(f"{run.file(RunDir.WEIGHTS)} does not match {run.file(RunDir.CONFIG)}: "
                         f"{_mismatch(model.state_dict(), state)}") from None
    return model.to(device).eval()


def _mismatch(expected: dict[str, Tensor], found: dict[str, Tensor]) -> str:
    """What differs between the weights a config builds and the weights in a file, in a few words."""
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    shapes = [f"{k} is {tuple(found[k].shape)}, the config builds {tuple(v.shape)}"
              for k, v in expected.items() if k in found and found[k].shape != v.shape]

    def some(names: list[str]) -> str:
        return ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")

    parts = ([f"missing {some(missing)}"] if missing else []) + \
        ([f"unexpected {some(unexpected)}"] if unexpected else []) + shapes[:2]
    return "; ".join(parts) or "the tensors differ"

