"""The messages of ``atomiton serve``: JSON-RPC 2.0 params, results and notifications.

Every method's params and result are pydantic models listed in ``METHODS``; the dispatcher
(``rpc.py``) validates against them and docs/protocol.md is generated from them
(``python -m atomiton.serve.protocol``), so code and documentation cannot drift. What each method
does lives in ``methods.py``; how runs execute, in ``runs.py``.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field


class Message(BaseModel):
    """Base of every protocol model: camelCase on the wire, unknown keys rejected."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


# --- shared pieces -------------------------------------------------------------------------


class DiagnosticItem(Message):
    """One problem in a blueprint, at its YAML position (``line``/``column`` 0: unknown)."""

    severity: Literal["error", "warning"]
    code: str
    message: str
    path: str | None = None
    line: int = 0
    column: int = 0
    hint: str | None = None
    notes: list[str] = Field(default_factory=list)


class RunRef(Message):
    """Names one run."""

    runId: str


class RunAck(Message):
    """A run and its status after the request."""

    runId: str
    status: str


class Empty(Message):
    """No params."""


# --- compile and check ---------------------------------------------------------------------


class CompileParams(Message):
    """A blueprint file (relative paths are taken from the server's working folder)."""

    path: str
    searchPath: list[str] = Field(default_factory=list)


class CompileResult(Message):
    """The generated module, or the diagnostics that stopped it (``ok`` false)."""

    ok: bool
    moduleName: str | None = None
    code: str | None = None
    diagnostics: list[DiagnosticItem]


class CheckParams(Message):
    """A blueprint file; ``types`` also runs mypy --strict on the generated module (slower)."""

    path: str
    searchPath: list[str] = Field(default_factory=list)
    types: bool = False


class CheckResult(Message):
    """Every diagnostic found; ``ok`` when none is an error."""

    ok: bool
    diagnostics: list[DiagnosticItem]


# --- runs ----------------------------------------------------------------------------------


class RunParams(Message):
    """Start a run of the blueprint at ``path``; the call returns as soon as it has started."""

    path: str
    inputs: dict[str, Any] = Field(default_factory=dict)
    concurrency: int | None = Field(default=None, ge=1)
    timeout: float | None = Field(default=None, gt=0)
    searchPath: list[str] = Field(default_factory=list)


class SubscribeParams(Message):
    """Follow one run (``runId``) or every run of this server, present and future (no id).

    The events a run has had so far are sent first, then the live ones, in order.
    """

    runId: str | None = None


class Subscribed(Message):
    """The runs whose events so far were sent."""

    runIds: list[str]


class RunsListParams(Message):
    """Filters of the run history (newest first)."""

    blueprint: str | None = None
    status: str | None = None
    last: int | None = Field(default=None, ge=1)


class RunSummaryItem(Message):
    """One run of the history or of this server."""

    runId: str
    blueprint: str
    status: str
    started: float | None = None
    ended: float | None = None
    duration: float | None = None
    source: str | None = None


class RunsList(Message):
    """Runs, newest first."""

    runs: list[RunSummaryItem]


class NodeStateItem(Message):
    """One node of a run: its state, times, attempts and error (with its YAML position)."""

    id: str
    type: str
    state: Literal["pending", "running", "done", "failed", "skipped", "pinned", "cached", "resumed"]
    started: float | None = None
    ended: float | None = None
    attempts: int = 0
    error: str | None = None
    position: str | None = None


class RunDetailItem(Message):
    """One run with its nodes, the number of events, and its outputs once it completed here."""

    run: RunSummaryItem
    nodes: list[NodeStateItem]
    events: int
    progress: float = 0.0
    outputs: dict[str, Any] | None = None


class EventsParams(Message):
    """The recorded events of a run after sequence number ``after``."""

    runId: str
    after: int = Field(default=0, ge=0)


class EventsResult(Message):
    """Events in order, each ``{"seq": n, "event": {...}}``."""

    events: list[dict[str, Any]]


class RunEventNote(Message):
    """Notification ``run.event``: one event of a run, numbered from 1 in the order it happened."""

    runId: str
    seq: int
    event: dict[str, Any]


