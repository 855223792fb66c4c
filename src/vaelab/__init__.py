"""vaelab: autoencoders and variational autoencoders in PyTorch.

The public API in five verbs::

    import vaelab
    data = vaelab.load_dataset("digits")                       # arrays in the data's own units
    model = vaelab.build_model(data=data, model="vae", latent_dim=8)
    vaelab.fit(model, data.x_train, config=vaelab.TrainConfig(epochs=20), run_dir="runs/digits")
    model = vaelab.load("runs/digits")                         # config.json + model.safetensors
    images = model.sample(16)                                  # (16, 1, 8, 8), grey levels 0..16

``vaelab.evaluate(model, data)`` scores a model (:mod:`vaelab.evaluation`). Conditional and
denoising models are the same verbs with ``y`` and ``noise``. Beyond the verbs: ``vaelab.latent``
(sampling, interpolation, attribute vectors, traversals, GMM samplers), ``vaelab.losses``,
``vaelab.noise``, ``vaelab.plots`` (figures, returned and never saved), ``vaelab.anomaly``,
``vaelab.estimators`` (scikit-learn) and ``vaelab.music``.

Every name is imported on first use, so ``import vaelab`` is quick and loads neither torch,
matplotlib nor music21 until a name that needs them is touched.
"""

from __future__ import annotations

import importlib
import warnings
from typing import TYPE_CHECKING, Any

from vaelab import _deprecated
from vaelab._version import __version__

if TYPE_CHECKING:  # what the lazy names below resolve to, for type checkers and editors
    from vaelab import anomaly, latent, losses, music, noise, plots
    from vaelab.config import DataConfig, ModelConfig, TrainConfig
    from vaelab.data import DataInfo, Dataset, load_dataset
    from vaelab.distributed import resolve_device
    from vaelab.evaluation import Evaluation, classifier, evaluate, fidelity, metrics
    from vaelab.models import AE, CVAE, DAE, VAE, Autoencoder, Losses, build_model
    from vaelab.models.base import load
    from vaelab.run import RunDir
    from vaelab.training import FitResult, NonFiniteLossError, fit

#: public name -> (module, attribute in it; None for the module itself)
_LAZY: dict[str, tuple[str, str | None]] = {
    "AE": ("vaelab.models", "AE"),
    "CVAE": ("vaelab.models", "CVAE"),
    "DAE": ("vaelab.models", "DAE"),
    "VAE": ("vaelab.models", "VAE"),
    "Autoencoder": ("vaelab.models", "Autoencoder"),
    "Losses": ("vaelab.models", "Losses"),
    "build_model": ("vaelab.models", "build_model"),
    "load": ("vaelab.models.base", "load"),
    "DataConfig": ("vaelab.config", "DataConfig"),
    "ModelConfig": ("vaelab.config", "ModelConfig"),
    "TrainConfig": ("vaelab.config", "TrainConfig"),
    "DataInfo": ("vaelab.data", "DataInfo"),
    "Dataset": ("vaelab.data", "Dataset"),
    "load_dataset": ("vaelab.data", "load_dataset"),
    "RunDir": ("vaelab.run", "RunDir"),
    "FitResult": ("vaelab.training", "FitResult"),
    "NonFiniteLossError": ("vaelab.training", "NonFiniteLossError"),
    "fit": ("vaelab.training", "fit"),
    "resolve_device": ("vaelab.distributed", "resolve_device"),
    "Evaluation": ("vaelab.evaluation", "Evaluation"),
    "evaluate": ("vaelab.evaluation", "evaluate"),
    "metrics": ("vaelab.evaluation.metrics", None),
    "fidelity": ("vaelab.evaluation.fidelity", None),
    "classifier": ("vaelab.evaluation.classifier", None),
    **{name: (f"vaelab.{name}", None) for name in (
        "anomaly", "data", "estimators", "evaluation", "export", "latent", "losses", "models", "music",
        "noise", "plots", "report", "run", "training")},
}

__all__ = sorted([*_LAZY, "__version__"])


def __getattr__(name: str) -> Any:
    if name in _deprecated.NAMES:  # an old top-level name: say where it lives now
        new = _deprecated.NAMES[name]
        warnings.warn(f"vaelab.{name} is deprecated; use {new}", DeprecationWarning, stacklevel=2)
        return importlib.import_module(new)
    try:
        module, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'vaelab' has no attribute {name!r}") from None
    value = importlib.import_module(module)
    if attribute is not None:
        value = getattr(value, attribute)
    globals()[name] = value  # the next lookup is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


_deprecated.install()
