"""``evaluate``: every number of :mod:`vaelab.metrics` and :mod:`vaelab.fidelity` for one model on
one split of a dataset, as one typed :class:`Evaluation`.

Likelihoods are scored on :func:`vaelab.metrics.prepared` data (one fixed binarization for models
trained with ``binarize="dynamic"``). Sample quality is measured in the feature space of a small
classifier trained on the dataset's labels (:mod:`vaelab.classifier`), since no pretrained Inception
network is available offline: the Fréchet distance of samples, of reconstructions, and of the
training set itself (the floor any model can reach with this many rows) to the evaluated split, and
the k-NN precision and recall of samples.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import torch

from vaelab import latent
from vaelab._batching import map_batches
from vaelab._checks import check_int
from vaelab.data import Dataset
from vaelab.evaluation import fidelity, metrics
from vaelab.evaluation.classifier import FeatureClassifier, features
from vaelab.latent.codes import reconstruct_all
from vaelab.latent.samplers import GMMSampler
from vaelab.models import Autoencoder

#: neighbours that define each point's ball for precision and recall (Kynkäänniemi et al. 2019)
PR_NEIGHBOURS = 3


@dataclass(frozen=True)
class Evaluation:
    """The numbers of :func:`evaluate`. Likelihoods are nats per example (summed over the data
    dimensions); a field is ``None`` when it does not apply (an AE has no ELBO; unlabeled data have
    no classifier) and ``notes`` says why.

    n : rows evaluated.  split : which split of ``data``.
    neg_elbo, rec, kl : -ELBO and its two terms, from the same ``iwae_k`` posterior samples per
        example as ``nll_iwae`` (one sample when ``iwae_k`` is 0), so that ``nll_iwae <= neg_elbo``
        (:func:`vaelab.evaluation.metrics.bounds`). For an AE, ``rec`` is -log p(x | code) and the
        others are None.
    nll_iwae : -log p(x) estimated with ``iwae_k`` importance samples (Burda et al. 2016).
    neg_elbo_se, nll_iwae_se : standard errors of those two means over the rows (standard
        deviation / sqrt(n)); None for a single row. On a few rows they are large.
    bits_per_dim : ``nll_iwae`` in bits per data dimension.
    exact_likelihood : False when a Bernoulli likelihood scores grey levels, where the "likelihoods"
        are cross-entropies, not densities of the data.
    active_units, kl_per_dim : latent health (Burda et al. 2016); KL per dimension in nats, in closed
        form (its sum is ``kl`` up to Monte Carlo error).
    fd_samples, fd_recon, fd_floor : Fréchet distances to the split's features of samples, of
        reconstructions, and of as many training rows (the floor).
    precision, recall : k-NN precision and recall of samples against the split.
    probe_accuracy : logistic regression on the training codes, scored on the split's codes.
    classifier_accuracy : test accuracy of the feature classifier.
    label_accuracy : a label-conditioned model (cvae): the share of its samples, drawn for the split's
        labels, that the feature classifier labels as the class they were drawn for.
    token_accuracy, nll_per_step, neg_elbo_per_step, baselines : music (melody models): the share
        of tokens a greedy reconstruction gets right; the NLL and -ELBO per token; and
        ``{"unigram" | "repeat": {"nll_per_step", "accuracy"}}`` of the next-token baselines
        (:mod:`vaelab.evaluation_music`).
    harmony : music (harmonizers): ``{"model" | "baseline" | "bach": score}`` with the fields of
        :class:`vaelab.harmony.HarmonyScore`.
    seconds : wall-clock time of each part.
    """

    n: int
    split: str
    iwae_k: int
    neg_elbo: float | None = None
    neg_elbo_se: float | None = None
    rec: float | None = None
    kl: float | None = None
    nll_iwae: float | None = None
    nll_iwae_se: float | None = None
    bits_per_dim: float | None = None
    exact_likelihood: bool = True
    active_units: int | None = None
    kl_per_dim: list[float] | None = None
    fd_samples: float | None = None
    fd_recon: float | None = None
    fd_floor: float | None = None
    precision: float | None = None
    recall: float | None = None
    probe_accuracy: float | None = None
    classifier_accuracy: float | None = None
    label_accuracy: float | None = None
    token_accuracy: float | None = None
    nll_per_step: float | None = None
    neg_elbo_per_step: float | None = None
    baselines: dict[str, dict[str, float]] | None = None
    harmony: dict[str, dict[str, float]] | None = None
    notes: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict with every field."""
        return asdict(self)


