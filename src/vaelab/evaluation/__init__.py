"""Measuring a trained model: :func:`evaluate` gathers every number for one split of a dataset.

- :mod:`~vaelab.evaluation.metrics`: likelihoods (-ELBO, importance-weighted NLL, bits/dim),
  reconstruction error, a linear probe;
- :mod:`~vaelab.evaluation.fidelity`: Fréchet distance and k-NN precision/recall of feature sets;
- :mod:`~vaelab.evaluation.classifier`: the feature network behind them, cached per dataset;
- :mod:`~vaelab.evaluation.music`: token accuracy, baselines and voice leading of music models.
"""

from vaelab.evaluation.evaluate import Evaluation, evaluate

__all__ = ["Evaluation", "evaluate"]
