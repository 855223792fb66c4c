""":func:`build_model`: resolve a config against data (the "auto" choices, the input shape, what a
conditional model is conditioned on) and fit the model's scaler to the training rows."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from vaelab.config import AUTO, ModelConfig
from vaelab.models.base import Autoencoder
from vaelab.models.dae import DAE
from vaelab.registry import ENCODERS, LIKELIHOODS, MODELS, lookup

# Defaults that depend on the kind of data: convolutions and a Bernoulli likelihood for images
# (intensities in a known range), an MLP and a standardized Gaussian for tables, the recurrent
# backbone and a categorical likelihood for note tokens.
KIND_DEFAULTS = {
    "image": {"arch": "conv", "likelihood": "bernoulli", "free_bits": 0.0},
    "table": {"arch": "mlp", "likelihood": "gaussian", "free_bits": 0.0},
    # An autoregressive decoder models the tokens well without z and lets the KL collapse to ~0;
    # half a nat of free bits per dimension keeps the code in use (measured: reconstruction token
    # accuracy 0.68 -> 0.82 on the chorales' sopranos at about the same NLL).
    "sequence": {"arch": "rnn", "likelihood": "categorical", "free_bits": 0.5},
}
ALL_KINDS = ("image", "table", "sequence")
#: what a backbone or likelihood without a ``data_kinds`` attribute takes: real-valued arrays
ARRAY_KINDS = ("image", "table")


def data_kinds(table: dict[str, Any], name: str) -> tuple[str, ...]:
    """The kinds of data the registered model, backbone or likelihood ``table[name]`` takes: its
    ``data_kinds`` attribute, else every kind for a model and images and tables for the others."""
    return getattr(table[name], "data_kinds", ALL_KINDS if table is MODELS else ARRAY_KINDS)


def _check_kinds(config: ModelConfig, info: Any, arch: str, likelihood: str, noise: str) -> None:
    """Reject a model, backbone or likelihood that does not take data of ``info.kind``
    (:func:`data_kinds`), and corruption or binarization of tokens."""
    for field, name, table in (("model", config.model, MODELS), ("arch", arch, ENCODERS),
                               ("likelihood", likelihood, LIKELIHOODS)):
        lookup(table, name, field)
        kinds = data_kinds(table, name)
        if info.kind not in kinds:
            allowed = sorted(n for n in table if info.kind in data_kinds(table, n))
            raise ValueError(f"{info.name}: {field}={name!r} takes {' or '.join(kinds)} data, not "
                             f"{info.kind} data; for {info.kind} data choose from: {', '.join(allowed)}")
    if info.kind == "sequence" and noise != "none":
        raise ValueError(f"{info.name}: noise={noise!r} is not allowed for sequence data (note tokens are "
                         "not corrupted); give noise='none' and train the vae, ae or accompany model")
    if info.kind == "sequence" and config.binarize != "none":
        raise ValueError(f"{info.name}: binarize={config.binarize!r} is not allowed for sequence data "
                         "(tokens are already discrete); give binarize='none'")


def _sequence_fields(info: Any) -> dict[str, int]:
    """``n_tokens`` (value range 0..K-1) and ``steps_per_bar`` (4/4 time) of sequence data; 0 else."""
    if info.kind != "sequence":
        return {"n_tokens": 0, "steps_per_bar": 0}
    return {"n_tokens": int(info.value_range[1]) + 1, "steps_per_bar": 4 * int(info.steps_per_quarter)}


def _condition(model_cls: type[Autoencoder], config: ModelConfig, info: Any) -> tuple[str, int]:
    """What a model of ``model_cls`` is conditioned on for data ``info``: (condition, n_conditions)."""
    if not model_cls.conditional:
        if config.condition not in (AUTO, "none"):
            raise ValueError(f"condition={config.condition!r} applies only to conditional models "
                             f"(cvae), not to {config.model!r}")
        return "none", 0
    found = ("columns", len(info.condition_columns)) if info.condition_columns else (
        ("label", len(info.classes)) if info.classes else None)
    if found is not None:
        if config.condition not in (AUTO, found[0]):
            raise ValueError(f"condition={config.condition!r} does not match the data: {info.name} gives "
                             f"{found[0]}s to condition on")
        return found
    raise ValueError(f"{info.name}: model {config.model!r} is conditional but the data have neither class "
                     "labels nor condition columns; use labeled data (--label-column for a CSV) or "
                     "--condition-columns")


def resolve_config(config: ModelConfig, info: Any) -> ModelConfig:
    """Fill the data-dependent fields of ``config`` from a :class:`vaelab.data.DataInfo`:
    ``input_shape``, ``"auto"`` arch/likelihood/noise, an empty ``hidden`` with the defaults, and
    for a conditional model what it is conditioned on."""
    model_cls = lookup(MODELS, config.model, "model")
    defaults = KIND_DEFAULTS[info.kind]
    arch = defaults["arch"] if config.arch == AUTO else config.arch
    likelihood = defaults["likelihood"] if config.likelihood == AUTO else config.likelihood
    hidden = config.hidden or lookup(ENCODERS, arch, "arch").default_hidden
    noise = model_cls.default_noise if config.noise == AUTO else config.noise
    free_bits = defaults["free_bits"] if config.free_bits == AUTO else config.free_bits
    _check_kinds(config, info, arch, likelihood, noise)
    if model_cls is DAE and noise == "none":
        raise ValueError("noise='none' turns the DAE into a plain AE; give KIND:LEVEL, e.g. gaussian:0.3, "
                         "mask:0.5 or saltpepper:0.1, or train the ae model")
    condition, n_conditions = _condition(model_cls, config, info)
    categories = tuple(len(c) for c in info.categories) if getattr(info, "categories", None) else ()
    if categories:
        likelihood = "mixed" if config.likelihood == AUTO else likelihood
        named = ", ".join(c for c, k in zip(info.columns, categories, strict=True) if k)
        if likelihood != "mixed" or arch != "mlp":
            raise ValueError(f"{info.name}: has categorical columns ({named}); they need likelihood='mixed' "
                             f"and arch='mlp', got likelihood={likelihood!r} and arch={arch!r}")
    return config.replace(input_shape=tuple(info.shape), arch=arch, likelihood=likelihood,
                          hidden=tuple(hidden), noise=noise, condition=condition,
                          n_conditions=n_conditions, free_bits=free_bits, categories=categories,
                          **_sequence_fields(info))


def build_model(config: ModelConfig | None = None, data: Any = None, *, seed: int | None = None,
                **overrides: Any) -> Autoencoder:
    """Build the model ``config.model`` for ``data`` (a :class:`vaelab.data.Dataset`).

    The data fix the input shape and the "auto" choices, and fit the scaler: a Bernoulli
    likelihood maps the data's value range to [0, 1]; a Gaussian standardizes with the training
    rows' per-channel (images) or per-column (tables) mean and standard deviation; note tokens are
    their own units (the scaler stays the identity) and must be token ids 0..n_tokens-1.

    Parameters
    ----------
    config : what to build; ``ModelConfig()`` if None.
    data : the training data; may be None only if ``config`` is already resolved.
    seed : seeds the weight initialization (inside a forked RNG, so the global random state is
        left as it was); None draws from the global RNG.
    **overrides : fields of ``config`` to change, e.g. ``latent_dim=2``.

    Examples
    --------
    >>> data = vaelab.load_dataset("digits")
    >>> model = vaelab.build_model(data=data, model="vae", latent_dim=8)
    """
    config = (config or ModelConfig()).replace(**overrides)
    if data is not None:
        config = resolve_config(config, data.info)
    model_cls = lookup(MODELS, config.model, "model")
    with torch.random.fork_rng(devices=[], enabled=seed is not None):
        if seed is not None:
            torch.manual_seed(seed)
        model: Autoencoder = model_cls(config)
    if data is not None:
        model.data_info = data.info
        if data.info.kind == "sequence":
            _check_tokens(data.info, data.x_train)  # tokens are their own units: identity scaler
        elif config.likelihood == "bernoulli":
            lo, hi = data.info.value_range
            x = data.x_train
            if float(np.min(x)) < lo or float(np.max(x)) > hi:
                raise ValueError(
                    f"{data.info.name}: the Bernoulli likelihood needs data inside the value range "
                    f"[{lo}, {hi}], found [{np.min(x)}, {np.max(x)}]; use likelihood='gaussian'"
                )
            model.scaler.set_range(lo, hi)
        else:
            model.scaler.fit_standardize(data.x_train)
        if model.condition is not None and data.y_train is not None:
            model.condition.fit(data.y_train)
    return model


def _check_tokens(info: Any, x: np.ndarray) -> None:
    """Token data must hold integer token ids in the value range 0..K-1."""
    hi = info.value_range[1]
    if len(x) and (float(np.min(x)) < 0 or float(np.max(x)) > hi or not np.array_equal(x, np.round(x))):
        raise ValueError(f"{info.name}: sequence data must hold token ids, integers from 0 to {hi:g}; found "
                         f"values in [{np.min(x)}, {np.max(x)}]")
