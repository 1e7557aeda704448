"""The web page, as one HTML document: the bundled CSS and JavaScript inlined, data optional.

The same document serves the live view (no data: the script connects to ``/rpc``) and
``atomiton runs report`` (a recorded run's ``ViewModel`` embedded: graph, states, timeline with
the critical path, failures at their YAML positions; no network needed to open it, so it can be
attached to a CI job). The page's files ship as package data in ``static/``; nothing comes from a
CDN. The run comes from the history (``history.py``), its graph from its blueprint file when that
still compiles.
"""

from __future__ import annotations

import html
import re
from importlib.resources import files
from pathlib import Path

from .history import get_run
from .protocol import ViewModel
from .runs import graph_or_none
from .view import build_view

_PLACEHOLDER = re.compile(r"\{\{(TITLE|CSS|DATA|JS)\}\}")


def _asset(name: str) -> str:
    return files("atomiton.serve").joinpath("static", name).read_text(encoding="utf-8")


def render_page(view: ViewModel | None) -> str:
    """The page; with ``view`` it shows that run and opens no connection."""
    data = "null" if view is None else view.model_dump_json()
    # Inside <script>, "</" could end the element early; JSON allows writing it as "<\/".
    data = data.replace("</", "<\\/")
    title = html.escape(view.title if view is not None and view.title else "atomiton")
    parts = {"TITLE": title, "CSS": _asset("view.css"), "DATA": data, "JS": _asset("view.js")}
    # One pass: text put in (a blueprint's title, say) is never read as a placeholder again.
    return _PLACEHOLDER.sub(lambda match: parts[match.group(1)], _asset("view.html"))


class ReportError(Exception):
    """The run cannot be reported (not in the history)."""


def report_html(run_id: str, *, db: Path | None = None) -> str:
    """The report of run ``run_id`` (a unique prefix will do) from the history at ``db``.

    Raises:
        ReportError: the history has no such run.
        StoreError: the history cannot be read, or the prefix is ambiguous.
    """
    found = get_run(db, run_id)
    if found is None:
        raise ReportError(f"no run {run_id!r} in the run history")
    graph = graph_or_none(found.summary.source)
    view = build_view(
        graph,
        found.events,
        found.summary,
        inputs=found.inputs,
        outputs=found.outputs,
        values=found.values,
    )
    return render_page(view)
