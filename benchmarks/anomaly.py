"""Anomaly detection: ROC-AUC of vaelab's VAEAnomalyDetector next to common detectors, in one run.

Every detector is trained on normal rows only and scores held-out rows that mix normal and
anomalous ones; the figure is the area under the ROC curve of those scores (1 = perfect ranking,
0.5 = chance). All detectors see the same rows with the same preprocessing and the same seed.

Data sets (nothing is downloaded at run time):

- ``breast-cancer`` (scikit-learn): a seeded 60% of the benign rows train; the other benign rows
  and all malignant rows (the anomalies) test. Columns standardized by a StandardScaler fitted on
  the training rows. The figure is the mean over ``--bc-splits`` seeded splits.
- ``digits`` (scikit-learn, 8x8): a seeded stratified 70/30 split of all rows; each digit in turn is
  normal (train on its training rows) and every other digit in the test split is an anomaly. Pixels
  divided by 16. The figure is the mean over the digits.
- ``fashion-mnist``: the same one-class protocol on the official split, when its files are present
  (``apt-get install dataset-fashion-mnist``; skipped with a note otherwise). Up to
  ``--fashion-train`` training rows of the normal class, ``--fashion-test`` test rows (a seeded
  stratified subsample; default all 10,000). Pixels divided by 255.

Detectors:

- ``vaelab``: ``vaelab.estimators.VAEAnomalyDetector`` with its defaults, unless the flags below (or
  ``--vaelab`` variants) change them. Several ``--score-type`` values are scored from one fit.
- ``iforest``: scikit-learn's IsolationForest, defaults (100 trees).
- ``pca``: reconstruction error (sum of squared residuals) of a PCA fitted on the training rows with
  the fewest components that explain at least 90% of their variance.
- ``ocsvm``: scikit-learn's OneClassSVM, RBF kernel, ``gamma="scale"``, ``nu=0.1``.
- ``pyod-ae``, ``pyod-vae``: PyOD's AutoEncoder and VAE with their defaults, when ``pyod`` is
  installed (a benchmark-only dependency: ``pip install pyod``); skipped with a note otherwise.

Fit time is wall-clock seconds of ``fit`` summed over a data set's tasks (scoring not included).

    python benchmarks/anomaly.py                          # all data sets found, all detectors
    python benchmarks/anomaly.py --quick                  # a smoke run of about 30 s
    python benchmarks/anomaly.py --methods vaelab --vaelab default --vaelab latent_dim=8,epochs=200
    python benchmarks/anomaly.py --score-type elbo,nll,reconstruction --verbose --out-json r.json
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.decomposition import PCA
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from sklearn.svm import OneClassSVM

import vaelab
from vaelab.estimators import VAEAnomalyDetector

DATASETS = ("breast-cancer", "digits", "fashion-mnist")
SCORES = ("elbo", "nll", "reconstruction")  # VAEAnomalyDetector score_type values
BASELINES = ("iforest", "pca", "ocsvm", "pyod-ae", "pyod-vae")
PCA_VARIANCE = 0.90
OCSVM_NU = 0.1


def _epochs(text: str) -> int | str:
    return text if text == "auto" else int(text)


# VAEAnomalyDetector parameters a --vaelab variant may set, with their parsers
VAELAB_KEYS: dict[str, Callable[[str], Any]] = {
    "latent_dim": int, "epochs": _epochs, "batch_size": int, "lr": float, "beta": float,
    "n_eval_samples": int, "scaling": str, "hidden": lambda s: tuple(int(h) for h in s.split("-")),
}


@dataclass
class Task:
    """One train/test problem: train on normal rows (N, D), score test rows (M, D); anomaly (M,) 0/1."""

    name: str
    x_train: np.ndarray
    x_test: np.ndarray
    anomaly: np.ndarray


# -- data -----------------------------------------------------------------------------------------


def breast_cancer_tasks(seed: int, splits: int) -> Iterator[Task]:
    bunch = load_breast_cancer()
    x, malignant = bunch.data, bunch.target == 0  # sklearn: target 0 malignant, 1 benign
    benign_rows, malignant_rows = np.flatnonzero(~malignant), np.flatnonzero(malignant)
    for k in range(splits):
        rng = np.random.default_rng(seed + k)
        perm = rng.permutation(benign_rows)
        n_train = round(0.6 * len(benign_rows))
        train, test = perm[:n_train], np.concatenate([perm[n_train:], malignant_rows])
        scaler = StandardScaler().fit(x[train])
        yield Task(f"split {k} (seed {seed + k})", scaler.transform(x[train]), scaler.transform(x[test]),
                   malignant[test].astype(np.int64))


def one_class_tasks(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
                    classes: list[int], names: tuple[str, ...], max_train: int | None,
                    seed: int) -> Iterator[Task]:
    for c in classes:
        rows = np.flatnonzero(y_train == c)
        if max_train is not None and len(rows) > max_train:
            rows = np.sort(np.random.default_rng(seed + c).choice(rows, max_train, replace=False))
        yield Task(f"{c} {names[c]}", x_train[rows], x_test, (y_test != c).astype(np.int64))


def digits_tasks(seed: int, classes: list[int]) -> Iterator[Task]:
    bunch = load_digits()
    x = bunch.data / 16.0  # (1797, 64) in [0, 1]
    x_tr, x_te, y_tr, y_te = train_test_split(x, bunch.target, test_size=0.3, stratify=bunch.target,
                                              random_state=seed)
    yield from one_class_tasks(x_tr, y_tr, x_te, y_te, classes, tuple(map(str, range(10))), None, seed)


def fashion_data() -> tuple[vaelab.Dataset | None, str]:
    """The Fashion-MNIST dataset if its files are on this machine (never downloads), else a note."""
    try:
        return vaelab.load_dataset("fashion-mnist", download=False), ""
    except (FileNotFoundError, OSError, ValueError) as e:
        return None, f"fashion-mnist skipped: its files are not here ({str(e).splitlines()[0][:160]})"


def fashion_tasks(data: vaelab.Dataset, seed: int, classes: list[int], max_train: int,
                  n_test: int) -> Iterator[Task]:
    x_tr = data.x_train.reshape(len(data.x_train), -1).astype(np.float64) / 255.0  # (60000, 784)
    x_te = data.x_test.reshape(len(data.x_test), -1).astype(np.float64) / 255.0  # (10000, 784)
    y_te = data.y_test
    if n_test < len(x_te):
        keep, _ = train_test_split(np.arange(len(x_te)), train_size=n_test, stratify=y_te,
                                   random_state=seed)
        keep = np.sort(keep)
        x_te, y_te = x_te[keep], y_te[keep]
    yield from one_class_tasks(x_tr, data.y_train, x_te, y_te, classes, data.info.classes, max_train, seed)


# -- detectors: each returns a fitted scorer, X (M, D) -> scores (M,), higher = more abnormal ----------


def fit_iforest(x: np.ndarray, seed: int) -> Callable[[np.ndarray], np.ndarray]:
    model = IsolationForest(random_state=seed).fit(x)
    return lambda t: -model.score_samples(t)


def fit_pca(x: np.ndarray, seed: int) -> Callable[[np.ndarray], np.ndarray]:
    model = PCA(n_components=PCA_VARIANCE, svd_solver="full").fit(x)

    def score(t: np.ndarray) -> np.ndarray:
        return np.square(t - model.inverse_transform(model.transform(t))).sum(axis=1)
    return score


def fit_ocsvm(x: np.ndarray, seed: int) -> Callable[[np.ndarray], np.ndarray]:
    model = OneClassSVM(kernel="rbf", gamma="scale", nu=OCSVM_NU).fit(x)
    return lambda t: -model.decision_function(t)


def pyod_fitter(kind: str, epoch_num: int | None) -> Callable[[np.ndarray, int], Callable]:
    def fit(x: np.ndarray, seed: int) -> Callable[[np.ndarray], np.ndarray]:
        if kind == "ae":
            from pyod.models.auto_encoder import AutoEncoder as Model
        else:
            from pyod.models.vae import VAE as Model
        kw: dict[str, Any] = {"random_state": seed, "verbose": 0, "device": "cpu"}
        if epoch_num is not None:
            kw["epoch_num"] = epoch_num
        model = Model(**kw).fit(x)
        return model.decision_function
    return fit


@dataclass
class VaelabVariant:
    label: str  # "default" or the spec as given
    params: dict[str, Any]  # VAEAnomalyDetector keyword arguments except score_type
    score_types: list[str]

    def row_names(self, several: bool) -> list[str]:
        base = "vaelab" if self.label == "default" else f"vaelab[{self.label}]"
        if len(self.score_types) == 1 and not several:
            return [base]
        return [f"{base} {s}" for s in self.score_types]


def parse_variant(spec: str, base: dict[str, Any], score_types: list[str]) -> VaelabVariant:
    params = dict(base)
    scores = score_types
    if spec != "default":
        for item in spec.split(","):
            key, sep, value = item.partition("=")
            key = key.strip()
            if not sep:
                raise SystemExit(f"--vaelab {spec!r}: {item!r} is not KEY=VALUE")
            if key == "score_type":
                scores = value.split("+")
            elif key in VAELAB_KEYS:
                params[key] = VAELAB_KEYS[key](value)
            else:
                raise SystemExit(f"--vaelab {spec!r}: unknown key {key!r}; allowed: score_type, "
                                 + ", ".join(VAELAB_KEYS))
    for s in scores:
        if s not in SCORES:
            raise SystemExit(f"score type {s!r} is not one of {', '.join(SCORES)}")
    return VaelabVariant(spec, params, scores)


def run_vaelab(variant: VaelabVariant, task: Task, seed: int) -> tuple[list[float], float]:
    """ROC-AUC per score type from one fit, and the fit's seconds."""
    det = VAEAnomalyDetector(score_type=variant.score_types[0], random_state=seed, **variant.params)
    t0 = time.perf_counter()
    det.fit(task.x_train)
    seconds = time.perf_counter() - t0
    aucs = []
    for s in variant.score_types:
        det.set_params(score_type=s)
        aucs.append(auc(task.anomaly, det.decision_function(task.x_test)))
    return aucs, seconds


