"""Denoising autoencoder (Vincent et al. 2008, "Extracting and composing robust features with
denoising autoencoders")."""

from __future__ import annotations

from vaelab.models.ae import AE
from vaelab.registry import MODELS, register


@register(MODELS, "dae")
class DAE(AE):
    """An AE trained to rebuild the clean x from a corrupted copy: the loss is -log p(x | z(x~)),
    x~ = corrupt(x) drawn afresh each batch, in training mode only.

    The corruption is ``config.noise`` (see :mod:`vaelab.noise`), ``gaussian:0.3`` unless set;
    ``reconstruct`` on noisy data is the denoiser. Any model takes ``noise`` (a VAE with noise is
    a denoising VAE); this name says that denoising is the point.

    Examples
    --------
    >>> model = vaelab.build_model(data=data, model="dae", noise="mask:0.5")
    """

    default_noise = "gaussian:0.3"
