"""Small distribution objects: the posterior q(z|x), the prior, and the output likelihoods p(x|z).

Importing this package registers the likelihoods (bernoulli, gaussian, categorical, mixed) in
:data:`vaelab.registry.LIKELIHOODS`.
"""

from vaelab.distributions.base import LOG_2PI, Likelihood
from vaelab.distributions.likelihoods import Bernoulli, Gaussian
from vaelab.distributions.posterior import DiagonalGaussian, standard_normal, standard_normal_log_prob
from vaelab.distributions.table import MixedTable
from vaelab.distributions.tokens import (
    Categorical,
    Generated,
    IndependentLogits,
    TokenDecoding,
    check_token_temperature,
    choose_tokens,
)

__all__ = ["LOG_2PI", "Bernoulli", "Categorical", "DiagonalGaussian", "Gaussian", "Generated",
           "IndependentLogits", "Likelihood", "MixedTable", "TokenDecoding", "check_token_temperature",
           "choose_tokens", "standard_normal", "standard_normal_log_prob"]