class _Clock:
    """Times the parts of an evaluation."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def __call__(self, name: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        out = fn(*args, **kwargs)
        self.seconds[name] = round(time.perf_counter() - start, 3)
        return out


def evaluate(model: Autoencoder, data: Dataset, split: Literal["train", "test", "all"] = "test", *,
             iwae_k: int = 1000, classifier: FeatureClassifier | None = None,
             sampler: Literal["prior"] | GMMSampler = "prior", limit: int | None = None, seed: int = 0,
             progress: bool = False) -> Evaluation:
    """Evaluate ``model`` on a split of ``data``.

    Parameters
    ----------
    model : a trained model; it is put in evaluation mode.
    data : the dataset; its training rows serve the linear probe and the Fréchet floor.
    split : the rows to evaluate.
    iwae_k : importance samples per example for ``nll_iwae`` and the -ELBO beside it; 0 skips the
        estimate, and the -ELBO comes from one sample per example.
    classifier : feature network for the Fréchet distances and precision/recall, e.g. from
        :func:`vaelab.classifier.feature_classifier`; None skips them.
    sampler : where samples come from: ``"prior"`` or a :class:`GMMSampler` (which lets an AE be
        scored too).
    limit : evaluate only the first ``limit`` rows of the split.
    seed : seeds the binarization, the posterior samples, the samples and the floor's rows.

    >>> ev = evaluate(vae, data, iwae_k=1000, classifier=feature_classifier(data)[0])
    >>> ev.nll_iwae, ev.fd_samples
    """
    check_int(iwae_k, "iwae_k", 0, what=" (importance samples; 0 skips the estimate)")
    x_raw, y = data.split(split)
    if limit is not None:
        check_int(limit, "limit", 1)
        x_raw, y = x_raw[:limit], None if y is None else y[:limit]
    if tuple(model.config.input_shape) != tuple(data.info.shape):
        raise ValueError(f"the model takes examples of shape {tuple(model.config.input_shape)} but "
                         f"{data.info.name} has shape {tuple(data.info.shape)}")
    model.eval()
    clock, notes, out = _Clock(), [], {}
    if model.conditional and y is None:
        raise ValueError(f"{type(model).__name__} is conditional: {data.info.name} needs the labels or "
                         "condition columns it was trained with")
    cond = y if model.conditional else None  # what a conditional model is given with x
    x = clock("prepare", metrics.prepared, model, x_raw, seed)
    out["exact_likelihood"] = metrics.is_exact_likelihood(model, x)
    if not out["exact_likelihood"]:
        notes.append("the Bernoulli likelihood scores grey levels here, so its log-probabilities are "
                     "cross-entropies, not likelihoods; train with binarize='dynamic' for likelihoods")
    if model.variational:
        b = clock("likelihood", metrics.bounds, model, x, cond, k=max(iwae_k, 1), seed=seed,
                  progress=progress)
        out.update(neg_elbo=float(b.neg_elbo.mean()), neg_elbo_se=metrics.standard_error(b.neg_elbo),
                   rec=float(b.rec.mean()), kl=float(b.kl.mean()))
        out["kl_per_dim"] = [float(v) for v in clock("kl_per_dim", metrics.kl_per_dimension, model, x,
                                                     y=cond)]
        if iwae_k:
            nll = float(b.nll.mean())
            out.update(nll_iwae=nll, nll_iwae_se=metrics.standard_error(b.nll),
                       bits_per_dim=metrics.bits_per_dim(nll, int(np.prod(x.shape[1:]))))
    else:
        out["rec"] = float(clock("rec", metrics.reconstruction_error, model, x, cond).mean())
        notes.append(f"{type(model).__name__} has no posterior, so it has no ELBO, likelihood or KL; "
                     "rec is -log p(x | code)")
    if len(x) >= 2:
        out["active_units"] = clock("active_units", metrics.active_units, model, x, y=cond)
    if y is not None and data.labels is not None:
        out["probe_accuracy"] = clock("probe", metrics.probe_accuracy, model, data.x_train, data.y_train,
                                      x_raw, y)
    if data.info.kind == "sequence":
        from vaelab.evaluation.music import sequence_scores  # music only

        out.update(clock("music", sequence_scores, model, data, x, seed, out.get("nll_iwae"),
                         out.get("neg_elbo")))
    if classifier is not None:
        out.update(clock("fidelity", _fidelity, model, data, x_raw, cond, classifier, sampler, seed, notes))
    return Evaluation(n=len(x), split=split, iwae_k=iwae_k if out.get("nll_iwae") is not None else 0,
                      notes=notes, seconds=clock.seconds, **out)


@torch.no_grad()
def _fidelity(model: Autoencoder, data: Dataset, x: np.ndarray, cond: np.ndarray | None,
              classifier: FeatureClassifier, sampler: Literal["prior"] | GMMSampler, seed: int,
              notes: list[str]) -> dict[str, Any]:
    """Fréchet distances and precision/recall in the classifier's feature space, on raw (not
    binarized) rows ``x`` (N, *shape): a decoder's means are grey levels, so they are compared with
    grey levels. A conditional model gets the rows' conditions ``cond``, and draws its samples for
    them, so that samples and data have the same mix of classes."""
    n = len(x)
    out: dict[str, Any] = {"classifier_accuracy": classifier.meta.get("test_accuracy")}
    if n < 2:
        notes.append("Fréchet distances need at least 2 rows")
        return out
    real = features(classifier, x)
    y = None if cond is None else torch.as_tensor(cond, device=model.device)
    recon = reconstruct_all(model, x, y).cpu()
    out["fd_recon"] = fidelity.frechet_distance(features(classifier, recon), real)
    rng = np.random.default_rng(seed)
    train = data.x_train[np.sort(rng.choice(len(data.x_train), min(n, len(data.x_train)), replace=False))]
    out["fd_floor"] = fidelity.frechet_distance(features(classifier, train), real)
    if not model.generative and not isinstance(sampler, GMMSampler):
        notes.append(f"{type(model).__name__} has no prior to sample from; pass a GMM sampler to "
                     "score its samples")
        return out
    generator = torch.Generator(device=model.device).manual_seed(seed)
    samples = latent.sample(model, n, generator=generator, sampler=sampler, y=y).cpu()
    fake = features(classifier, samples)
    out["fd_samples"] = fidelity.frechet_distance(fake, real)
    if model.conditional and model.config.condition == "label":
        predicted = map_batches(lambda xb: classifier(xb).argmax(1).cpu(), samples, device=classifier.device)
        out["label_accuracy"] = float((predicted == torch.as_tensor(cond)).float().mean())
    if n > PR_NEIGHBOURS:
        out["precision"], out["recall"] = fidelity.precision_recall(real, fake, k=PR_NEIGHBOURS)
    return out
