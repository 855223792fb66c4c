"""The music part of :func:`vaelab.evaluate`: scores that only make sense for note tokens, each next
to simple baselines measured in the same call on the same rows.

Melody models (any model on sequence data): the share of tokens a greedy reconstruction from the
posterior mean gets right, and the per-step negative log-likelihood (the importance-weighted
estimate, or the -ELBO bound, divided by the number of tokens in an example), next to two
next-token baselines fitted on the training rows: the unigram model and "repeat the previous
token" (:mod:`vaelab.melody`).

Harmonizers (models with ``harmonize``): the test chorales' sopranos are harmonized and scored
with :func:`vaelab.harmony.score_harmony` against Bach's own alto, tenor and bass: per-voice
accuracy, SATB order, voice ranges and parallel fifths and octaves; the same for the baseline of
the most frequent harmonization of each soprano note, and for Bach's chorales themselves (the
reference the voice-leading numbers should approach).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import numpy as np
import torch

from vaelab._batching import map_batches
from vaelab.data import Dataset
from vaelab.latent.codes import reconstruct_all
from vaelab.models import Autoencoder
from vaelab.music import harmony, melody


@torch.no_grad()
def sequence_scores(model: Autoencoder, data: Dataset, x: np.ndarray, seed: int,
                    nll: float | None, neg_elbo: float | None) -> dict[str, Any]:
    """The music fields of :class:`vaelab.evaluation.Evaluation` for rows ``x`` (N, *shape) of
    ``data`` (tokens), given the model's mean NLL and -ELBO per example on them (or None)."""
    info = data.info
    if model.harmonizes:
        return {"harmony": harmony_scores(model, data, x, seed)}
    steps = int(np.prod(x.shape[1:]))  # tokens per example: T, or V * T
    n_tokens = int(info.value_range[1]) + 1
    baselines = {}
    for name, baseline in (("unigram", melody.UnigramBaseline()), ("repeat", melody.RepeatBaseline())):
        score = baseline.fit(data.x_train, n_tokens).score(x)
        baselines[name] = {"nll_per_step": score.nll_per_step, "accuracy": score.accuracy}
    recon = reconstruct_all(model, x).cpu().numpy()  # greedy, from the codes
    return {
        "token_accuracy": melody.token_accuracy(recon, x),
        "nll_per_step": None if nll is None else nll / steps,
        "neg_elbo_per_step": None if neg_elbo is None else neg_elbo / steps,
        "baselines": baselines,
    }


def harmony_scores(model: Autoencoder, data: Dataset, x: np.ndarray, seed: int) -> dict[str, dict]:
    """Voice-leading scores of the harmonizer, of the most-frequent baseline and of Bach on the
    chorale windows ``x`` (N, 4, T)."""
    pitch_range = tuple(data.info.pitch_range)
    spq = int(data.info.steps_per_quarter)
    generator = torch.Generator(device=model.device).manual_seed(seed)

    def harmonize(soprano: torch.Tensor) -> torch.Tensor:
        return model.harmonize(soprano, n_variations=1, temperature=0.0, generator=generator)[:, 0]

    made = map_batches(lambda s: harmonize(s).cpu(), x[:, 0], device=model.device).numpy()
    baseline = harmony.MostFrequentBaseline().fit(data.x_train, pitch_range).predict(x[:, 0])
    score = {name: asdict(harmony.score_harmony(h, x, pitch_range=pitch_range, steps_per_quarter=spq))
             for name, h in (("model", made), ("baseline", baseline), ("bach", x))}
    return {name: {k: float(v) for k, v in s.items()} for name, s in score.items()}
