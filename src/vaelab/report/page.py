"""A self-contained HTML report of a run: one page with its configuration, training curves,
reconstructions, samples, an interpolation, traversals, the latent map and how the latent
dimensions are used.

The page needs nothing else: the CSS is inline, every picture is a PNG in a ``data:`` URI, there
is no JavaScript and no external address. :func:`build_report` returns the text; the caller (the
``vaelab report`` command) decides where to write it. Every string that comes from the run or
the data (paths, column and class names, config values) is HTML-escaped.

>>> html_text = build_report(vaelab.load("runs/demo"), "runs/demo", data)   # doctest: +SKIP
"""

from __future__ import annotations

import datetime
import html
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from vaelab import latent, noise, plots
from vaelab._version import __version__
from vaelab.config import applicable
from vaelab.data import Dataset
from vaelab.data.columns import decode_cell
from vaelab.evaluation import metrics
from vaelab.latent.samplers import GMMSampler, run_gmm
from vaelab.losses import COLLAPSE_NATS, kl_collapse
from vaelab.models import Autoencoder
from vaelab.report.figures import music_pairs
from vaelab.report.html import CSS, fmt, img, kv, side_by_side, table
from vaelab.run import RunDir

N_SHOWN = 8  # rows of a table shown for table data
LOSS_TERMS = ("loss", "rec", "kl")  # the per-epoch numbers of the overview; a KL only with a posterior


def build_report(model: Autoencoder, run_dir: str | os.PathLike[str], data: Dataset,
                 gmm: GMMSampler | None = None) -> str:
    """The report of the run in ``run_dir`` (its config.json and metrics.jsonl) for ``model``,
    shown on ``data`` (test rows; the training rows fit the GMM if needed): one HTML page.

    ``gmm`` is the post-hoc sampler to show; by default RUN/gmm.safetensors while it is fresh, else a
    GMM fitted to the training codes and not written anywhere (:func:`vaelab.latent.samplers.run_gmm`).
    Image data get pictures; table data get small tables with the original column names instead of
    image grids.

    Examples
    --------
    >>> model = vaelab.load("runs/demo")                                       # doctest: +SKIP
    >>> Path("report.html").write_text(build_report(model, "runs/demo", data))  # doctest: +SKIP
    """
    run = RunDir(run_dir)
    if tuple(data.info.shape) != tuple(model.config.input_shape):
        raise ValueError(f"data {data.info.name!r} has rows of shape {tuple(data.info.shape)}; the "
                         f"model was trained on {tuple(model.config.input_shape)}")
    if gmm is None:
        y = data.y_train if model.conditional else None
        gmm, fitted = run_gmm(model, run, data.x_train, y, cache=False)
        gmm_note = "a mixture fitted to the training codes for this report" if fitted else \
            f"the mixture cached in {RunDir.GMM}"
    else:
        gmm_note = "a mixture fitted to the training codes"
    if model.conditional and data.y_train is None:
        raise ValueError(f"{type(model).__name__} is conditional: {data.info.name} needs the labels or "
                         "condition columns it was trained with")
    page = _Page(data, model.conditional)
    with torch.no_grad():
        sections = [("summary", "Run summary", _summary(model, run, data)),
                    ("evaluation", "Evaluation", _evaluation(run, model)),
                    ("curves", "Training curves", _curves(run, model)),
                    ("reconstructions", "Reconstructions", _reconstructions(page, model)),
                    ("samples", "Samples", _samples(page, model, gmm, gmm_note)),
                    ("interpolation", "Interpolation", _interpolation(page, model)),
                    ("traversals", "Traversals", _traversals(page, model)),
                    ("latent-map", "Latent map", _latent_map(model, data)),
                    ("dimensions", "Latent dimensions", _dimensions(model, data))]
    nav = " ".join(f'<a href="#{key}">{title}</a>' for key, title, _ in sections)
    body = "\n".join(f'<h2 id="{key}">{title}</h2>\n{content}' for key, title, content in sections)
    name = html.escape(str(run))
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="vaelab-weights" content="{model.weights_id or ""}">\n'
            f"<title>vaelab report: {name}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
            f"<h1>vaelab report: {name}</h1>\n<p class=\"sub\">{html.escape(_describe(model, data))}"
            f"</p>\n<nav>{nav}</nav>\n{body}\n</body>\n</html>\n")