# --- nodes and blueprints ------------------------------------------------------------------


class NodeTypeItem(Message):
    """A node type a blueprint can use."""

    type: str
    description: str


class NodesList(Message):
    """Every node type, sorted by name."""

    nodes: list[NodeTypeItem]


class BlueprintItem(Message):
    """A blueprint file of the store folder (``name`` is its path inside the folder)."""

    name: str
    size: int
    modified: float


class BlueprintsList(Message):
    """The blueprint store folder and its files."""

    folder: str
    blueprints: list[BlueprintItem]


class BlueprintName(Message):
    """A blueprint of the store folder, by its path inside it (``orders/clean.yaml``)."""

    name: str


class BlueprintText(Message):
    """A blueprint's text."""

    name: str
    text: str


class BlueprintSave(Message):
    """Write a blueprint into the store folder atomically."""

    name: str
    text: str
    overwrite: bool = True


class BlueprintSaved(Message):
    """What was written."""

    name: str
    bytes: int


# --- the view ------------------------------------------------------------------------------


class ViewParams(Message):
    """The view of a run (``runId``) or of a blueprint not run yet (``path``)."""

    runId: str | None = None
    path: str | None = None


class ViewNode(Message):
    """A node placed on the graph (top-left corner, in pixels) with its state; ``produces``
    names the flow outputs its value becomes."""

    id: str
    type: str
    label: str
    x: float
    y: float
    group: str | None = None
    position: str | None = None
    state: str = "pending"
    produces: list[str] = Field(default_factory=list)


class ViewEdge(Message):
    """An edge between two placed nodes."""

    source: str
    target: str
    label: str = ""


class ViewGroup(Message):
    """The box around the nodes of one inlined sub-blueprint."""

    id: str
    x: float
    y: float
    width: float
    height: float


class TimelineBar(Message):
    """One attempt of a node on the timeline, in seconds from the run's start."""

    node: str
    attempt: int
    start: float
    end: float
    outcome: Literal["done", "failed", "retried", "running", "cached"]


class FailureItem(Message):
    """A node that failed, with its message and YAML position."""

    node: str
    error: str
    errorType: str
    position: str | None = None


class ViewModel(Message):
    """Everything the page draws: laid-out graph, node states, timeline, failures, and the
    run's inputs and outputs when known. ``values`` holds what each completed node produced
    (node id to value, in the run history's stored form: a large or non-JSON value is a
    ``$atomiton`` marker); a node's inputs are the values of the nodes on its incoming edges."""

    title: str
    width: float
    height: float
    nodes: list[ViewNode]
    edges: list[ViewEdge]
    groups: list[ViewGroup]
    run: RunSummaryItem | None = None
    progress: float = 0.0
    timeline: list[TimelineBar] = Field(default_factory=list)
    criticalPath: list[str] = Field(default_factory=list)
    failures: list[FailureItem] = Field(default_factory=list)
    inputs: Any = None
    outputs: Any = None
    values: dict[str, Any] = Field(default_factory=dict)


# --- the method table ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MethodSpec:
    """A method's params and result models and what it does, in one sentence."""

    params: type[Message]
    result: type[Message]
    summary: str


METHODS: Final[dict[str, MethodSpec]] = {
    "compile": MethodSpec(CompileParams, CompileResult, "Compile a blueprint into Python."),
    "check": MethodSpec(CheckParams, CheckResult, "Check a blueprint; diagnostics at positions."),
    "run": MethodSpec(
        RunParams, RunRef, "Start a run on a worker thread and subscribe to its events."
    ),
    "cancel": MethodSpec(RunRef, RunAck, "Cancel a run of this server."),
    "pause": MethodSpec(RunRef, RunAck, "Stop starting nodes of a run until resumed."),
    "resume": MethodSpec(RunRef, RunAck, "Let a paused run go on."),
    "subscribe": MethodSpec(
        SubscribeParams,
        Subscribed,
        "Receive run.event notifications: the events so far, then live.",
    ),
    "unsubscribe": MethodSpec(SubscribeParams, Subscribed, "Stop receiving a run's events."),
    "runs.list": MethodSpec(RunsListParams, RunsList, "Runs of the history and of this server."),
    "runs.get": MethodSpec(RunRef, RunDetailItem, "One run with the state of each node."),
    "runs.events": MethodSpec(EventsParams, EventsResult, "The recorded events of a run."),
    "nodes.list": MethodSpec(Empty, NodesList, "The node types a blueprint can use."),
    "blueprints.list": MethodSpec(Empty, BlueprintsList, "The blueprints of the store folder."),
    "blueprints.get": MethodSpec(BlueprintName, BlueprintText, "Read a blueprint of the store."),
    "blueprints.save": MethodSpec(BlueprintSave, BlueprintSaved, "Write a blueprint atomically."),
    "view.get": MethodSpec(ViewParams, ViewModel, "The laid-out graph and the state of a run."),
}

