"""The HTML building blocks of the run report (:mod:`vaelab.report`): the inline stylesheet, pictures
as inline PNGs, key-value tables and plain tables, side-by-side blocks. Every value is escaped."""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from typing import Any

import numpy as np

DPI = 80  # small pictures keep the page light: about 300 KB for digits

CSS = """
body { font: 15px/1.45 system-ui, sans-serif; color: #222; max-width: 1100px; margin: 1.5em auto;
       padding: 0 1em; }
h1 { font-size: 1.6em; margin-bottom: 0.1em; } h2 { border-bottom: 1px solid #ccc; margin-top: 1.8em; }
h3 { font-size: 1em; margin: 0.6em 0 0.3em; }
.sub, .note { color: #666; } nav a { margin-right: 0.9em; }
table { border-collapse: collapse; font-size: 13px; margin: 0.4em 0 0.8em;
        display: block; overflow-x: auto; max-width: 100%; }  /* wide tables scroll */
td, th { border: 1px solid #ddd; padding: 2px 8px; text-align: right; }
th { background: #f3f3f3; } td.k { text-align: left; font-weight: 600; background: #fafafa; }
td.t { text-align: left; }
.row { display: flex; flex-wrap: wrap; gap: 1.5em; align-items: flex-start; }
.row > div { flex: 1 1 230px; min-width: 0; overflow-x: auto; }  /* wide tables scroll, never overlap */
img { max-width: 100%; height: auto; }
"""


def img(fig: Any, alt: str) -> str:
    """A Figure as an <img> with its PNG inline (no metadata, so no address in the file)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt)}">'


def fmt(v: Any) -> str:
    if isinstance(v, float | np.floating):
        return f"{float(v):.4g}"
    if isinstance(v, list | tuple):
        return ", ".join(map(fmt, v)) if len(v) <= 20 else ", ".join(map(fmt, v[:20])) + \
            f", ... ({len(v)} in all)"
    return "none" if v is None else str(v)


def kv(pairs: dict[str, Any]) -> str:
    rows = "".join(f'<tr><td class="k">{html.escape(k)}</td><td class="t">{html.escape(fmt(v))}'
                   "</td></tr>" for k, v in pairs.items())
    return f"<table>{rows}</table>"


def table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(fmt(v))}</td>" for v in row) + "</tr>"
                   for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def side_by_side(*blocks: str) -> str:
    return '<div class="row">' + "".join(f"<div>{b}</div>" for b in blocks) + "</div>"
