"""``atomiton runs report``: one finished run as a single self-contained HTML file.

The file is the live page with the run's view embedded (``page.render_page``): graph, node
states, timeline with the critical path, failures at their YAML positions. It loads nothing from
the network, so it can be attached to a CI job and opened anywhere. The run comes from the
history (``history.py``); its graph from its blueprint file when that still compiles.
"""

from __future__ import annotations

from pathlib import Path

from .history import get_run
from .page import render_page
from .runs import graph_or_none
from .view import build_view


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
        graph, found.events, found.summary, inputs=found.inputs, outputs=found.outputs
    )
    return render_page(view)
