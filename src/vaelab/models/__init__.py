"""The models: one concept per file, all speaking the contract of :mod:`vaelab.models.base`, and
:func:`build_model`, which builds one for a dataset.

Importing this package registers the backbones, the likelihoods and the models in
:mod:`vaelab.registry`.
"""

import vaelab.distributions  # noqa: F401  (registers the likelihoods)
import vaelab.nn  # noqa: F401  (registers the backbones)
from vaelab.models.accompany import Accompany
from vaelab.models.ae import AE
from vaelab.models.base import Autoencoder, Losses
from vaelab.models.build import build_model, data_kinds, resolve_config
from vaelab.models.cvae import CVAE
from vaelab.models.dae import DAE
from vaelab.models.vae import VAE

__all__ = ["AE", "CVAE", "DAE", "VAE", "Accompany", "Autoencoder", "Losses", "build_model", "data_kinds",
           "resolve_config"]
