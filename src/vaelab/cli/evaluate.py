"""The ``evaluate`` command: likelihoods, latent health and sample quality of a run
(``vaelab.evaluate``), printed as a table and written to ``RUN/evaluation.json``."""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

import vaelab
from vaelab.cli.common import add_data_args, add_run_command, device_arg, gmm_sampler, open_run, run_data
from vaelab.data.builtin import cache_dir
from vaelab.evaluation import classifier as feature_net


def cmd_evaluate(args: argparse.Namespace) -> int:
    if args.iwae_k < 0:
        raise ValueError(f"--iwae-k {args.iwae_k}: it must be an integer >= 0 (0 skips the estimate)")
    if args.limit is not None and args.limit < 1:
        raise ValueError(f"--limit {args.limit}: it must be an integer >= 1")
    model, run, _ = open_run(args)
    data = run_data(args, model, run)
    bars = not args.json and sys.stderr.isatty()  # progress bars on stderr, for a person watching
    clf, how = None, "skipped (--no-fidelity)"
    if not args.no_fidelity:
        if data.labels is None:
            how = f"skipped: {data.info.name} has no labels to train the feature classifier on"
        else:
            cache = cache_dir() / "classifiers"
            if not feature_net.is_cached(data, cache):  # the one slow step of a first evaluation
                epochs = feature_net.default_epochs(len(data.x_train))
                print(f"training the feature classifier of the Fréchet distances on {data.info.name} "
                      f"once ({epochs} epochs); later evaluations read it from the cache {cache}",
                      file=sys.stderr)
            clf, loaded = feature_net.feature_classifier(data, cache, device=model.device, progress=bars)
            how = "cached" if loaded else "trained now, cached"
    sampler: Any = "prior"
    if args.sampler == "gmm":
        sampler, _ = gmm_sampler(model, run, None, data, cache=args.data is None)
    result = vaelab.evaluate(model, data, args.split, iwae_k=args.iwae_k, classifier=clf,
                             sampler=sampler, limit=args.limit, seed=args.seed, progress=bars)
    record = {"run": str(run), "data": data.info.source, **result.to_dict(),
              "classifier": how, "sampler": args.sampler, "weights": model.weights_id}
    path = run.write_evaluation(record)
    if args.json:
        print(json.dumps(record))
    else:
        print(format_table(record, model.config.latent_dim))
        print(f"wrote {path}")
    return 0