def auc(anomaly: np.ndarray, scores: np.ndarray) -> float:
    scores = np.asarray(scores, dtype=np.float64)
    if not np.all(np.isfinite(scores)):  # rank non-finite scores as the most abnormal, and say so
        print(f"    note: {np.sum(~np.isfinite(scores))} non-finite scores", flush=True)
        scores = np.nan_to_num(scores, nan=np.inf)
        scores = np.where(np.isposinf(scores), np.finfo(np.float64).max, scores)
    return float(roc_auc_score(anomaly, scores))


# -- reporting ------------------------------------------------------------------------------------------


def print_summary(results: dict[str, dict[str, dict[str, Any]]], methods: list[str],
                  vaelab_rows: list[str]) -> None:
    names = list(results)
    width = max(len(m) for m in methods) + 2
    head = f"{'method':{width}}" + "".join(f"{d:>15}" for d in names)
    for title, key, fmt in (("ROC-AUC, mean over each data set's tasks (higher is better)", "mean", "15.4f"),
                            ("fit seconds, summed over the tasks (a vaelab fit's score rows share it)",
                             "fit_s", "15.1f")):
        print(f"\n{title}\n{head}")
        for m in methods:
            print(f"{m:{width}}" + "".join(f"{results[d][m][key]:{fmt}}" if m in results[d] else f"{'-':>15}"
                                           for d in names))
    others = [m for m in methods if m not in vaelab_rows]
    if not others or not vaelab_rows:
        return
    print("\nvaelab against the best other detector on each data set")
    for d in names:
        present = [m for m in others if m in results[d]]
        if not present:
            continue
        best = max(present, key=lambda m: results[d][m]["mean"])
        b = results[d][best]["mean"]
        for v in vaelab_rows:
            if v not in results[d]:
                continue
            a = results[d][v]["mean"]
            verdict = "yes" if a >= b else "no "
            print(f"  {d:15} {v:{width}} {a:.4f}  >= best other ({best} {b:.4f})? {verdict}  "
                  f"difference {a - b:+.4f}")


