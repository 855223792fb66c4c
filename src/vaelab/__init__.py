"""vaelab: autoencoders and variational autoencoders in PyTorch.

The public API in five verbs::

    import vaelab
    data = vaelab.load_dataset("digits")                       # arrays in the data's own units
    model = vaelab.build_model(data=data, model="vae", latent_dim=8)
    vaelab.fit(model, data.x_train, config=vaelab.TrainConfig(epochs=20), run_dir="runs/digits")
    model = vaelab.load("runs/digits")                         # config.json + model.safetensors
    images = model.sample(16)                                  # (16, 1, 8, 8), grey levels 0..16

``vaelab.evaluate(model, data)`` scores a model: -ELBO, importance-weighted NLL, bits/dim, active
units, a linear probe, and Fréchet distances in the features of a classifier trained on the labels
(``vaelab.metrics``, ``vaelab.fidelity``, ``vaelab.classifier``).

Conditional and denoising models are the same verbs with ``y`` and ``noise``::

    cvae = vaelab.build_model(data=data, model="cvae")         # encoder and decoder see the label
    vaelab.fit(cvae, data.x_train, data.y_train)
    sevens = cvae.sample(8, y=torch.full((8,), 7))
    dae = vaelab.build_model(data=data, model="dae", noise="gaussian:0.3")
    clean = dae.reconstruct(noisy_images)

Beyond the verbs: ``vaelab.latent`` (sampling with temperature or a GMM fitted to the codes,
interpolation, attribute vectors, traversals, restyling), ``vaelab.losses`` (KL schedules, free bits,
the IWAE bound), ``vaelab.noise`` (corruption, PSNR), ``vaelab.metrics``, ``vaelab.plots`` and
``vaelab.plots_latent`` (figures, returned and never saved).
"""

__version__ = "0.1.0"

from vaelab.config import DataConfig, ModelConfig, TrainConfig  # noqa: E402
from vaelab.data import Dataset, DataInfo, load_dataset  # noqa: E402
from vaelab.models import AE, CVAE, DAE, VAE, Autoencoder, Losses, build_model  # noqa: E402
from vaelab.checkpoint import load_model as load  # noqa: E402
from vaelab.training import FitResult, NonFiniteLossError, fit, resolve_device  # noqa: E402
from vaelab.evaluation import Evaluation, evaluate  # noqa: E402
from vaelab import classifier, fidelity, latent, losses, metrics, noise, plots, plots_latent  # noqa: E402

__all__ = [
    "AE",
    "CVAE",
    "DAE",
    "VAE",
    "Autoencoder",
    "DataConfig",
    "DataInfo",
    "Dataset",
    "Evaluation",
    "FitResult",
    "Losses",
    "ModelConfig",
    "NonFiniteLossError",
    "TrainConfig",
    "__version__",
    "build_model",
    "classifier",
    "evaluate",
    "fidelity",
    "fit",
    "latent",
    "load",
    "load_dataset",
    "losses",
    "metrics",
    "noise",
    "plots",
    "plots_latent",
    "resolve_device",
]