# -- building blocks ------------------------------------------------------------------------


def _describe(model: Autoencoder, data: Dataset) -> str:
    c = model.config
    return (f"{c.model.upper()} ({c.arch}, {c.likelihood}, latent {c.latent_dim}) on {data.info.name} "
            f"({data.info.kind}, rows of shape {tuple(data.info.shape)})")


class _Page:
    """How the data are shown: image grids, or tables with the data's column names."""

    def __init__(self, data: Dataset, conditional: bool = False) -> None:
        self.data, info = data, data.info
        #: the test rows' labels or conditions, which a conditional model is given with them
        self.cond = data.y_test if conditional else None
        self.image = info.kind == "image"
        self.music = info.kind == "sequence"
        self.value_range = tuple(info.value_range)
        self.columns = list(info.columns or [f"x{i}" for i in range(int(np.prod(info.shape)))])
        self.categories = info.categories

    def label(self, i: int) -> str:
        """Test row i with its class, e.g. "test row 3 (class 7)"."""
        y = self.data.y_test
        if y is None or self.data.labels is None:
            return f"test row {i}"
        classes = self.data.info.classes
        return f"test row {i} (class {classes[y[i]] if classes else y[i]})"

    def given(self, i: int, j: int) -> np.ndarray | None:
        """Conditions of test rows i..j-1 for a conditional model, else None."""
        return None if self.cond is None else self.cond[i:j]

    def rolls(self, x: np.ndarray, titles: Sequence[str], title: str, ncols: int | None = None) -> str:
        """Piano rolls of token examples (N, *shape), one captioned by each of ``titles``."""
        info = self.data.info
        fig = plots.piano_rolls(x, tuple(info.pitch_range), titles=list(titles), voices=info.voices,
                                      steps_per_bar=4 * int(info.steps_per_quarter), ncols=ncols,
                                      title=title)
        return img(fig, title)

    def rows(self, x: np.ndarray, first: str | None = None, keys: Sequence[Any] = ()) -> str:
        """A table of rows ``x`` (N, D) under the column names, with an optional first column."""
        x = np.asarray(x).reshape(len(x), -1)
        header = ([first] if first else []) + self.columns
        cells: list[list[Any]] = [list(r) for r in x]
        if self.categories is not None:  # category names for codes, blanks for missing cells
            cells = [[decode_cell(float(v), c) for v, c in zip(r, self.categories, strict=True)] for r in x]
        return table(header, [([k] if first else []) + r for k, r in
                               zip(keys if first else [None] * len(x), cells, strict=True)])


# -- sections -------------------------------------------------------------------------------


def _summary(model: Autoencoder, run: RunDir, data: Dataset) -> str:
    config = run.read_config()
    history = run.read_metrics()
    train = config.train
    best: Any = "unknown"
    if run.has(run.TRAINER_STATE):
        best = int(run.load_trainer_state()["best_epoch"])
    last = history[-1] if history else {}
    overview = {
        "run directory": str(run),
        "epochs done": f"{len(history)}" + (f" of {train.epochs}" if train else ""),
        "best epoch (the weights shown)": best,
        "parameters": f"{sum(p.numel() for p in model.parameters()):,}",
        **{f"last {k.replace('_', ' ')}": v for k, v in last.items()
           if k.endswith(LOSS_TERMS if model.variational else LOSS_TERMS[:2]) and isinstance(v, float)},
        "weights (SHA-256)": (model.weights_id or "in memory, not saved")[:16],
        "trained with vaelab": config.vaelab_version,
        "report by vaelab": __version__,
        "report date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
    }
    # settings that take no effect on this model are left out: DataInfo's None means "not this kind
    # of data" (no pitch range on images), and each config field says when it applies
    info = {k: v for k, v in data.info.to_dict().items() if v is not None}
    info |= {"training rows": len(data.x_train), "test rows": len(data.x_test)}
    parts = [("Overview", overview), ("Model", applicable(model.config, model.config)), ("Data", info)]
    if train is not None:
        parts.append(("Training", applicable(train, model.config)))
    return side_by_side(*(f"<h3>{title}</h3>{kv(pairs)}" for title, pairs in parts))


