"""``vaelab anomaly``: score every row of some data with a trained run, flag the outliers, and
draw the histogram of the scores with the threshold (:mod:`vaelab.anomaly`)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from vaelab import anomaly, plots
from vaelab import export as outputs
from vaelab.cli.common import add_data_args, add_run_command, device_arg, open_run, run_data

SCORE_NAMES = {"elbo": "-ELBO (nats)", "nll": "importance-weighted NLL (nats)",
               "reconstruction": "-log p(x|z) at the code (nats)"}


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """Register anomaly."""
    p = add_run_command(
        sub, common, "anomaly",
        "score every row with a trained run (higher = more abnormal), flag the outliers above a "
        "threshold, and write the scores as CSV with a histogram PNG", cmd_anomaly)
    p.add_argument("--out", required=True, metavar="FILE.csv",
                   help="one line per row: row (0-based, in the data's order), score, outlier (0/1), "
                   "and the label when the data have one")
    p.add_argument("--plot", metavar="FILE.png",
                   help="histogram of the scores with the threshold (default: --out with .png)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--contamination", type=float, default=None, metavar="SHARE",
                   help="expected share of outliers among the rows, in (0, 0.5]: the threshold flags "
                   "that share with the highest scores (default: 0.05)")
    g.add_argument("--threshold", type=float, metavar="SCORE",
                   help="flag rows scoring above this value instead, e.g. the threshold printed by an "
                   "earlier run on normal data")
    p.add_argument("--score", choices=anomaly.SCORES,
                   help="elbo (-ELBO), nll (importance-weighted -log p(x)) or reconstruction "
                   "(-log p(x|z) at the code); default: elbo for a VAE, reconstruction for an AE")
    p.add_argument("--samples", type=int, default=16, metavar="S",
                   help="draws of the code per row for elbo and nll, the same for every row "
                   "(default: 16)")
    p.add_argument("--split", default="all", choices=("train", "test", "all"),
                   help="rows to score (default: all, in the data's order)")
    p.add_argument("--seed", type=int, default=0, help="seed of the draws (default: 0)")
    add_data_args(p, default="the run's training data")
    device_arg(p)


def cmd_anomaly(args: argparse.Namespace) -> int:
    out = outputs.check_suffix(args.out, (".csv",))
    plot = outputs.check_suffix(args.plot, (".png",)) if args.plot else out.with_suffix(".png")
    contamination = anomaly.check_contamination(0.05 if args.contamination is None else args.contamination)
    model, run, device = open_run(args)
    score = anomaly.check_score(model, args.score or anomaly.default_score(model))
    data = run_data(args, model, run)
    x, y = data.split(args.split)
    given = y if model.conditional else None
    scores = anomaly.scores(model, x, given, score=score, samples=args.samples, seed=args.seed)
    if args.threshold is not None:
        threshold, how = float(args.threshold), "given by --threshold"
    else:
        threshold = anomaly.threshold(scores, contamination)
        how = f"the {100 * (1 - contamination):g}th percentile, --contamination {contamination:g}"
    flags = (scores > threshold).astype(np.int64)
    classes = data.info.classes
    labels = np.array([classes[k] for k in y]) if classes is not None and y is not None else None
    columns = ["row", "score", "outlier"]
    outputs.write_csv(out, np.column_stack([np.arange(len(x)), scores, flags]), columns, labels=labels,
                      label_name=data.info.label_column or "label")
    fig = plots.score_histogram(scores, threshold, SCORE_NAMES[score],
                                        labels=y if labels is not None else None, classes=classes,
                                        title=f"{Path(args.run).name} on {data.info.name} ({args.split})")
    outputs.save_figure(fig, plot)
    print(f"scored {len(x)} rows with {SCORE_NAMES[score]}: median {np.median(scores):.4g}; threshold "
          f"{threshold:.6g} ({how}); {int(flags.sum())} rows flagged as outliers")
    print(f"wrote {out} and {plot}")
    return 0
