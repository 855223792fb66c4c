"""Configuration dataclasses: what to build, how to train it, where the data come from.

Plain data with validation and nothing else: no I/O, no torch. Each class converts to and from a
JSON-able dict (``to_dict`` / ``from_dict``); ``from_dict`` rejects unknown keys so a typo in a
hand-edited ``config.json`` is an error rather than a silently ignored setting. Each field carries
its help text and when it takes effect (:func:`applicable`: no ``cell`` for a conv backbone).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, fields
from typing import Any, Self

from vaelab.registry import DECODERS, ENCODERS, LIKELIHOODS, MODELS, filled, lookup

AUTO = "auto"
BINARIZE = ("none", "dynamic")
SCALES = ("learned", "fixed")
ACTIVATIONS = ("relu", "silu", "gelu", "tanh", "elu")
DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("fp32", "bf16", "fp16")
#: the precision names of config.json files written before fp32/bf16/fp16 (vaelab 0.2 and older)
PRECISION_ALIASES = {"float32": "fp32", "bfloat16": "bf16"}
CONDITIONS = ("none", "label", "columns")
NOISES = ("gaussian", "mask", "saltpepper")
KL_SCHEDULES = ("linear", "cyclical")
CELLS = ("gru", "lstm")
VOICES = ("melody", "satb")


def parse_noise(text: str) -> tuple[str, float]:
    """``"gaussian:0.3"`` -> ``("gaussian", 0.3)``; ``"none"`` -> ``("none", 0.0)``.

    The level is a standard deviation (gaussian) or a fraction of the inputs (mask, saltpepper), so
    it must be >= 0, and a fraction at most 1.
    """
    allowed = "give none or KIND:LEVEL with KIND one of gaussian, mask, saltpepper, e.g. gaussian:0.3"
    if text == "none":
        return "none", 0.0
    kind, sep, level_text = str(text).partition(":")
    try:
        level = float(level_text)
    except ValueError:
        level = math.nan
    _check(sep == ":" and kind in NOISES and math.isfinite(level) and level >= 0, "noise", text, allowed)
    if kind != "gaussian":
        _check(level <= 1, "noise", text, f"{kind}'s level is the fraction of inputs hit, from 0 to 1")
    return kind, level


def parse_transpose(text: str) -> tuple[str, int]:
    """How music is transposed at load time: ``"none"`` -> ("none", 0); ``"common"`` (every piece
    into C major or A minor) -> ("common", 0); ``"augment:N"`` (N extra copies of every training
    window, each shifted by a random number of semitones that keeps it in range) -> ("augment", N).
    """
    allowed = "give none, common (every piece to C major / A minor) or augment:N (N random transpositions)"
    if text in ("none", "common"):
        return text, 0
    kind, sep, count = str(text).partition(":")
    _check(kind == "augment" and sep == ":" and count.isdigit() and int(count) >= 1, "transpose", text,
           allowed)
    return "augment", int(count)


def _check(ok: bool, name: str, value: Any, allowed: str) -> None:
    if not ok:
        raise ValueError(f"{name}={value!r} is not allowed; {allowed}")


def _from_dict(cls: type, data: dict[str, Any], section: str) -> Any:
    """Build dataclass ``cls`` from ``data``; unknown keys are an error, lists become tuples."""
    if not isinstance(data, dict):
        raise ValueError(f"config section {section!r} must be an object, got {type(data).__name__}")
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(
            f"config section {section!r} has unknown keys {unknown}; known keys: {sorted(known)}"
        )
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
    return cls(**values)


class _Config:
    """Mixin: dict round trip and ``replace``."""

    def to_dict(self) -> dict[str, Any]:
        return {
            k: list(v) if isinstance(v, tuple) else v
            for k, v in dataclasses.asdict(self).items()  # type: ignore[call-overload]
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        return _from_dict(cls, data, cls.__name__)

    def replace(self, **changes: Any) -> Self:
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]


def _field(default: Any, help: str, flag: bool = True, when: dict[str, tuple[Any, ...]] | None = None) -> Any:
    """A config field with its one description, ``help``, which the docstring and ``vaelab train
    --help`` both show; ``flag=False`` for fields set from the data (no command-line flag).

    ``when`` says for which models the field takes effect, as ``{setting: allowed values}`` over the
    settings of :func:`applicable` (e.g. ``{"arch": ("conv",)}``); every setting named must have
    one of its values. None: for every model."""
    return dataclasses.field(default=default, metadata={"help": help, "flag": flag, "when": when or {}})


def field_help(cls: type) -> dict[str, tuple[str, bool]]:
    """``{field name: (help, is a command-line flag)}`` of a config class, in field order."""
    return {f.name: (f.metadata["help"], f.metadata["flag"]) for f in fields(cls) if "help" in f.metadata}


def _document(cls: type) -> type:
    """Append a numpydoc Parameters section, built from the fields' help, to the class docstring."""
    lines = [f"    {name} : {text}" for name, (text, _) in field_help(cls).items()]
    cls.__doc__ = f"{cls.__doc__}\n\n    Parameters\n    ----------\n" + "\n".join(lines) + "\n"
    return cls