NOTIFICATIONS: Final[dict[str, type[Message]]] = {"run.event": RunEventNote}

# JSON-RPC error codes: the standard ones, then this server's (in the -32000.. range).
PARSE_ERROR: Final = -32700
INVALID_REQUEST: Final = -32600
METHOD_NOT_FOUND: Final = -32601
INVALID_PARAMS: Final = -32602
INTERNAL_ERROR: Final = -32603
NOT_FOUND: Final = -32004
RUN_REFUSED: Final = -32001

ERRORS: Final[dict[int, str]] = {
    PARSE_ERROR: "the message is not JSON",
    INVALID_REQUEST: "the JSON is not a JSON-RPC 2.0 request (or batch of them)",
    METHOD_NOT_FOUND: "no method of that name",
    INVALID_PARAMS: "params do not match the method's schema; `data` lists each problem",
    INTERNAL_ERROR: "the server failed; the connection stays open",
    RUN_REFUSED: "a run could not start: blueprint errors (`data.diagnostics`) or bad inputs",
    NOT_FOUND: "no run, blueprint or file of that name",
}


def render_markdown() -> str:
    """docs/protocol.md: every method and notification with its JSON Schema."""
    out = [
        "# The `atomiton serve` protocol",
        "",
        "<!-- Generated by `python -m atomiton.serve.protocol`; edit the models, not this file. -->",
        "",
        "JSON-RPC 2.0 over stdio (`atomiton serve --stdio`: one JSON message per line) or",
        "WebSocket (`atomiton serve --port 8765`, endpoint `/rpc`: one message per text frame).",
        "Batches are accepted. Params are objects (by name). Field names are camelCase.",
        "",
        "## Methods",
        "",
        "| method | params | result | what it does |",
        "| --- | --- | --- | --- |",
    ]
    for name, spec in METHODS.items():
        out.append(
            f"| `{name}` | `{spec.params.__name__}` | `{spec.result.__name__}` | {spec.summary} |"
        )
    out += ["", "## Notifications (server to client)", ""]
    for name, model in NOTIFICATIONS.items():
        out.append(f"- `{name}`: params `{model.__name__}`. {_doc(model)}")
    out += ["", "## Errors", "", "| code | meaning |", "| --- | --- |"]
    out += [f"| {code} | {text} |" for code, text in ERRORS.items()]
    out += ["", "## Schemas", ""]
    seen: dict[str, type[Message]] = {}
    for spec in METHODS.values():
        seen.setdefault(spec.params.__name__, spec.params)
        seen.setdefault(spec.result.__name__, spec.result)
    for model in NOTIFICATIONS.values():
        seen.setdefault(model.__name__, model)
    for name, model in seen.items():
        schema = model.model_json_schema(ref_template="#/$defs/{model}")
        out += [f"### {name}", "", _doc(model), "", "```json"]
        out.append(json.dumps(schema, indent=2, sort_keys=True))
        out += ["```", ""]
    return "\n".join(out).rstrip() + "\n"


def _doc(model: type[Message]) -> str:
    return " ".join((model.__doc__ or "").split())


def main(argv: list[str]) -> int:
    """Write docs/protocol.md (or the path given) from the models."""
    target = Path(argv[0]) if argv else Path("docs/protocol.md")
    target.write_text(render_markdown(), encoding="utf-8")
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