# what the report shows of RUN/evaluation.json, in this order
EVALUATION_ROWS = {
    "data": "data", "split": "split", "n": "rows", "neg_elbo": "-ELBO (nats)", "rec": "reconstruction (nats)",
    "kl": "KL (nats)", "nll_iwae": "NLL, importance-weighted (nats)", "iwae_k": "importance samples k",
    "bits_per_dim": "bits per dimension", "active_units": "active units",
    "probe_accuracy": "linear probe accuracy",
    "classifier_accuracy": "feature classifier accuracy",
    "label_accuracy": "label accuracy of conditional samples", "fd_samples": "Fréchet distance: samples",
    "fd_recon": "Fréchet distance: reconstructions", "fd_floor": "Fréchet distance: train (floor)",
    "precision": "precision (k-NN)", "recall": "recall (k-NN)",
    "token_accuracy": "token accuracy (greedy reconstruction)", "nll_per_step": "NLL per step (nats)",
    "neg_elbo_per_step": "-ELBO per step (nats)",
}


def _with_error(record: dict[str, Any], key: str) -> Any:
    """``record[key]``, as "mean ± standard error" text where the record has ``KEY_se`` (-ELBO, NLL)."""
    se = record.get(f"{key}_se")
    return record[key] if se is None else f"{fmt(float(record[key]))} ± {float(se):.2g}"


def _evaluation(run: RunDir, model: Autoencoder) -> str:
    path = run.file(run.EVALUATION)
    command = f"vaelab evaluate {html.escape(str(run))}"
    try:
        record = run.read_evaluation(model.weights_id)
        if record is None:
            return (f'<p class="note">Not evaluated yet: <code>{command}</code> adds likelihoods, '
                    "active units, a linear probe and Fréchet distances here.</p>")
        if record.get("stale") or model.weights_id is None:
            return (f'<p class="note">The last evaluation scored other weights than these (the run was '
                    f"trained again since), so it is not shown: <code>{command}</code> scores these.</p>")
        rows = {title: _with_error(record, key) for key, title in EVALUATION_ROWS.items()
                if record.get(key) is not None}
        notes = [str(n) for n in record.get("notes", [])]
        if record.get("neg_elbo_se") is not None:
            same = "" if record.get("nll_iwae") is None else "; the -ELBO and the NLL come from the same " \
                "importance samples of each row, so the NLL is never above the -ELBO"
            notes.insert(0, f"± is the standard error of the mean over the rows{same}.")
    except (ValueError, TypeError, AttributeError) as err:
        return f'<p class="note">{html.escape(str(path))} is unreadable ({html.escape(str(err))}).</p>'
    extra = "".join(f'<p class="note">{html.escape(n)}</p>' for n in notes)
    music = ""
    if isinstance(record.get("baselines"), dict):
        music += "<h3>Next-token baselines on the same rows</h3>" + table(
            ["baseline", "NLL per step (nats)", "accuracy"],
            [[name, b.get("nll_per_step"), b.get("accuracy")] for name, b in record["baselines"].items()])
    if isinstance(record.get("harmony"), dict):
        fields = ["alto_pitch_accuracy", "tenor_pitch_accuracy", "bass_pitch_accuracy", "alto_accuracy",
                  "tenor_accuracy", "bass_accuracy", "order", "in_range", "parallels_per_100_beats"]
        music += "<h3>Harmonizations of the test sopranos</h3>" + table(
            ["", *fields], [[who, *(h.get(f) for f in fields)] for who, h in record["harmony"].items()])
    return (f'<p class="note">From {html.escape(run.EVALUATION)}, written by '
            f"<code>vaelab evaluate</code>.</p>{kv(rows)}{music}{extra}")


def _curves(run: RunDir, model: Autoencoder) -> str:
    history = run.read_metrics()
    if not history:
        return '<p class="note">No completed epoch yet, so no curves.</p>'
    collapsed = kl_collapse(history) if model.variational else None
    note = ""
    if collapsed is not None:
        note = (f'<p class="note">The KL fell below {COLLAPSE_NATS} nats at epoch {collapsed} and stayed '
                "there: the posterior collapsed and the decoder ignores z. Try a KL warm-up "
                "(--kl-warmup 10), cyclical annealing (--kl-schedule cyclical), free bits "
                "(--free-bits 0.5) or a smaller --beta.</p>")
    return note + img(plots.training_curves(history, collapse_epoch=collapsed),
                       "loss, reconstruction and KL per epoch")