def _num(value: float | None, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return f"{value:.{digits}f}"


def _mean(r: dict[str, Any], key: str) -> str:
    """A mean over the rows with its standard error where the record has one: "250.02 ± 0.41"."""
    se = r.get(f"{key}_se")
    return _num(r[key]) + ("" if se is None else f" ± {_num(se)}")


def format_table(r: dict[str, Any], latent_dim: int) -> str:
    """The evaluation record as an aligned, readable table."""
    lines = [f"{r['run']} on {r['data']}, {r['split']} split, {r['n']} rows"]

    def row(name: str, value: str, note: str = "") -> None:
        lines.append(f"  {name:<26}{value:>16}  {note}".rstrip())

    if r["neg_elbo"] is not None:
        row("-ELBO (nats)", _mean(r, "neg_elbo"), f"rec {_num(r['rec'])} + KL {_num(r['kl'])}")
    else:
        row("reconstruction (nats)", _num(r["rec"]), "-log p(x | code)")
    if r["nll_iwae"] is not None:
        row(f"NLL, IWAE k={r['iwae_k']} (nats)", _mean(r, "nll_iwae"),
            f"{_num(r['bits_per_dim'], 4)} bits/dim")
    if r.get("neg_elbo_se") is not None:
        draws = f"the same {r['iwae_k']} draws per row, so NLL <= -ELBO" if r["nll_iwae"] is not None \
            else "one draw per row"
        lines.append(f"  (± standard error over the {r['n']} rows; from {draws})")
    if r["active_units"] is not None:
        row("active units", f"{r['active_units']} / {latent_dim}", "Cov_x(E_q[z]) > 0.01")
    if r["probe_accuracy"] is not None:
        row("linear probe accuracy", _num(r["probe_accuracy"], 3), "logistic regression on codes")
    if r.get("baselines"):
        row("token accuracy", _num(r["token_accuracy"], 3), "greedy reconstruction from the code")
        if r.get("nll_per_step") is not None:
            row("NLL per step (nats)", _num(r["nll_per_step"], 3), "IWAE NLL / tokens per example")
        row("-ELBO per step (nats)", _num(r.get("neg_elbo_per_step"), 3))
        for name, b in r["baselines"].items():
            row(f"baseline: {name}", _num(b["nll_per_step"], 3),
                f"nats per step; next-token accuracy {_num(b['accuracy'], 3)}")
    if r.get("harmony"):
        lines.extend(harmony_table(r["harmony"]))
    if r["classifier_accuracy"] is not None:
        row("feature classifier", _num(r["classifier_accuracy"], 3), f"test accuracy ({r['classifier']})")
        if r["label_accuracy"] is not None:
            row("label accuracy", _num(r["label_accuracy"], 3), "samples the classifier labels as the "
                "class they were drawn for")
        row("Fréchet: samples", _num(r["fd_samples"], 3), f"fd_samples, {r['sampler']} vs {r['split']}")
        row("Fréchet: reconstructions", _num(r["fd_recon"], 3), f"fd_recon vs {r['split']}")
        row("Fréchet: train (floor)", _num(r["fd_floor"], 3), f"fd_floor, train vs {r['split']}")
        row("precision / recall", f"{_num(r['precision'], 3)} / {_num(r['recall'], 3)}",
            "k-NN, Kynkäänniemi et al. 2019")
    else:
        row("Fréchet distances", "-", f"feature classifier {r['classifier']}")
    lines += [f"  note: {note}" for note in r["notes"]]
    return "\n".join(lines)


HARMONY_COLUMNS = {"alto_pitch_accuracy": "alto", "tenor_pitch_accuracy": "tenor",
                   "bass_pitch_accuracy": "bass",
                   "order": "SATB order", "in_range": "in range", "parallels_per_100_beats": "par/100"}
HARMONY_ROWS = {"model": "harmonizer", "baseline": "most frequent", "bach": "Bach"}


def harmony_table(h: dict[str, dict[str, float]]) -> list[str]:
    """The harmonizer's voice-leading scores next to the baseline's and Bach's, as table lines."""
    head = "".join(f"{title:>11}" for title in HARMONY_COLUMNS.values())
    lines = [f"  {'harmony (test chorales)':<26}{head}"]
    for key, title in HARMONY_ROWS.items():
        if key in h:
            digits = {"parallels_per_100_beats": 2}
            cells = "".join(f"{_num(h[key].get(c), digits.get(c, 3)):>11}" for c in HARMONY_COLUMNS)
            lines.append(f"    {title:<24}{cells}")
    lines.append("  (alto, tenor, bass: share of steps sounding Bach's pitch; order: beats in SATB order "
                 "without crossing; par/100: parallel fifths and octaves per 100 beats)")
    return lines


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """Register evaluate."""
    p = add_run_command(
        sub, common, "evaluate",
        "score a run: -ELBO, importance-weighted NLL, bits/dim, active units, linear probe, "
        f"Fréchet distances and precision/recall; writes RUN/{vaelab.RunDir.EVALUATION}", cmd_evaluate)
    add_data_args(p, default="the run's training data")
    p.add_argument("--split", default="test", choices=("train", "test", "all"),
                   help="rows to evaluate (default: test)")
    p.add_argument("--iwae-k", type=int, default=1000, metavar="K",
                   help="importance samples per example for the NLL; 5000 for paper tables, "
                   "0 skips it (default: 1000)")
    p.add_argument("--limit", type=int, metavar="N", help="evaluate only the first N rows of the split")
    p.add_argument("--sampler", default="prior", choices=("prior", "gmm"),
                   help="where samples for the Fréchet distance come from; gmm also serves an AE "
                   "(default: prior)")
    p.add_argument("--no-fidelity", action="store_true",
                   help="skip the feature classifier, Fréchet distances and precision/recall")
    p.add_argument("--seed", type=int, default=0, help="seed of every random draw (default: 0)")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object instead")
    device_arg(p)