@_document
@dataclass(frozen=True)
class ModelConfig(_Config):
    """What to build.

    ``"auto"`` fields and ``input_shape`` are resolved from the data by :func:`vaelab.build_model`:
    conv backbone and Bernoulli likelihood for images, MLP and Gaussian for tables, the recurrent
    backbone and a Categorical likelihood for note tokens. Each field's meaning is its ``help``
    (listed below; ``vaelab train --help`` prints the same words); the fields marked "set from the
    data" are not command-line flags.
    """

    model: str = _field("vae", "the model: a name registered in vaelab.registry.MODELS: vae, ae, cvae "
                        "(conditional), dae (denoising) or accompany (chorale harmonizer: soprano -> alto, "
                        "tenor, bass)")
    arch: str = _field(AUTO, "the backbone (vaelab.registry.ENCODERS): mlp, conv, rnn, or auto (conv for "
                       "images, mlp for tables, rnn for music)")
    latent_dim: int = _field(16, "size of the code z")
    hidden: tuple[int, ...] = _field((), "widths of the dense layers in encoder order (the decoder "
                                     "mirrors them), or the state sizes of the recurrent layers for "
                                     "rnn; auto: 512,256 for mlp, 256 for conv, the recurrent default")
    channels: int = _field(32, "conv: channels of the first stride-2 layer; doubled per layer, capped at "
                           "8x", when={"arch": ("conv",)})
    activation: str = _field("relu", f"one of {', '.join(ACTIVATIONS)}", when={"arch": ("mlp", "conv")})
    likelihood: str = _field(AUTO, "p(x|z) (vaelab.registry.LIKELIHOODS): bernoulli (data in a known "
                             "range, read as probabilities), gaussian (data standardized by a stored "
                             "scaler), categorical (tokens), mixed (tables with categorical columns), "
                             "or auto")
    scale: str = _field("learned", "gaussian: a learned per-dimension scale, or one fixed at --sigma",
                        when={"has_scale": (True,)})
    sigma: float = _field(1.0, "gaussian: the scale in standardized units (the fixed value, or the "
                          "learned one's start)", when={"has_scale": (True,)})
    binarize: str = _field("none", "dynamic draws x ~ Bernoulli(pixel intensity) afresh for every "
                           "batch, the usual set-up for likelihoods on MNIST-like data (Salakhutdinov & "
                           "Murray 2008); none keeps grey levels", when={"likelihood": ("bernoulli",)})
    beta: float = _field(1.0, "weight of the KL term (beta-VAE, Higgins et al. 2017)",
                         when={"variational": (True,)})
    free_bits: float | str = _field(AUTO, "minimum KL per latent dimension in nats, averaged over the "
                                    "batch (Kingma et al. 2016); auto = 0.5 for sequence data, whose "
                                    "autoregressive decoders otherwise learn to ignore z (Bowman et al. "
                                    "2016; MusicVAE, Roberts et al. 2018 sec. 3.4), 0 otherwise",
                                    when={"variational": (True,)})
    logvar_limit: float = _field(10.0, "the posterior log-variance is clamped to [-limit, limit] for "
                                 "numerical stability", when={"variational": (True,)})
    noise: str = _field(AUTO, "corrupt the inputs in training (denoising, Vincent et al. 2008): none, "
                        "gaussian:S (additive, standard deviation S), mask:P (a fraction P set to the "
                        "bottom of the range for images, to the column mean for tables) or "
                        "saltpepper:P (a fraction P set to the minimum or maximum); levels are in units "
                        "of the value range for images and of column standard deviations for tables; "
                        "auto = gaussian:0.3 for dae, none otherwise")
    condition: str = _field(AUTO, "what a conditional model is conditioned on: label, columns or none; "
                            "set from the data", flag=False, when={"conditional": (True,)})
    n_conditions: int = _field(0, "number of classes or condition columns; set from the data", flag=False,
                               when={"conditional": (True,)})
    label_embedding: int = _field(0, "cvae: 0 = one-hot labels, N = a learned embedding of size N",
                                  when={"conditional": (True,), "condition": ("label",)})
    cell: str = _field("gru", "rnn: gru or lstm", when={"arch": ("rnn",)})
    n_tokens: int = _field(0, "size of the token vocabulary of sequence data (vaelab.data.tokens); set "
                           "from the data, 0 for images and tables", flag=False,
                           when={"likelihood": ("categorical",)})
    steps_per_bar: int = _field(0, "time steps in one bar of sequence data (16 for sixteenths in 4/4); "
                                "set from the data, 0 for images and tables", flag=False,
                                when={"likelihood": ("categorical",)})
    input_shape: tuple[int, ...] = _field((), "per-example data shape, (C, H, W), (D,), (T,) or (V, T); "
                                          "set from the data", flag=False)
    categories: tuple[int, ...] = _field((), "tables: per column, its number of categories (0 for a "
                                         "numeric column); set from the data", flag=False,
                                         when={"likelihood": ("mixed",)})

    def __post_init__(self) -> None:
        lookup(MODELS, self.model, "model")
        _check(self.arch == AUTO or self.arch in filled(ENCODERS), "arch", self.arch,
               f"choose from: auto, {', '.join(sorted(ENCODERS))}")
        if self.arch != AUTO:
            lookup(DECODERS, self.arch, "arch")
        _check(self.likelihood == AUTO or self.likelihood in filled(LIKELIHOODS), "likelihood",
               self.likelihood, f"choose from: auto, {', '.join(sorted(LIKELIHOODS))}")
        _check(isinstance(self.latent_dim, int) and self.latent_dim >= 1, "latent_dim",
               self.latent_dim, "it must be a positive integer")
        _check(all(isinstance(h, int) and h >= 1 for h in self.hidden), "hidden", self.hidden,
               "widths must be positive integers, e.g. 512,256")
        _check(isinstance(self.channels, int) and self.channels >= 1, "channels", self.channels,
               "it must be a positive integer")
        _check(self.activation in ACTIVATIONS, "activation", self.activation,
               f"choose from: {', '.join(ACTIVATIONS)}")
        _check(self.scale in SCALES, "scale", self.scale, f"choose from: {', '.join(SCALES)}")
        _check(math.isfinite(self.sigma) and self.sigma > 0, "sigma", self.sigma,
               "it must be a positive number")
        _check(self.binarize in BINARIZE, "binarize", self.binarize,
               f"choose from: {', '.join(BINARIZE)}")
        _check(math.isfinite(self.beta) and self.beta >= 0, "beta", self.beta,
               "it must be a number >= 0")
        _check(self.free_bits == AUTO or (isinstance(self.free_bits, int | float) and not isinstance(
            self.free_bits, bool) and math.isfinite(self.free_bits) and self.free_bits >= 0), "free_bits",
               self.free_bits, "it must be a number of nats >= 0, or auto")
        _check(math.isfinite(self.logvar_limit) and self.logvar_limit > 0, "logvar_limit",
               self.logvar_limit, "it must be a positive number")
        if self.noise != AUTO:
            parse_noise(self.noise)
        _check(self.condition in (AUTO, *CONDITIONS), "condition", self.condition,
               f"choose from: auto, {', '.join(CONDITIONS)}")
        _check(isinstance(self.n_conditions, int) and self.n_conditions >= 0, "n_conditions",
               self.n_conditions, "it must be an integer >= 0")
        _check(isinstance(self.label_embedding, int) and self.label_embedding >= 0, "label_embedding",
               self.label_embedding, "give 0 for one-hot labels or the size of a learned embedding")
        _check(self.cell in CELLS, "cell", self.cell, f"choose from: {', '.join(CELLS)}")
        _check(isinstance(self.n_tokens, int) and self.n_tokens >= 0, "n_tokens", self.n_tokens,
               "it must be an integer >= 0 (set from the data)")
        _check(isinstance(self.steps_per_bar, int) and self.steps_per_bar >= 0, "steps_per_bar",
               self.steps_per_bar, "it must be an integer >= 0 (set from the data)")
        _check(all(isinstance(s, int) and s >= 1 for s in self.input_shape), "input_shape",
               self.input_shape, "sizes must be positive integers")
        per_column = not self.categories or not self.input_shape or \
            len(self.categories) == math.prod(self.input_shape)
        _check(all(isinstance(k, int) and k >= 0 for k in self.categories) and per_column, "categories",
               self.categories, "give one count per table column, 0 for numeric ones (set from the data)")
        if self.binarize == "dynamic" and self.likelihood not in (AUTO, "bernoulli"):
            raise ValueError(
                f"binarize='dynamic' needs likelihood='bernoulli', got {self.likelihood!r}"
            )


