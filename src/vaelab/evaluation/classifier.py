"""The feature network behind the Fréchet distance.

FID (Heusel et al. 2017) compares Inception-v3 features, but no such weights can be downloaded
offline, and ImageNet features say little about 8x8 digits or CSV rows. So vaelab trains a small
classifier on the dataset's own labels once, caches it under the dataset's fingerprint, reports
its test accuracy (how much its features can be trusted) and uses its penultimate layer.

A cache directory holds, per training set, plain data and no code:

    CACHE/<fingerprint>.safetensors   weights and the input scaling (buffers)
    CACHE/<fingerprint>.json          DataInfo, feature size, test accuracy, ...
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from vaelab._batching import BATCH, map_batches
from vaelab._checks import check_int, shape_error
from vaelab._version import __version__
from vaelab.data import DataInfo, Dataset
from vaelab.files import atomic_path

FEATURE_DIM = 128
FORMAT = "vaelab.FeatureClassifier"


class FeatureClassifier(nn.Module):
    """A small classifier whose penultimate activations serve as features.

    Images (C, H, W), any size: Conv(32, 3x3, stride 2) -> ReLU -> Conv(64, 3x3, stride 2) -> ReLU
    -> Linear(``feature_dim``) -> ReLU (the features) -> Linear(n_classes). Padding 1 makes each
    convolution give ceil(H / 2) x ceil(W / 2), so no size shrinks to 0. Tables (D,): an MLP
    D -> 256 -> ``feature_dim`` -> n_classes with ReLUs.

    Inputs are in the data's own units; the buffers ``shift`` and ``scale`` map them to
    ``(x - shift) / scale``: pixels to [0, 1] from ``info.value_range``, table columns to zero mean
    and unit variance (set by :func:`train_classifier` from the training rows).

    Parameters
    ----------
    info : DataInfo with ``classes`` (labelled data).
    feature_dim : int, size of the feature layer.

    Examples
    --------
    >>> clf = FeatureClassifier(data.info)                    # digits: (B, 1, 8, 8) -> (B, 10)
    >>> clf.features(torch.zeros(4, 1, 8, 8)).shape
    torch.Size([4, 128])
    """

    def __init__(self, info: DataInfo, feature_dim: int = FEATURE_DIM) -> None:
        super().__init__()
        if info.classes is None:
            raise ValueError(f"{info.name}: info.classes is None; a feature classifier needs labelled data")
        check_int(feature_dim, "feature_dim", 1)
        self.info, n_classes = info, len(info.classes)
        if info.kind == "image":
            c, h, w = info.shape
            lo, hi = info.value_range
            shift, scale = torch.full((1, 1, 1), lo), torch.full((1, 1, 1), hi - lo if hi > lo else 1.0)
            flat = 64 * math.ceil(math.ceil(h / 2) / 2) * math.ceil(math.ceil(w / 2) / 2)
            self.body: nn.Module = nn.Sequential(
                nn.Conv2d(c, 32, 3, stride=2, padding=1), nn.ReLU(),  # (B, 32, ceil(H/2), ceil(W/2))
                nn.Conv2d(32, 64, 3, stride=2, padding=1), nn.ReLU(),  # (B, 64, ceil(H/4), ceil(W/4))
                nn.Flatten(), nn.Linear(flat, feature_dim), nn.ReLU(),  # (B, feature_dim)
            )
        else:
            (d,) = info.shape
            shift, scale = torch.zeros(d), torch.ones(d)  # replaced by column statistics when trained
            self.body = nn.Sequential(nn.Linear(d, 256), nn.ReLU(), nn.Linear(256, feature_dim), nn.ReLU())
        self.register_buffer("shift", shift)
        self.register_buffer("scale", scale)
        self.head = nn.Linear(feature_dim, n_classes)
        self.meta: dict[str, Any] = {"data": info.name, "n_classes": n_classes, "feature_dim": feature_dim,
                                     "fingerprint": None, "test_accuracy": None}

    @property
    def device(self) -> torch.device:
        return self.head.weight.device

    def features(self, x: Tensor) -> Tensor:
        """Penultimate activations of inputs ``x`` (B, *info.shape) in data units: (B, feature_dim)."""
        return self.body((x - self.shift) / self.scale)

    def forward(self, x: Tensor) -> Tensor:
        """Class logits (B, n_classes) of inputs ``x`` (B, *info.shape) in data units."""
        return self.head(self.features(x))


def dataset_fingerprint(data: Dataset) -> str:
    """Hex digest (32 characters, BLAKE2b) of the training set: ``x_train``, ``y_train``, their
    shapes, ``info.shape`` and the number of classes. Any changed pixel or label changes it.

    >>> dataset_fingerprint(vaelab.load_dataset("digits"))     # doctest: +SKIP
    '3f5c...'
    """
    h = hashlib.blake2b(digest_size=16)
    n_classes = None if data.info.classes is None else len(data.info.classes)
    h.update(repr((data.info.shape, data.x_train.shape, n_classes)).encode())
    h.update(np.ascontiguousarray(data.x_train, dtype=np.float32).tobytes())
    if data.y_train is None:
        h.update(b"unlabelled")
    else:
        h.update(repr(data.y_train.shape).encode())
        h.update(np.ascontiguousarray(data.y_train, dtype=np.int64).tobytes())
    return h.hexdigest()


def default_epochs(n: int) -> int:
    """Epochs for ``n`` training rows: about 20,000 rows seen, at least 5 and at most 50 epochs."""
    return min(50, max(5, math.ceil(20_000 / n)))


def _accuracy(clf: FeatureClassifier, x: np.ndarray, y: np.ndarray) -> float:
    predicted = map_batches(lambda xb: clf(xb).argmax(1).cpu(), x, device=clf.device)
    return int((predicted == torch.as_tensor(y)).sum()) / len(x)


def train_classifier(data: Dataset, *, epochs: int | None = None, seed: int = 0,
                     device: str | torch.device = "cpu", batch_size: int = 128,
                     progress: bool = False) -> FeatureClassifier:
    """Train a :class:`FeatureClassifier` on ``data.x_train`` / ``data.y_train`` with Adam (lr 1e-3)
    and cross-entropy; its accuracy on the test split goes to ``meta["test_accuracy"]``.
    ``progress`` shows a tqdm bar over the epochs on stderr.

    ``epochs`` defaults to :func:`default_epochs` of the training size (5 for Fashion-MNIST, 14 for
    digits). The initial weights and the batch order come from ``seed``, so two calls give the same
    weights (on the same device); the global random state is left as it was.

    >>> clf = train_classifier(vaelab.load_dataset("digits"))
    >>> clf.meta["test_accuracy"] > 0.9
    True
    """
    name = data.info.name
    if data.y_train is None or data.y_test is None:
        raise ValueError(f"{name}: the data have no labels; a feature classifier needs a labelled dataset")
    if len(np.unique(data.y_train)) < 2:
        raise ValueError(f"{name}: the training labels hold only one class; at least 2 are needed")
    epochs = default_epochs(len(data.x_train)) if epochs is None else epochs
    check_int(epochs, "epochs", 1)
    check_int(batch_size, "batch_size", 1)
    device = torch.device(device)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)  # the initial weights, without touching the caller's random stream
        clf = FeatureClassifier(data.info)
    x = torch.as_tensor(data.x_train, device=device)  # (N, *shape), one tensor batched by slicing
    y = torch.as_tensor(data.y_train, device=device)  # (N,)
    if data.info.kind == "table":  # column statistics in float64 numpy: MPS has no float64
        rows = data.x_train.astype(np.float64)
        std = rows.std(0)
        clf.shift.copy_(torch.from_numpy(rows.mean(0)))
        clf.scale.copy_(torch.from_numpy(np.where(std < 1e-8, 1.0, std)))
    clf.to(device).train()
    optimizer = torch.optim.Adam(clf.parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(seed)
    passes: Iterable[int] = range(epochs)
    if progress:
        from tqdm.auto import tqdm

        passes = tqdm(passes, desc="feature classifier", unit="epoch", leave=False, dynamic_ncols=True)
    for _ in passes:
        order = torch.randperm(len(x), generator=generator).to(device)
        for i in range(0, len(x), batch_size):
            idx = order[i:i + batch_size]
            loss = nn.functional.cross_entropy(clf(x[idx]), y[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    clf.eval()
    clf.meta.update(fingerprint=dataset_fingerprint(data), epochs=epochs, seed=seed,
                    test_accuracy=_accuracy(clf, data.x_test, data.y_test))
    return clf


# -- the cache: weights in safetensors, the rest in JSON; nothing unpickled -------------------


def _paths(path_dir: Path, fingerprint: str) -> tuple[Path, Path]:
    return path_dir / f"{fingerprint}.safetensors", path_dir / f"{fingerprint}.json"


def save_classifier(clf: FeatureClassifier, path_dir: str | os.PathLike[str]) -> Path:
    """Write ``clf`` as ``<path_dir>/<fingerprint>.safetensors`` and ``.json``, atomically; returns
    the weights path. ``clf`` must come from :func:`train_classifier` (it has a fingerprint).

    >>> save_classifier(clf, "cache/classifiers")              # doctest: +SKIP
    PosixPath('cache/classifiers/3f5c....safetensors')
    """
    fingerprint = clf.meta.get("fingerprint")
    if not isinstance(fingerprint, str):
        raise ValueError(f"clf has fingerprint {fingerprint!r}; allowed: a classifier from train_classifier")
    weights, info = _paths(Path(path_dir), fingerprint)
    tensors = {k: v.detach().contiguous().cpu() for k, v in clf.state_dict().items()}
    with atomic_path(weights) as tmp:
        save_file(tensors, str(tmp), metadata={"format": FORMAT, "vaelab_version": __version__})
    record = {"format": FORMAT, "vaelab_version": __version__, "info": clf.info.to_dict(), "meta": clf.meta}
    with atomic_path(info) as tmp:
        tmp.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return weights


def load_classifier(path_dir: str | os.PathLike[str], data: Dataset | None = None,
                    device: str | torch.device = "cpu") -> FeatureClassifier:
    """Read a classifier written by :func:`save_classifier`: the one for ``data`` (by fingerprint),
    or with ``data=None`` the only one in ``path_dir``. A damaged file, or one for other data, is
    a ``ValueError`` naming it.

    >>> clf = load_classifier("cache/classifiers", data)       # doctest: +SKIP
    """
    path_dir = Path(path_dir)
    if data is not None:
        expected: str | None = dataset_fingerprint(data)
        stem = expected
    else:
        expected, found = None, sorted(path_dir.glob("*.json"))
        if len(found) != 1:
            raise ValueError(f"{path_dir} holds {len(found)} classifiers; allowed: exactly 1 when no data "
                             "are given (pass data= to pick one)")
        stem = found[0].stem
    weights, meta_path = _paths(path_dir, stem)
    for path in (meta_path, weights):
        if not path.exists():
            raise FileNotFoundError(f"{path} is missing")
    try:
        record = json.loads(meta_path.read_text(encoding="utf-8"))
        if not isinstance(record, dict) or record.get("format") != FORMAT:
            raise ValueError(f"format is not {FORMAT!r}")
        clf = FeatureClassifier(DataInfo.from_dict(record["info"]), record["meta"]["feature_dim"])
        clf.meta.update(record["meta"])
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as err:
        raise _damaged(meta_path, err) from None
    if expected is not None and clf.meta.get("fingerprint") != expected:
        raise _damaged(meta_path, f"it belongs to other data, fingerprint {clf.meta.get('fingerprint')!r}")
    try:
        clf.load_state_dict(load_file(str(weights)), strict=True)
    except (SafetensorError, OSError, ValueError, RuntimeError) as err:
        raise _damaged(weights, str(err).splitlines()[0] if str(err) else "mismatch") from None
    return clf.to(device).eval()


def _damaged(path: Path, why: object) -> ValueError:
    return ValueError(f"{path} is damaged or does not match its data ({why}); delete it to train anew")


def is_cached(data: Dataset, cache_dir: str | os.PathLike[str]) -> bool:
    """Whether ``cache_dir`` holds the classifier for ``data`` (or half of its pair of files), so
    that :func:`feature_classifier` reads it instead of training one.

    >>> is_cached(data, "cache/classifiers")                   # doctest: +SKIP
    False
    """
    return any(path.exists() for path in _paths(Path(cache_dir), dataset_fingerprint(data)))


def feature_classifier(data: Dataset, cache_dir: str | os.PathLike[str] | None = None, *, seed: int = 0,
                       device: str | torch.device = "cpu",
                       progress: bool = False) -> tuple[FeatureClassifier, bool]:
    """The feature classifier for ``data``: ``(classifier, loaded_from_cache)``.

    With ``cache_dir`` the classifier stored there under the fingerprint of ``data`` is loaded
    (``seed`` then plays no part); if none is (:func:`is_cached`), one is trained and saved there.
    Without ``cache_dir`` it is trained and nothing is written. ``progress`` shows a tqdm bar
    over the training epochs.

    >>> clf, loaded = feature_classifier(data, "cache/classifiers")
    >>> clf.meta["test_accuracy"], loaded
    (0.95, False)
    """
    if cache_dir is None:
        return train_classifier(data, seed=seed, device=device, progress=progress), False
    if is_cached(data, cache_dir):
        try:
            return load_classifier(cache_dir, data, device), True
        except FileNotFoundError as err:  # half a pair: one of the two files is gone
            left = next(p for p in _paths(Path(cache_dir), dataset_fingerprint(data)) if p.exists())
            raise ValueError(f"{err} but {left.name} is there; delete {left} to train anew") from None
    clf = train_classifier(data, seed=seed, device=device, progress=progress)
    save_classifier(clf, cache_dir)
    return clf, False


def features(clf: FeatureClassifier, x: np.ndarray | Tensor, batch_size: int = BATCH) -> np.ndarray:
    """Features of inputs ``x`` (N, *info.shape), in data units: float64 (N, feature_dim), computed
    ``batch_size`` rows at a time on the classifier's device.

    >>> features(clf, data.x_test).shape
    (360, 128)
    """
    shape = clf.info.shape
    if tuple(x.shape[1:]) != shape or x.ndim != len(shape) + 1:
        raise shape_error("x", x.shape, f"(N, {', '.join(map(str, shape))}), rows shaped like the data "
                          f"{clf.info.name!r}")
    return map_batches(lambda xb: clf.features(xb).cpu().double(), x, device=clf.device,
                       batch_size=batch_size, empty=(clf.meta["feature_dim"],)).numpy()
