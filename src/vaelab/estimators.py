"""scikit-learn estimators around vaelab's table models: :class:`VAETransformer`,
:class:`AETransformer` and :class:`VAEAnomalyDetector`.

They take dense float arrays ``X`` (N, D) (or DataFrames), build a table :class:`vaelab.Dataset`
(Gaussian likelihood, MLP backbone, the model's scaler standardizes each column), train with
:func:`vaelab.fit` on every row (no validation split, seeded, no progress bar) and follow the
scikit-learn conventions: constructors only store their parameters, fitted state ends in ``_``,
``get_params``/``set_params``/``clone`` work, and ``Pipeline`` and ``GridSearchCV`` take them.

Every score is deterministic and row-wise: the Monte Carlo estimates of the ELBO and of log p(x)
use one fixed set of standard normal draws (``n_eval_samples`` of them, seeded by
``random_state``) shared by all rows, so a row's score does not depend on the other rows of ``X``
nor on their order.

>>> from vaelab.estimators import VAETransformer
>>> codes = VAETransformer(latent_dim=2, random_state=0).fit_transform(X)   # (N, 2)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, OutlierMixin, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from vaelab import anomaly
from vaelab._checks import check_int
from vaelab.config import TrainConfig
from vaelab.data import DataInfo, Dataset
from vaelab.latent.codes import decode_all, embed_all
from vaelab.models import build_model
from vaelab.training import fit

__all__ = ["AETransformer", "VAEAnomalyDetector", "VAETransformer"]

#: values of the estimators' ``scaling`` parameter
SCALINGS = ("column", "shared")
#: ``epochs="auto"`` trains for about this many optimizer steps ...
AUTO_STEPS = 5000
#: ... in at most this many passes over the data (small data sets overfit with more)
AUTO_MAX_EPOCHS = 200


def auto_epochs(n_rows: int, batch_size: int) -> int:
    """Passes over ``n_rows`` rows that give about :data:`AUTO_STEPS` optimizer steps of
    ``batch_size`` rows, between 1 and :data:`AUTO_MAX_EPOCHS`."""
    steps_per_epoch = math.ceil(n_rows / batch_size)
    return max(1, min(AUTO_MAX_EPOCHS, math.ceil(AUTO_STEPS / steps_per_epoch)))


class _TableModel(BaseEstimator):
    """Shared fit and inference of the three estimators (not public)."""

    _model_name = "vae"

    def __init__(self, latent_dim: int = 2, hidden: tuple[int, ...] = (64,), epochs: int | str = "auto",
                 batch_size: int = 16, lr: float = 1e-3, beta: float = 1.0, n_eval_samples: int = 16,
                 scaling: str = "column", random_state: Any = None, device: str = "cpu") -> None:
        self.latent_dim = latent_dim
        self.hidden = hidden
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.beta = beta
        self.n_eval_samples = n_eval_samples
        self.scaling = scaling
        self.random_state = random_state
        self.device = device

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False  # rejected by validate_data, as sklearn expects
        tags.input_tags.sparse = False
        tags.non_deterministic = False  # fixed by random_state
        return tags

    # -- fitting ---------------------------------------------------------------------------

    def _check_params(self) -> None:
        check_int(self.latent_dim, "latent_dim", 1)
        if not (isinstance(self.epochs, str) and self.epochs == "auto"):
            check_int(self.epochs, "epochs", 1, what=", or 'auto'")
        check_int(self.batch_size, "batch_size", 1)
        check_int(self.n_eval_samples, "n_eval_samples", 1)
        hidden = self.hidden
        if not isinstance(hidden, tuple | list) or not all(
                isinstance(h, int | np.integer) and not isinstance(h, bool) and h > 0 for h in hidden):
            raise ValueError(f"hidden={hidden!r} is not allowed; give a tuple of positive layer widths")
        if self.scaling not in SCALINGS:
            raise ValueError(f"scaling={self.scaling!r} is not allowed; allowed: {', '.join(SCALINGS)}")
        for name in ("lr", "beta"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                raise ValueError(f"{name}={value!r} is not allowed; it must be a finite number >= 0")

    def _fit_model(self, X: Any) -> np.ndarray:
        """Validate ``X`` (N, D), build and train the model; returns X as float64 (N, D)."""
        self._check_params()
        X = validate_data(self, X, dtype=[np.float64, np.float32], ensure_min_samples=1)
        x = np.array(X, dtype=np.float32)  # (N, D), an owned writable copy for torch
        n, d = x.shape
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        lo, hi = float(x.min()), float(x.max())
        info = DataInfo("estimator", "array", "table", (d,), (lo, hi),
                               columns=tuple(f"x{i}" for i in range(d)))
        # Dataset needs a non-empty test split; the estimator trains on every row, so row 0 is
        # reused as a one-row test split that nothing reads.
        data = Dataset.from_indices(info, x, None, np.arange(n), np.array([0]), keep_order=False)
        self.n_epochs_ = auto_epochs(n, int(self.batch_size)) if self.epochs == "auto" else int(self.epochs)
        config = TrainConfig(epochs=self.n_epochs_, batch_size=self.batch_size, lr=float(self.lr),
                                    val_fraction=0.0, seed=seed, device=self.device)
        # vaelab.fit seeds torch's global RNG; fork it so the caller's random state is left as it was.
        with torch.random.fork_rng(devices=[]):
            model = build_model(data=data, model=self._model_name, arch="mlp", likelihood="gaussian",
                                       latent_dim=int(self.latent_dim),
                                       hidden=tuple(int(h) for h in self.hidden),
                                       beta=float(self.beta), seed=seed)
            if self.scaling == "shared":
                model.scaler.fit_standardize(x, shared=True)
            fit(model, data.x_train, config=config)
        # Inference runs in float64: float32 matrix products change in the last bits with the batch
        # size, and a row's codes and scores must not depend on the other rows given with it.
        model.double().eval()
        self.model_ = model
        # (S, Z) standard normal draws shared by all rows: row-wise, repeatable Monte Carlo scores
        gen = torch.Generator().manual_seed(seed)
        self.eps_ = torch.randn(self.n_eval_samples, int(self.latent_dim), generator=gen,
                                dtype=torch.float64)
        return np.array(X, dtype=np.float64)

    # -- inference ---------------------------------------------------------------------------

    def _rows(self, X: Any) -> tuple[np.ndarray, np.dtype]:
        """Validated (N, D) float64 rows and the dtype to return results in."""
        check_is_fitted(self, "model_")
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        return np.array(X, dtype=np.float64), X.dtype

    def _codes(self, x: np.ndarray) -> np.ndarray:
        return embed_all(self.model_, x).cpu().numpy()

    def _decoded(self, z: np.ndarray) -> np.ndarray:
        return decode_all(self.model_, z).cpu().numpy()

    def _scores(self, x: np.ndarray, score: str) -> np.ndarray:
        """Anomaly scores (:func:`vaelab.anomaly.scores`, higher = more abnormal) of float64 rows
        (N, D), with the shared draws ``eps_``: float64 (N,) in nats."""
        return anomaly.scores(self.model_, torch.from_numpy(x), score=score, eps=self.eps_)


class _Transformer(TransformerMixin, _TableModel):
    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

    def fit(self, X: Any, y: Any = None) -> Any:
        """Train on the rows of ``X`` (N, D); ``y`` is ignored. Returns self."""
        self._fit_model(X)
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Codes of the rows of ``X`` (N, D): (N, latent_dim), in ``X``'s float dtype."""
        x, dtype = self._rows(X)
        return self._codes(x).astype(dtype, copy=False)

    def inverse_transform(self, X: Any) -> np.ndarray:
        """Decoded means of codes ``X`` (N, latent_dim), in the data's units: (N, n_features_in_)."""
        check_is_fitted(self, "model_")
        z = np.asarray(X)
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"codes have shape {z.shape}; allowed: (N, {self.latent_dim}), one code per row")
        dtype = z.dtype if z.dtype in (np.float32, np.float64) else np.float64
        return self._decoded(z).astype(dtype, copy=False)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Output names ``{classname}0..{classname}{latent_dim-1}`` (lower case)."""
        check_is_fitted(self, "model_")
        prefix = type(self).__name__.lower()
        return np.asarray([f"{prefix}{i}" for i in range(int(self.latent_dim))], dtype=object)


class VAETransformer(_Transformer):
    """A variational autoencoder as a scikit-learn transformer: ``transform`` gives the posterior
    means of q(z|x), ``inverse_transform`` decodes codes, ``score_samples`` the ELBO of each row.

    Parameters
    ----------
    latent_dim : int
        Size of the code z; ``transform`` returns (N, latent_dim).
    hidden : tuple of int
        Widths of the encoder's dense layers; the decoder mirrors them.
    epochs : int or "auto"
        Passes over the rows. ``"auto"`` gives about 5,000 optimizer steps
        (:data:`AUTO_STEPS`) in at most 200 passes: small tables need many passes, large ones few.
    batch_size, lr : int, float
        Rows per step and learning rate of :func:`vaelab.fit` (Adam).
    beta : float
        Weight of the KL term (beta-VAE).
    n_eval_samples : int
        Shared standard normal draws of the Monte Carlo ELBO in ``score_samples``.
    scaling : {"column", "shared"}
        How the model standardizes the columns. ``"column"`` (the default) divides each by its
        own standard deviation, right for tables whose columns have different units. ``"shared"``
        divides all of them by one pooled standard deviation, as vaelab's image models treat an
        image channel: right for arrays whose columns share one unit (pixels, spectra), where a
        column almost constant in the training rows (a pixel nearly always blank) would otherwise
        turn a faint deviation into a huge one.
    random_state : int, RandomState or None
        Seeds the weights, the training and the draws of ``score_samples``.
    device : str
        ``"cpu"``, ``"cuda"``, ``"mps"`` or ``"auto"``.

    Attributes
    ----------
    model_ : vaelab.VAE
        The trained model; its scaler standardizes each column.
    eps_ : torch.Tensor
        (n_eval_samples, latent_dim) standard normal draws used by ``score_samples``.
    n_epochs_ : int
        Passes over the data that training ran (``epochs`` resolved).
    n_features_in_ : int
    feature_names_in_ : ndarray of str, only when ``X`` was a DataFrame with string column names.
    """

    _model_name = "vae"

    def score_samples(self, X: Any) -> np.ndarray:
        """ELBO of each row of ``X`` (N, D) in nats, float64 (N,); higher is more likely."""
        x, _ = self._rows(X)
        return -self._scores(x, "elbo")

    def score(self, X: Any, y: Any = None) -> float:
        """Mean ELBO per row of ``X`` (N, D) in nats; higher is better (for model selection)."""
        return float(np.mean(self.score_samples(X)))


class AETransformer(_Transformer):
    """A deterministic autoencoder as a scikit-learn transformer: ``transform`` gives the codes,
    ``inverse_transform`` decodes them, ``score_samples`` is minus the reconstruction error.

    Parameters are those of :class:`VAETransformer`; ``beta`` and ``n_eval_samples`` are unused.

    Attributes
    ----------
    model_ : vaelab.AE
    n_epochs_ : int
    n_features_in_ : int
    feature_names_in_ : ndarray of str, only when ``X`` was a DataFrame with string column names.
    """

    _model_name = "ae"

    def score_samples(self, X: Any) -> np.ndarray:
        """Minus the reconstruction error -log p(x|z) of each row of ``X`` (N, D) in nats, float64
        (N,); higher is more typical."""
        x, _ = self._rows(X)
        return -self._scores(x, "reconstruction")


class VAEAnomalyDetector(OutlierMixin, _TableModel):
    """Anomaly detection with a variational autoencoder, in PyOD's convention: scores are higher
    for more abnormal rows and ``predict`` gives 0 (normal) or 1 (outlier).

    Parameters
    ----------
    contamination : float
        Expected share of outliers in the training rows, in (0, 0.5]; sets ``threshold_``.
    score_type : str
        ``"elbo"`` (-ELBO), ``"reconstruction"`` (-log p(x|z) at the posterior mean) or ``"nll"``
        (importance-weighted estimate of -log p(x) with ``n_eval_samples`` draws).
    latent_dim : int
        Size of the code z. The default 8 (not the transformers' 2, which suits plotting) ranked
        anomalies best in ``benchmarks/anomaly.py``.
    hidden, epochs, batch_size, lr, beta, n_eval_samples, scaling, random_state, device
        As in :class:`VAETransformer`. Give ``scaling="shared"`` for pixel arrays.

    Attributes
    ----------
    decision_scores_ : ndarray (N,)
        Scores of the training rows, float64; higher is more abnormal.
    threshold_ : float
        The (1 - contamination) quantile of ``decision_scores_``; scores above it are outliers.
    labels_ : ndarray (N,)
        0/1 labels of the training rows.
    model_ : vaelab.VAE
    n_epochs_ : int
    n_features_in_ : int
    feature_names_in_ : ndarray of str, only when ``X`` was a DataFrame with string column names.
    """

    _model_name = "vae"

    def __init__(self, contamination: float = 0.1, score_type: str = "elbo", latent_dim: int = 8,
                 hidden: tuple[int, ...] = (64,), epochs: int | str = "auto", batch_size: int = 16,
                 lr: float = 1e-3, beta: float = 1.0, n_eval_samples: int = 16, scaling: str = "column",
                 random_state: Any = None, device: str = "cpu") -> None:
        super().__init__(latent_dim=latent_dim, hidden=hidden, epochs=epochs, batch_size=batch_size, lr=lr,
                         beta=beta, n_eval_samples=n_eval_samples, scaling=scaling,
                         random_state=random_state, device=device)
        self.contamination = contamination
        self.score_type = score_type

    def fit(self, X: Any, y: Any = None) -> VAEAnomalyDetector:
        """Train on the rows of ``X`` (N, D) and set the threshold; ``y`` is ignored. Returns self."""
        c = anomaly.check_contamination(self.contamination)
        if self.score_type not in anomaly.SCORES:
            raise ValueError(f"score_type={self.score_type!r} is not allowed; allowed: "
                             f"{', '.join(anomaly.SCORES)}")
        x = self._fit_model(X)
        self.decision_scores_ = self._scores(x, self.score_type)
        self.threshold_ = anomaly.threshold(self.decision_scores_, c)
        self.labels_ = (self.decision_scores_ > self.threshold_).astype(np.int64)
        return self

    def decision_function(self, X: Any) -> np.ndarray:
        """Outlier scores of the rows of ``X`` (N, D), float64 (N,); higher is more abnormal."""
        x, _ = self._rows(X)
        return self._scores(x, self.score_type)

    def predict(self, X: Any) -> np.ndarray:
        """0 (normal) or 1 (outlier) per row of ``X`` (N, D): int64 (N,), 1 where the score is above
        ``threshold_``."""
        return (self.decision_function(X) > self.threshold_).astype(np.int64)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Probabilities of (normal, outlier) per row of ``X`` (N, D): (N, 2), the score min-max
        scaled against the training scores and clipped to [0, 1] (PyOD's ``"linear"`` method)."""
        scores = self.decision_function(X)
        lo, hi = float(self.decision_scores_.min()), float(self.decision_scores_.max())
        p = np.clip((scores - lo) / (hi - lo if hi > lo else 1.0), 0.0, 1.0)
        return np.column_stack([1.0 - p, p])


#: checks of ``sklearn.utils.estimator_checks`` that cannot pass by design, with the reason; give
#: to ``parametrize_with_checks(..., expected_failed_checks=expected_failed_checks)``. In
#: scikit-learn >= 1.6 this argument replaced the old ``_xfail_checks`` tag.
PYOD_LABELS = ("predict follows PyOD's convention, 0 normal / 1 outlier, not scikit-learn's "
               "+1 inlier / -1 outlier")


def expected_failed_checks(estimator: Any) -> dict[str, str]:
    """The estimator checks that conflict with ``estimator``'s documented conventions."""
    if isinstance(estimator, VAEAnomalyDetector):
        return {"check_outliers_train": PYOD_LABELS, "check_outliers_fit_predict": PYOD_LABELS}
    return {}