def print_tasks(dataset: str, results: dict[str, dict[str, Any]], methods: list[str]) -> None:
    present = [m for m in methods if m in results]
    tasks = results[present[0]]["tasks"]
    # names longer than a column become v1, v2, ... with a legend
    short = {m: m if len(m) <= 14 else f"v{i + 1}" for i, m in enumerate(present)}
    print(f"\n{dataset}: ROC-AUC per task")
    for m in present:
        if short[m] != m:
            print(f"  {short[m]} = {m}")
    print(f"{'task':22}" + "".join(f"{short[m]:>15}" for m in present))
    for i, t in enumerate(tasks):
        print(f"{t[:21]:22}" + "".join(f"{results[m]['auc'][i]:15.4f}" for m in present))


def parse_classes(spec: str) -> list[int]:
    """'0-9' or '0,3,5' -> class numbers."""
    lo, dash, hi = spec.partition("-")
    classes = list(range(int(lo), int(hi) + 1)) if dash else [int(c) for c in spec.split(",")]
    if not classes or not all(0 <= c <= 9 for c in classes):
        raise SystemExit(f"classes {spec!r}: give classes from 0 to 9, e.g. 0-9 or 0,3")
    return classes


# -- main -----------------------------------------------------------------------------------------------


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="\n".join(__doc__.splitlines()[2:]))
    p.add_argument("--data", default="all",
                   help=f"comma-separated, from {', '.join(DATASETS)}; default all that are available")
    p.add_argument("--methods", default="all",
                   help=f"comma-separated, from vaelab, {', '.join(BASELINES)}; default all available")
    p.add_argument("--seed", type=int, default=0, help="seeds the splits and every detector")
    p.add_argument("--epochs", type=_epochs,
                   help="vaelab: training epochs or 'auto' (default: the estimator's)")
    p.add_argument("--score-type", default=None,
                   help="vaelab: one or more of elbo, nll, reconstruction, comma-separated; several "
                        "are scored from one fit (default: the estimator's)")
    p.add_argument("--latent-dim", type=int, help="vaelab: size of the code")
    p.add_argument("--hidden", help="vaelab: layer widths, e.g. 128-64")
    p.add_argument("--beta", type=float, help="vaelab: weight of the KL term")
    p.add_argument("--batch-size", type=int, help="vaelab: batch size")
    p.add_argument("--lr", type=float, help="vaelab: Adam learning rate")
    p.add_argument("--vaelab", action="append", metavar="SPEC",
                   help="a vaelab variant, repeatable: 'default' or KEY=VALUE,... with keys "
                        f"{', '.join(VAELAB_KEYS)}, score_type (elbo+nll for several); the flags above "
                        "apply first. Default: one variant, 'default'")
    p.add_argument("--bc-splits", type=int, default=5, help="breast-cancer: seeded splits to average")
    p.add_argument("--digits", default="0-9", help="digits: the normal classes to run, e.g. 0-9 or 0,3")
    p.add_argument("--fashion-classes", default="0-9", help="fashion-mnist: the normal classes to run")
    p.add_argument("--fashion-train", type=int, default=6000,
                   help="fashion-mnist: at most this many training rows of the normal class")
    p.add_argument("--fashion-test", type=int, default=10000, help="fashion-mnist: test rows (stratified)")
    p.add_argument("--pyod-epochs", type=int, help="PyOD: epoch_num (default: PyOD's own defaults)")
    p.add_argument("--quick", action="store_true",
                   help="smoke mode: vaelab 5 epochs and PyOD 2 (unless set), 1 breast-cancer split, "
                        "classes 0-2, fashion-mnist 300 train / 1000 test rows")
    p.add_argument("--verbose", action="store_true", help="print every task's ROC-AUC")
    p.add_argument("--out-json", help="also save the results to this JSON file")
    args = p.parse_args()

    if args.quick:
        args.epochs = args.epochs or 5
        args.pyod_epochs = args.pyod_epochs or 2
        args.bc_splits = 1
        args.digits = "0-2" if args.digits == "0-9" else args.digits
        args.fashion_classes = "0-2" if args.fashion_classes == "0-9" else args.fashion_classes
        args.fashion_train = min(args.fashion_train, 300)
        args.fashion_test = min(args.fashion_test, 1000)
    digits, fashion_classes = parse_classes(args.digits), parse_classes(args.fashion_classes)

    torch.manual_seed(args.seed)
    np.random.seed(args.seed)

    # vaelab variants
    base: dict[str, Any] = {}
    for key in ("epochs", "latent_dim", "beta", "batch_size", "lr"):
        if getattr(args, key) is not None:
            base[key] = getattr(args, key)
    if args.hidden is not None:
        base["hidden"] = VAELAB_KEYS["hidden"](args.hidden)
    default_score = VAEAnomalyDetector().score_type
    score_types = args.score_type.split(",") if args.score_type else [default_score]
    variants = [parse_variant(s, base, score_types) for s in (args.vaelab or ["default"])]
    several = len(variants) > 1
    vaelab_rows = [r for v in variants for r in v.row_names(several)]

    # detectors
    have_pyod = importlib.util.find_spec("pyod") is not None
    wanted = ["vaelab", *BASELINES] if args.methods == "all" else args.methods.split(",")
    for m in wanted:
        if m not in ("vaelab", *BASELINES):
            raise SystemExit(f"--methods: unknown method {m!r}")
    baselines: dict[str, Callable] = {"iforest": fit_iforest, "pca": fit_pca, "ocsvm": fit_ocsvm,
                                      "pyod-ae": pyod_fitter("ae", args.pyod_epochs),
                                      "pyod-vae": pyod_fitter("vae", args.pyod_epochs)}
    notes = []
    if not have_pyod and any(m.startswith("pyod") for m in wanted):
        notes.append("pyod-ae, pyod-vae skipped: pyod is not installed (pip install pyod)")
        wanted = [m for m in wanted if not m.startswith("pyod")]
    methods = [*(vaelab_rows if "vaelab" in wanted else []), *(m for m in BASELINES if m in wanted)]

    # data sets
    names = list(DATASETS) if args.data == "all" else args.data.split(",")
    for d in names:
        if d not in DATASETS:
            raise SystemExit(f"--data: unknown data set {d!r}; allowed: {', '.join(DATASETS)}")
    fashion = None
    if "fashion-mnist" in names:
        fashion, note = fashion_data()
        if fashion is None:
            notes.append(note)
            names.remove("fashion-mnist")

    versions = f"torch {torch.__version__}, {torch.get_num_threads()} threads"
    if have_pyod:
        import pyod
        versions += f", pyod {pyod.__version__}"
    print(f"anomaly benchmark: seed {args.seed}, {platform.processor() or platform.machine()}, "
          f"{versions}, vaelab {getattr(vaelab, '__version__', '?')}")
    for v in variants:
        shown = {**VAEAnomalyDetector().get_params(), **v.params}
        shown = {k: shown[k] for k in ("latent_dim", "hidden", "epochs", "batch_size", "lr", "beta",
                                       "n_eval_samples", "scaling")}
        print(f"  {v.label}: {shown}, scores {'+'.join(v.score_types)}")
    for note in notes:
        print(f"  note: {note}")

    def tasks_of(d: str) -> Iterator[Task]:
        if d == "breast-cancer":
            return breast_cancer_tasks(args.seed, args.bc_splits)
        if d == "digits":
            return digits_tasks(args.seed, digits)
        return fashion_tasks(fashion, args.seed, fashion_classes, args.fashion_train, args.fashion_test)

    if not names:
        print("no data set to run")
        return
    if "vaelab" in wanted:  # warm-up, so that torch's one-time start-up is not timed as a fit
        VAEAnomalyDetector(epochs=1, random_state=0).fit(np.random.default_rng(0).normal(size=(64, 4)))
    results: dict[str, dict[str, dict[str, Any]]] = {}
    t_start = time.perf_counter()
    for d in names:
        res: dict[str, dict[str, Any]] = {m: {"tasks": [], "auc": [], "fit_s": 0.0} for m in methods}
        for task in tasks_of(d):
            print(f"{d} {task.name}: {len(task.x_train)} train rows, {len(task.x_test)} test rows "
                  f"({int(task.anomaly.sum())} anomalies), {task.x_train.shape[1]} columns", flush=True)
            if "vaelab" in wanted:
                for v in variants:
                    aucs, seconds = run_vaelab(v, task, args.seed)
                    for row, a in zip(v.row_names(several), aucs, strict=True):
                        res[row]["tasks"].append(task.name)
                        res[row]["auc"].append(a)
                        res[row]["fit_s"] += seconds  # one fit, shared by its score rows
            for m in methods:
                if m in baselines:
                    t0 = time.perf_counter()
                    scorer = baselines[m](task.x_train, args.seed)
                    res[m]["fit_s"] += time.perf_counter() - t0
                    res[m]["tasks"].append(task.name)
                    res[m]["auc"].append(auc(task.anomaly, scorer(task.x_test)))
        for r in res.values():
            r["mean"] = float(np.mean(r["auc"]))
        results[d] = res
        if args.verbose or d != "breast-cancer":
            print_tasks(d, res, methods)
    total = time.perf_counter() - t_start

    print_summary(results, methods, vaelab_rows if "vaelab" in wanted else [])
    print(f"\ntotal {total:.0f} s")
    if args.out_json:
        with open(args.out_json, "w") as f:
            json.dump({"args": vars(args), "versions": versions, "notes": notes, "total_s": total,
                       "variants": [{"label": v.label, "params": {k: list(x) if isinstance(x, tuple) else x
                                                                  for k, x in v.params.items()},
                                     "score_types": v.score_types} for v in variants],
                       "results": results}, f, indent=1)
        print(f"saved {args.out_json}")


if __name__ == "__main__":
    main()
