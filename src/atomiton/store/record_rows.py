"""The rows of a run's record as the recorder's writer thread folds events into them, and
their writing: ``RunRecord`` (what the writer knows of one run), ``NodeRow`` (a row of the
``nodes`` table), ``apply_node_event`` (a node event's effect on its row), ``event_dict`` (an
event as the stored stream holds it) and ``BatchWrites`` (the rows one batch writes, in one
transaction). Queuing events, the writer thread, encoding values and the heartbeat are
``recorder``'s; the tables are ``schema``'s; the value rules are ``values``'.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from dataclasses import dataclass, field
from typing import Any, Final, cast

from ..runtime.events import (
    Event,
    NodeCompleted,
    NodeEvent,
    NodeFailed,
    NodeRetrying,
    NodeSkipped,
    NodeStarted,
    event_to_dict,
)
from ..runtime.model import Blueprint
from .records import NodeState, RunStatus
from .values import Encoded

# One encoder for every batch: ``json.dumps`` with options builds a new one per call.
_ENCODER: Final = json.JSONEncoder(ensure_ascii=False, default=str)

_FIELDS: dict[type[Event], tuple[str, ...] | None] = {}


def event_dict(event: Event) -> dict[str, object]:
    """``event_to_dict(event)``, faster: the field names of each event class are read once."""
    names = _FIELDS.get(type(event), ())
    if names == ():
        # A node's value is stored with the node (``values.py``'s rules), not in the stream.
        fields = tuple(f.name for f in dataclasses.fields(event) if f.name != "value")
        # Only events without a trace take the short way; a trace needs ``event_to_dict``.
        names = _FIELDS[type(event)] = None if "trace" in fields else fields
    if names is None:
        return event_to_dict(event)
    data: dict[str, object] = {"event": event.kind}
    for name in names:
        data[name] = getattr(event, name)
    if "supplied" in data and data["supplied"] is None:
        del data["supplied"]  # as ``event_to_dict``: only a supplied node says so
    return data


@dataclass
class NodeRow:
    """A node's row while its run is recorded (the ``nodes`` table's columns, in order)."""

    index: int
    type: str
    state: NodeState = "pending"
    started: float | None = None
    ended: float | None = None
    duration: float | None = None
    attempts: int = 0
    error: str | None = None
    error_type: str | None = None
    source: str = ""
    line: int = 0
    column: int = 0
    output: str | None = None
    version: str | None = None


@dataclass
class RunRecord:
    """What the writer knows of one run it records."""

    run_id: str
    blueprint: Blueprint | None
    seq: int = 0
    status: RunStatus = "running"
    ended: float | None = None
    error: str | None = None
    error_type: str | None = None
    error_node: str | None = None
    nodes: dict[str, NodeRow] = field(default_factory=dict)
    dirty: set[str] = field(default_factory=set)


_RUN_COLUMNS: Final = (
    "id, blueprint_id, name, version, source, sha256, path, atomiton_version, started, inputs,"
    " pid, host, status, heartbeat"
)


@dataclass
class BatchWrites:
    """The rows one batch writes, gathered before the transaction so that it stays short."""

    started: list[tuple[Any, ...]] = field(default_factory=list)
    # Per run: the sequence number of the batch's first event, and the events as dicts.
    events: dict[str, tuple[int, list[dict[str, object]]]] = field(default_factory=dict)
    outputs: list[tuple[str, Encoded]] = field(default_factory=list)
    # Node values whose stored form refers to blobs, per run.
    values: list[tuple[str, Encoded]] = field(default_factory=list)
    touched: set[str] = field(default_factory=set)
    ended: list[str] = field(default_factory=list)

    def apply(self, conn: sqlite3.Connection, runs: dict[str, RunRecord], now: float) -> None:
        for row in self.started:
            *fields, inputs = row[:10]
            text = None if inputs is None else inputs.text
            conn.execute(
                f"INSERT OR REPLACE INTO runs ({_RUN_COLUMNS}) VALUES"
                " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'running', ?)",
                (*fields, text, *row[10:], now),
            )
            if inputs is not None:
                _store_blobs(conn, row[0], inputs)
        # One row per run and batch: the events as a JSON array, numbered first..last.
        conn.executemany(
            "INSERT OR REPLACE INTO events VALUES (?, ?, ?, ?)",
            [
                (run_id, first, first + len(items) - 1, _ENCODER.encode(items))
                for run_id, (first, items) in self.events.items()
            ],
        )
        for run_id in self.touched | {row[0] for row in self.started}:
            run = runs.get(run_id)
            if run is None:
                continue
            conn.executemany(
                "INSERT OR REPLACE INTO nodes VALUES"
                " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [_node_row(run_id, node_id, run.nodes[node_id]) for node_id in run.dirty],
            )
            run.dirty.clear()
            conn.execute(
                "UPDATE runs SET status = ?, ended = ?, error = ?, error_type = ?,"
                " error_node = ?, heartbeat = ? WHERE id = ?",
                (run.status, run.ended, run.error, run.error_type, run.error_node, now, run_id),
            )
        for run_id, encoded in self.outputs:
            conn.execute("UPDATE runs SET outputs = ? WHERE id = ?", (encoded.text, run_id))
            _store_blobs(conn, run_id, encoded)
        for run_id, encoded in self.values:
            _store_blobs(conn, run_id, encoded)


def _store_blobs(conn: sqlite3.Connection, run_id: str, encoded: Encoded) -> None:
    for blob in encoded.blobs:
        conn.execute(
            "INSERT OR IGNORE INTO blobs (sha256, kind, size, data) VALUES (?, ?, ?, ?)",
            (blob.sha256, blob.kind, len(blob.data), blob.data),
        )
        conn.execute("INSERT OR IGNORE INTO run_blobs VALUES (?, ?)", (run_id, blob.sha256))


def _node_row(run_id: str, node_id: str, node: NodeRow) -> tuple[object, ...]:
    return (
        run_id,
        node_id,
        node.index,
        node.type,
        node.state,
        node.started,
        node.ended,
        node.duration,
        node.attempts,
        node.error,
        node.error_type,
        node.source,
        node.line,
        node.column,
        node.output,
        node.version,
    )


def apply_node_event(node: NodeRow, event: NodeEvent) -> None:
    if isinstance(event, NodeStarted):
        node.state = "running"
        node.attempts = max(node.attempts, event.attempt)
        if node.started is None or event.attempt == 1:
            node.started = event.timestamp
            node.ended = node.duration = None
    elif isinstance(event, NodeCompleted):
        # A supplied value (pinned, cached, resumed) is the node's state: it did not run.
        node.state = cast(NodeState, event.supplied) if event.supplied else "done"
        node.ended = event.timestamp
        node.duration, node.attempts = event.duration, event.attempts
        node.error = node.error_type = None
    elif isinstance(event, NodeFailed):
        node.state, node.ended = "failed", event.timestamp
        node.duration, node.attempts = event.duration, event.attempts
        node.error, node.error_type = event.error, event.error_type
    elif isinstance(event, NodeRetrying):
        node.attempts = max(node.attempts, event.attempt)
    elif isinstance(event, NodeSkipped):
        node.state, node.ended = "skipped", event.timestamp
        if event.reason:
            node.error = event.reason
