"""The ``report`` command: write a run's self-contained HTML report (``vaelab.report``)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from vaelab import report
from vaelab.cli.common import add_data_args, add_run_command, device_arg, gmm_sampler, open_run, run_data
from vaelab.files import atomic_path
from vaelab.run import RunDir


def cmd_report(args: argparse.Namespace) -> int:
    path = Path(args.out) if args.out else Path(args.run) / RunDir.REPORT
    if path.suffix.lower() not in (".html", ".htm"):
        raise ValueError(f"--out {path}: the report is an HTML page; give a FILE.html")
    if path.is_dir():
        raise ValueError(f"--out {path} is a directory; give a FILE.html")
    model, run, _ = open_run(args)
    if not args.out:
        path = run.derived_path(RunDir.REPORT)  # in the cache folder when RUN cannot be written
    data = run_data(args, model, run)
    # The GMM belongs to the run: cached in RUN/ only when fitted on the run's own training data.
    gmm, _ = gmm_sampler(model, run, None, data, cache=args.data is None)
    text = report.build_report(model, run, data, gmm=gmm)
    with atomic_path(path) as tmp:  # --out may be anywhere, RUN/report.html by default
        tmp.write_text(text, encoding="utf-8")
    print(path)
    return 0


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """Register report."""
    p = add_run_command(sub, common, "report",
                        "write a self-contained HTML report of a run (RUN/report.html)", cmd_report)
    add_data_args(p, default="the run's training data")
    p.add_argument("--out", metavar="FILE", help=f"where to write the page (default: RUN/{RunDir.REPORT}, or "
                   "$VAELAB_CACHE/runs/... when RUN cannot be written)")
    device_arg(p)
