"""What reading the run history returns: ``RunSummary``, ``RunDetail`` and ``NodeRecord``, frozen
and each with a JSON form (``to_json``) for the command line and the server.

The states a run and a node can be in are named here, once; the SQL that fills these records is
``runstore.py``'s, the writing is ``recorder.py``'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

RunStatus = Literal["running", "completed", "failed", "cancelled", "interrupted"]
RUN_STATUSES: Final[tuple[RunStatus, ...]] = (
    "running",
    "completed",
    "failed",
    "cancelled",
    "interrupted",
)
# ``pinned``, ``cached``, ``resumed``: the node's value was supplied instead of running it.
NodeState = Literal[
    "pending", "running", "done", "failed", "skipped", "pinned", "cached", "resumed"
]
NODE_STATES: Final[tuple[NodeState, ...]] = (
    "pending",
    "running",
    "done",
    "failed",
    "skipped",
    "pinned",
    "cached",
    "resumed",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class RunSummary:
    """One run as a row of the runs table: who ran, how it ended, when and how long."""

    id: str
    blueprint_id: str
    name: str
    version: str
    status: RunStatus
    started: float  # seconds since the epoch
    ended: float | None
    error: str | None

    @property
    def duration(self) -> float | None:
        """Seconds from start to end; None while running (or when the end is unknown)."""
        return None if self.ended is None else max(0.0, self.ended - self.started)

    def to_json(self) -> dict[str, object]:
        """The JSON-ready form (``duration`` included)."""
        return {
            "id": self.id,
            "blueprint_id": self.blueprint_id,
            "name": self.name,
            "version": self.version,
            "status": self.status,
            "started": self.started,
            "ended": self.ended,
            "duration": self.duration,
            "error": self.error,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeRecord:
    """One node of a run: its state, timing, attempts, and its error at its YAML position.

    ``source`` is the node's blueprint file as the compiled module names it (relative to the
    run's blueprint folder for a run started from a file); ``line`` and ``column`` are 1-based.
    """

    node_id: str
    index: int
    type: str
    state: NodeState
    started: float | None
    ended: float | None
    duration: float | None
    attempts: int
    error: str | None
    error_type: str | None
    source: str
    line: int
    column: int
    # What the node produced (a JSON value or a marker, ``values.py``); ``has_output`` tells a
    # recorded None from a value that was never recorded (a node that did not complete).
    output: object = None
    has_output: bool = False
    # The node's code version when the run's module recorded one (docs/versions.md).
    version: str | None = None

    @property
    def position(self) -> str:
        """``file:line:column`` of the node in its blueprint."""
        return f"{self.source}:{self.line}:{self.column}"

    def to_json(self) -> dict[str, object]:
        """The JSON-ready form (``position`` included)."""
        return {
            "node_id": self.node_id,
            "index": self.index,
            "type": self.type,
            "state": self.state,
            "started": self.started,
            "ended": self.ended,
            "duration": self.duration,
            "attempts": self.attempts,
            "error": self.error,
            "error_type": self.error_type,
            "source": self.source,
            "line": self.line,
            "column": self.column,
            "position": self.position,
            "version": self.version,
            **({"output": self.output} if self.has_output else {}),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class RunDetail:
    """Everything recorded about one run, its nodes in blueprint order.

    ``inputs`` and ``outputs`` are JSON values (None when not recorded); a value stored as a blob
    or left out shows as a marker object (see ``values.py``); ``RunStore.blob`` reads a blob.
    """

    summary: RunSummary
    source: str
    sha256: str
    path: str | None  # the blueprint file the run was started from, when known
    atomiton_version: str
    inputs: object
    outputs: object
    error_type: str | None
    error_node: str | None
    pid: int | None
    host: str | None
    nodes: tuple[NodeRecord, ...]
    events: int  # how many events were recorded
    resumed_from: str | None = None  # the run this one resumed (``run --resume``)

    @property
    def id(self) -> str:
        """The run id."""
        return self.summary.id

    @property
    def status(self) -> RunStatus:
        """How the run ended (or ``running``)."""
        return self.summary.status

    def to_json(self) -> dict[str, object]:
        """The JSON-ready form: the summary's fields, then the rest, nodes as a list."""
        return {
            **self.summary.to_json(),
            "source": self.source,
            "sha256": self.sha256,
            "path": self.path,
            "atomiton_version": self.atomiton_version,
            "inputs": self.inputs,
            "outputs": self.outputs,
            "error_type": self.error_type,
            "error_node": self.error_node,
            "pid": self.pid,
            "host": self.host,
            "events": self.events,
            "nodes": [node.to_json() for node in self.nodes],
        }