def _reconstruct(model: Autoencoder, x: np.ndarray, y: np.ndarray | None) -> np.ndarray:
    y_t = None if y is None else torch.as_tensor(y, device=model.device)
    return model.reconstruct(torch.from_numpy(x).to(model.device), y_t).cpu().numpy()


def _reconstructions(page: _Page, model: Autoencoder) -> str:
    if page.music:
        shown = music_pairs(model, page.data.x_test[:3], torch.Generator(model.device).manual_seed(0))
        return page.rolls(shown.tokens, shown.titles, shown.title, ncols=2)
    n = 20 if page.image else N_SHOWN
    x = page.data.x_test[:n]
    recon = _reconstruct(model, x, page.given(0, n))
    if page.image:
        return img(plots.reconstruction_grid(x, recon, page.value_range),
                    "test images above their reconstructions")
    cats = page.categories or [()] * len(page.columns)
    errors = [noise.category_accuracy(x[:, [j]], recon[:, [j]], [c]) if c else
              noise.rmse(x[:, j], recon[:, j]) for j, c in enumerate(cats)]
    what = "RMSE per numeric column in data units, share right per categorical column" if page.categories \
        else "RMSE per column in data units"
    return (side_by_side("<h3>Test rows</h3>" + page.rows(x),
                          "<h3>Their reconstructions</h3>" + page.rows(recon))
            + f"<h3>{what}, on these rows</h3>" + table(page.columns, [errors]))


def _samples(page: _Page, model: Autoencoder, gmm: GMMSampler, gmm_note: str) -> str:
    if page.music and model.harmonizes:
        return ('<p class="note">A harmonizer writes voices under a given melody; see the '
                "reconstructions above, and <code>vaelab accompany RUN melody.mid</code>.</p>")
    n = 6 if page.music else 64 if page.image else N_SHOWN
    blocks = []
    sources: list[tuple[str, str | GMMSampler]] = [("the prior N(0, I)", "prior")] if model.generative else []
    sources.append((f"a {len(gmm.weights)}-component GMM over the codes", gmm))
    y, classes = None, None
    if page.cond is not None and model.config.condition == "label":  # a row of 8 per class
        classes = list(page.data.info.classes or range(model.config.n_conditions))
        n = 8 * len(classes)
        y = np.repeat(np.arange(len(classes)), 8)
    elif page.cond is not None:  # each sample gets a test row's conditions
        y = page.cond[np.arange(n) % len(page.cond)]
    for title, sampler in sources:
        x = latent.sample(model, n, generator=torch.Generator().manual_seed(0), sampler=sampler, y=y,
                          token_temperature=0.5 if page.music else None)
        x = x.cpu().numpy()
        if page.music:
            shown = page.rolls(x, [f"sample {k}" for k in range(len(x))], title)
        elif page.image and classes is not None:
            shown = img(plots.labelled_rows(x.reshape(len(classes), 8, *x.shape[1:]), page.value_range,
                                             [str(c) for c in classes]), title)
        elif page.image:
            shown = img(plots.image_grid(x, page.value_range), title)
        else:
            shown = page.rows(x)
        blocks.append(f"<h3>From {title}</h3>" + shown)
    note = "the same seed for both" if model.generative else "an AE has no prior"
    if classes is not None:
        note += "; one row per label"
    elif y is not None:
        note += "; each sample gets a test row's conditions"
    return (side_by_side(*blocks) + f'<p class="note">GMM: {html.escape(gmm_note)} (ex-post '
            f"density estimation, Ghosh et al. 2020); {note}.</p>")


def _pair(page: _Page) -> tuple[int, int] | None:
    """Two test rows, of different classes where there are labels; of the same class for a
    label-conditioned model, which decodes the whole path with one label."""
    n, y = len(page.data.x_test), page.data.y_test
    if n < 2:
        return None
    if page.cond is not None and y is not None and y.ndim == 1:
        same = np.flatnonzero(y[1:] == y[0]) + 1
        if len(same):
            return 0, int(same[0])
    elif y is not None and y.ndim == 1:
        other = np.flatnonzero(y != y[0])
        if len(other):
            return 0, int(other[0])
    return 0, 1