@_document
@dataclass(frozen=True)
class TrainConfig(_Config):
    """How to train: the settings of :func:`vaelab.fit`. Each field's meaning is its ``help``
    (listed below; ``vaelab train --help`` prints the same words)."""

    epochs: int = _field(30, "passes over the training rows")
    batch_size: int = _field(128, "examples per optimizer step")
    lr: float = _field(1e-3, "Adam's learning rate")
    weight_decay: float = _field(0.0, "Adam's weight decay (L2 on the gradient)")
    grad_clip: float = _field(1000.0, "clip the global gradient norm to this value; 0 = off. The default "
                              "only catches spikes: the built-in data train with norms of about 3 "
                              "(digits) to 200 (Fashion-MNIST)")
    kl_schedule: str = _field("linear", "how the KL weight moves: linear warm-up from 0 to 1 over "
                              "--kl-warmup epochs (Bowman et al. 2016; 1 throughout when it is 0), or "
                              "cyclical annealing (Fu et al. 2019): --kl-cycles cycles over the run, each "
                              "rising from 0 to 1 over its first --kl-ratio share, then 1",
                              when={"variational": (True,)})
    kl_warmup: int = _field(0, "epochs of the linear KL warm-up",
                            when={"variational": (True,), "kl_schedule": ("linear",)})
    kl_cycles: int = _field(4, "cyclical: number of cycles over the run",
                            when={"variational": (True,), "kl_schedule": ("cyclical",)})
    kl_ratio: float = _field(0.5, "cyclical: share of each cycle spent rising from 0 to 1",
                             when={"variational": (True,), "kl_schedule": ("cyclical",)})
    val_fraction: float = _field(0.1, "share of the training rows held out to report validation loss "
                                 "and pick the best epoch; 0 trains on every row and keeps the last epoch")
    patience: int = _field(0, "stop after this many epochs without a better validation loss; 0 = never")
    seed: int = _field(0, "seeds the weights, the shuffling, the validation split and every random "
                       "draw of training")
    device: str = _field("auto", "auto (CUDA, then MPS, then CPU), cpu, cuda or mps", flag=False)
    precision: str = _field("fp32", "fp32, bf16 (bfloat16 autocast; fast on GPUs and on CPUs with bf16 "
                            "units) or fp16 (float16 autocast with a gradient scaler; CUDA only). The "
                            "weights, the losses and the likelihoods stay in float32")
    compile: bool = _field(False, "compile the loss with torch.compile (fuses elementwise work; costs tens "
                           "of seconds up front, so it pays off on long runs; needs a C++ compiler on CPU)")

    def __post_init__(self) -> None:
        _check(isinstance(self.compile, bool), "compile", self.compile, "it must be true or false")
        _check(isinstance(self.epochs, int) and self.epochs >= 1, "epochs", self.epochs,
               "it must be a positive integer")
        _check(isinstance(self.batch_size, int) and self.batch_size >= 1, "batch_size",
               self.batch_size, "it must be a positive integer")
        _check(math.isfinite(self.lr) and self.lr > 0, "lr", self.lr, "it must be > 0")
        _check(math.isfinite(self.weight_decay) and self.weight_decay >= 0, "weight_decay",
               self.weight_decay, "it must be >= 0")
        _check(math.isfinite(self.grad_clip) and self.grad_clip >= 0, "grad_clip",
               self.grad_clip, "it must be >= 0 (0 turns clipping off)")
        _check(isinstance(self.kl_warmup, int) and self.kl_warmup >= 0, "kl_warmup",
               self.kl_warmup, "it must be a number of epochs >= 0")
        _check(self.kl_schedule in KL_SCHEDULES, "kl_schedule", self.kl_schedule,
               f"choose from: {', '.join(KL_SCHEDULES)}")
        _check(isinstance(self.kl_cycles, int) and self.kl_cycles >= 1, "kl_cycles",
               self.kl_cycles, "it must be a positive integer")
        _check(isinstance(self.kl_ratio, int | float) and 0 < self.kl_ratio <= 1, "kl_ratio",
               self.kl_ratio, "it must be in (0, 1]: the share of each cycle spent rising")
        _check(0 <= self.val_fraction < 1, "val_fraction", self.val_fraction,
               "it must be in [0, 1)")
        _check(isinstance(self.patience, int) and self.patience >= 0, "patience",
               self.patience, "it must be a number of epochs >= 0 (0 never stops early)")
        _check(isinstance(self.seed, int), "seed", self.seed, "it must be an integer")
        _check(self.device in DEVICES, "device", self.device, f"choose from: {', '.join(DEVICES)}")
        if isinstance(self.precision, str):
            object.__setattr__(self, "precision", PRECISION_ALIASES.get(self.precision, self.precision))
        _check(self.precision in PRECISIONS, "precision", self.precision,
               f"choose from: {', '.join(PRECISIONS)}")


