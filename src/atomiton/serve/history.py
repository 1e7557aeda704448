"""The server's side of the run history: record its runs, read past runs for the page.

The history itself (SQLite, schema, recorder) is ``atomiton.store``'s; this module only opens it
for the server and turns its records into protocol items. Reading never creates a database: a
server started where no run was ever recorded lists only its own runs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from ..compiler.ir import Graph
from ..runtime.model import Blueprint
from ..store import RunRecorder, RunStore, RunSummary, default_db_path
from ..store.values import encode
from .protocol import RunSummaryItem


def recorder(db: Path | None, blueprint: Blueprint, inputs: BaseModel, path: Path) -> RunRecorder:
    """A hook recording one run of ``blueprint`` into ``db`` (the project's default when None)."""
    return RunRecorder(db, blueprint=blueprint, inputs=inputs, path=path)


def finish(hook: RunRecorder | None, outputs: BaseModel | None) -> None:
    """Record the outputs (if the run completed), write everything queued and close."""
    if hook is None:
        return
    if outputs is not None and hook.run_ids:
        hook.record_outputs(hook.run_ids[-1], outputs)
    hook.close()


def _existing(db: Path | None) -> Path | None:
    path = db if db is not None else default_db_path()
    return path if path.is_file() else None


def list_runs(
    db: Path | None, *, blueprint: str | None, status: str | None, last: int | None
) -> list[RunSummaryItem]:
    """Past runs of the history, newest first (none when there is no database yet)."""
    path = _existing(db)
    if path is None:
        return []
    with RunStore.open(path) as runs:
        found = runs.list_runs(blueprint=blueprint, status=status, last=last)  # type: ignore[arg-type]
    return [summary_item(item) for item in found]


@dataclass
class FoundRun:
    """A run of the server or of the history, as the methods and the report need it."""

    summary: RunSummaryItem
    events: list[dict[str, Any]]
    graph: Graph | None = None
    inputs: object = None
    outputs: object = None
    # Node id -> the node's value as the history stores it (``shown``).
    values: dict[str, object] = field(default_factory=dict)


def shown(values: Mapping[str, object]) -> dict[str, object]:
    """Node values of a live run in the form the history stores them (JSON, or a marker).

    The blobs a marker names are not kept: the page shows the marker (type, size, hash).
    """
    return {node_id: json.loads(encode(value).text) for node_id, value in values.items()}


def get_run(db: Path | None, run_id: str) -> FoundRun | None:
    """A past run (summary, events in order, inputs, outputs), or None if the history lacks it."""
    path = _existing(db)
    if path is None:
        return None
    with RunStore.open(path) as runs:
        detail = runs.get_run(run_id)
        if detail is None:
            return None
        events = runs.events(detail.id)
    return FoundRun(
        summary_item(detail.summary, detail.path),
        [strip_seq(e) for e in events],
        inputs=detail.inputs,
        outputs=detail.outputs,
        values={node.node_id: node.output for node in detail.nodes if node.has_output},
    )


def summary_item(summary: RunSummary, source: str | None = None) -> RunSummaryItem:
    """A store summary as the protocol's."""
    return RunSummaryItem(
        runId=summary.id,
        blueprint=summary.name or summary.blueprint_id,
        status=summary.status,
        started=summary.started,
        ended=summary.ended,
        duration=summary.duration,
        source=source,
    )


def strip_seq(event: dict[str, Any]) -> dict[str, Any]:
    """An event as ``event_to_dict`` made it (the store adds its sequence number)."""
    return {key: value for key, value in event.items() if key != "seq"}