def _interpolation(page: _Page, model: Autoencoder) -> str:
    if page.music and model.harmonizes:
        return '<p class="note">Not drawn for a harmonizer, whose decoder needs a melody.</p>'
    pair = _pair(page)
    if pair is None:
        return '<p class="note">The test split has fewer than 2 rows.</p>'
    i, j = pair
    x = page.data.x_test
    frames = latent.interpolate(model, x[i:i + 1], x[j:j + 1], steps=10, method="slerp",
                                y=page.given(i, i + 1))
    frames_np = frames.decoded.cpu().numpy()
    title = f"slerp from {page.label(i)} to {page.label(j)}"
    t = np.linspace(0.0, 1.0, len(frames_np))
    if page.music:
        return page.rolls(frames_np[::3], [f"t = {v:.2f}" for v in t[::3]], title)
    if page.image:
        return img(plots.interpolation_strip(frames_np, page.value_range, title=title), title)
    return f"<h3>{html.escape(title)}</h3>" + page.rows(frames_np, "t", t)


def _traversals(page: _Page, model: Autoencoder) -> str:
    if page.music and model.harmonizes:
        return '<p class="note">Not drawn for a harmonizer, whose decoder needs a melody.</p>'
    x = page.data.x_test
    t = latent.traverse(model, x[:1], reference=x, n_dims=min(5, model.config.latent_dim),
                        y=page.given(0, 1), reference_y=page.cond)
    title = f"{page.label(0)}, most used dimensions first"
    if page.music:  # the most used dimension at three values
        values = t.values.tolist()
        pick = [0, len(values) // 2, len(values) - 1]
        shown = t.images[0, pick].cpu().numpy()
        return page.rolls(shown, [f"z{t.dims[0]} = {fmt(float(values[k]))}" for k in pick], title)
    if page.image:
        return img(plots.traversal_grid(t.images.cpu().numpy(), page.value_range, t.dims,
                                         t.values.tolist(), title=title), title)
    shown = t.images[:3].cpu().numpy()  # (3, V, D): the three most used dimensions
    keys = [f"z{d} = {fmt(float(v))}" for d in t.dims[:3] for v in t.values.tolist()]
    return (f"<h3>{html.escape(title)}</h3>"
            + page.rows(shown.reshape(-1, shown.shape[-1]), "code", keys))


def _latent_map(model: Autoencoder, data: Dataset) -> str:
    cond = data.y_test if model.conditional else None
    z = latent.codes(model, data.x_test, cond)
    how = "z0 and z1" if z.shape[1] <= 2 else "the first two principal components"
    fig = plots.latent_scatter(z, data.y_test if data.labels else None, class_names=data.info.classes,
                                      title=f"codes of {len(z)} test rows")
    return (f'<p class="note">Codes ({"posterior means" if model.generative else "encoder outputs"}) '
            f"of the test rows, {how}, coloured by label.</p>" + img(fig, "latent map"))


def _dimensions(model: Autoencoder, data: Dataset) -> str:
    x, z_dim = data.x_test, model.config.latent_dim
    if len(x) < 2:
        return '<p class="note">The test split has fewer than 2 rows.</p>'
    cond = data.y_test if model.conditional else None
    active = metrics.active_units(model, x, y=cond)
    text = (f"<p><b>{active} of {z_dim}</b> active units: dimensions whose code varies over the test "
            "rows with variance above 0.01 (Burda et al. 2016, sec. 5.2)")
    if not model.generative:
        return text + "; an AE's codes have an arbitrary scale, so the count is only a hint.</p>"
    kl = metrics.kl_per_dimension(model, x, y=cond)
    return (text + f". The plot counts another way: dimensions whose mean KL exceeds 0.01 nats "
            f"({int((kl > 0.01).sum())} of {z_dim}). Total KL on the test rows: {kl.sum():.3g} "
            "nats.</p>" + img(plots.kl_per_dimension(kl), "KL per latent dimension"))
