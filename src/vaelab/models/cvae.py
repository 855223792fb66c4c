"""Conditional VAE (Sohn, Lee & Yan 2015, "Learning structured output representation using deep
conditional generative models")."""

from __future__ import annotations

from vaelab.models.vae import VAE
from vaelab.registry import MODELS, register


@register(MODELS, "cvae")
class CVAE(VAE):
    """A VAE whose encoder and decoder both see a condition y: q(z|x, y) and p(x|z, y), with the
    prior p(z) = N(0, I) left unconditional. The loss is the VAE's negative ELBO of log p(x|y).

    y is a class label (B,) or a vector of attribute columns (B, A); how it enters the networks is
    :mod:`vaelab.nn.conditioning`. Because the label carries the class, z is free to carry the
    rest (style): decoding one code with every label gives the same style in every class.

    Examples
    --------
    >>> model = vaelab.build_model(data=vaelab.load_dataset("digits"), model="cvae")
    >>> sevens = model.sample(8, y=torch.full((8,), 7))   # (8, 1, 8, 8), digits asked to be 7
    """

    conditional = True