def _settings(model: ModelConfig, config: _Config) -> dict[str, Any]:
    """What a field's ``when`` may name: the fields of ``model`` and of ``config``, and what the
    model and likelihood classes declare: ``variational`` (a posterior, hence an ELBO and a KL),
    ``conditional`` (takes labels or condition columns) and ``has_scale`` (a Gaussian scale)."""
    model_cls = lookup(MODELS, model.model, "model")
    likelihood = None if model.likelihood == AUTO else lookup(LIKELIHOODS, model.likelihood, "likelihood")
    return {**model.to_dict(), **config.to_dict(), "variational": model_cls.variational,
            "conditional": model_cls.conditional,
            "has_scale": AUTO if likelihood is None else likelihood.has_scale}


def applicable(config: ModelConfig | TrainConfig, model: ModelConfig) -> dict[str, Any]:
    """``config.to_dict()`` without the fields that take no effect on the model ``model`` describes,
    by each field's ``when``: ``channels`` only for the conv backbone, ``cell`` only for the
    recurrent one, ``beta`` and the KL schedule only for a model with a posterior, ``n_tokens``
    only for token data, ... A setting still ``"auto"`` may become any value, so it hides nothing.

    >>> ae = ModelConfig(model="ae", arch="mlp", likelihood="bernoulli")
    >>> "beta" in applicable(ae, ae), "kl_warmup" in applicable(TrainConfig(), ae)
    (False, False)
    """
    settings = _settings(model, config)

    def takes_effect(when: dict[str, tuple[Any, ...]]) -> bool:
        return all(settings[name] == AUTO or settings[name] in allowed for name, allowed in when.items())

    return {f.name: value for f, value in zip(fields(config), config.to_dict().values(), strict=True)
            if takes_effect(f.metadata["when"])}



@dataclass(frozen=True)
class DataConfig(_Config):
    """Where the data come from: the arguments of :func:`vaelab.load_dataset`, kept in the run
    directory so that ``vaelab train --resume`` and the other commands can load the same data.

    ``window``, ``stride``, ``transpose`` and ``voices`` apply to music (built-in ``chorales`` and
    ``folk``, MIDI files and folders); ``limit`` keeps the first N training rows of any data.
    """

    spec: str = "digits"
    data_dir: str | None = None
    label_column: str | None = None
    condition_columns: tuple[str, ...] | None = None
    categorical_columns: tuple[str, ...] | None = None
    image_size: tuple[int, ...] | None = None
    test_fraction: float = 0.2
    seed: int = 0
    window: int | None = None
    stride: int | None = None
    transpose: str | None = None
    voices: str | None = None
    limit: int | None = None

    def __post_init__(self) -> None:
        _check(isinstance(self.spec, str) and self.spec != "", "data", self.spec,
               "give a built-in name or a path")
        _check(0 < self.test_fraction < 1, "test_fraction", self.test_fraction,
               "it must be in (0, 1)")
        if self.image_size is not None:
            _check(len(self.image_size) == 2 and all(s >= 1 for s in self.image_size),
                   "image_size", self.image_size, "give HEIGHT,WIDTH or one size for squares")
        for name in ("window", "stride", "limit"):
            value = getattr(self, name)
            _check(value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 1),
                   name, value, "it must be a positive integer")
        if self.voices is not None:
            _check(self.voices in VOICES, "voices", self.voices, f"choose from: {', '.join(VOICES)}")
        if self.transpose is not None:
            parse_transpose(self.transpose)

    def load_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for :func:`vaelab.load_dataset` (besides the spec)."""
        return {
            "data_dir": self.data_dir,
            "label_column": self.label_column,
            "condition_columns": self.condition_columns,
            "categorical_columns": self.categorical_columns,
            "image_size": self.image_size,
            "test_fraction": self.test_fraction,
            "seed": self.seed,
            "window": self.window,
            "stride": self.stride,
            "transpose": self.transpose,
            "voices": self.voices,
            "limit": self.limit,
        }
