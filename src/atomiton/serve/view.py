"""What a run's events mean for the page: node states, progress, timeline, critical path.

``fold_events`` reads the event stream of one run (live or recorded, the JSON of
``event_to_dict``) into one state per node, a bar per attempt, the failures and the progress;
``build_view`` joins that with the laid-out graph (``layout.py``) into the ``ViewModel`` the page
and the saved report draw. The page updates states live from the same events itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..compiler.ir import FromNode, Graph
from .layout import edges_of, group_of, lay_out
from .protocol import (
    FailureItem,
    NodeStateItem,
    RunSummaryItem,
    TimelineBar,
    ViewEdge,
    ViewGroup,
    ViewModel,
    ViewNode,
)


@dataclass
class _NodeFold:
    id: str
    type: str = ""
    state: str = "pending"
    started: float | None = None
    ended: float | None = None
    attempts: int = 0
    error: str | None = None
    error_type: str = ""
    attempt_start: float | None = None


@dataclass
class RunFold:
    """A run's events read into per-node state (``nodes`` keeps first-seen order)."""

    nodes: dict[str, _NodeFold] = field(default_factory=dict)
    bars: list[TimelineBar] = field(default_factory=list)
    started: float | None = None
    ended: float | None = None
    progress: float = 0.0
    status: str = "pending"


def fold_events(events: Iterable[Mapping[str, Any]]) -> RunFold:
    """Read a run's events (in order) into node states and timeline bars."""
    fold = RunFold()
    for event in events:
        kind = event.get("event", "")
        stamp = float(event.get("timestamp", 0.0))
        if kind == "execution.started":
            fold.started = stamp
            fold.status = "running"
        elif kind == "execution.progress":
            fold.progress = max(fold.progress, float(event.get("percent", 0.0)))
        elif kind in ("execution.completed", "execution.failed", "execution.cancelled"):
            fold.ended = stamp
            fold.status = kind.split(".")[1]
            if kind == "execution.completed":
                fold.progress = 100.0
        elif kind.startswith("node."):
            _fold_node(fold, kind, stamp, event)
    origin = fold.started or 0.0
    end = fold.ended
    for node in fold.nodes.values():
        if node.attempt_start is not None:  # still running (or the run stopped under it)
            until = end if end is not None else node.attempt_start
            fold.bars.append(
                TimelineBar(
                    node=node.id,
                    attempt=max(1, node.attempts),
                    start=node.attempt_start - origin,
                    end=until - origin,
                    outcome="running",
                )
            )
    return fold


def _fold_node(fold: RunFold, kind: str, stamp: float, event: Mapping[str, Any]) -> None:
    node_id = str(event.get("node_id", ""))
    node = fold.nodes.get(node_id)
    if node is None:
        node = fold.nodes[node_id] = _NodeFold(node_id, str(event.get("node_type", "")))
    origin = fold.started or stamp

    def close(outcome: str) -> None:
        if node.attempt_start is not None:
            fold.bars.append(
                TimelineBar(
                    node=node_id,
                    attempt=max(1, node.attempts),
                    start=node.attempt_start - origin,
                    end=stamp - origin,
                    outcome=outcome,  # type: ignore[arg-type]
                )
            )
            node.attempt_start = None

    if kind == "node.started":
        node.state = "running"
        node.attempts = int(event.get("attempt", 1))
        node.attempt_start = stamp
        if node.started is None:
            node.started = stamp
    elif kind == "node.retrying":
        close("retried")
    elif kind == "node.completed":
        close("done")
        node.state = str(event.get("supplied") or "done")  # pinned, cached, resumed: not run
        node.ended = stamp
        node.attempts = int(event.get("attempts", node.attempts or 1))
    elif kind == "node.failed":
        close("failed")
        node.state = "failed"
        node.ended = stamp
        node.attempts = int(event.get("attempts", node.attempts or 1))
        node.error = str(event.get("error", ""))
        node.error_type = str(event.get("error_type", ""))
    elif kind == "node.skipped":
        reason = str(event.get("reason", ""))
        node.state = "cached" if "cache" in reason else "skipped"


def critical_path(fold: RunFold, edges: Iterable[tuple[str, str]]) -> list[str]:
    """The chain of nodes that decided when the run ended, first to last.

    From the node that ended last, step back each time to the upstream node that ended last:
    the nodes that, had they been faster, would have ended the run sooner.
    """
    preds: dict[str, list[str]] = {}
    for source, target in edges:
        preds.setdefault(target, []).append(source)
    ended = {n.id: n.ended for n in fold.nodes.values() if n.ended is not None}
    if not ended:
        return []
    current: str | None = max(ended, key=lambda n: (ended[n], n))
    path: list[str] = []
    seen: set[str] = set()
    while current is not None and current not in seen:
        path.append(current)
        seen.add(current)
        upstream = [p for p in preds.get(current, []) if p in ended]
        current = max(upstream, key=lambda n: (ended[n], n)) if upstream else None
    return path[::-1]


def node_states(
    fold: RunFold, graph_nodes: Sequence[tuple[str, str]], positions: Mapping[str, str]
) -> list[NodeStateItem]:
    """One state per node: the graph's nodes first (pending if never seen), then the rest."""
    items = []
    listed = dict(graph_nodes)
    for node_id, node_type in graph_nodes:
        items.append(_state_item(fold.nodes.get(node_id), node_id, node_type, positions))
    for node_id, node in fold.nodes.items():
        if node_id not in listed:
            items.append(_state_item(node, node_id, node.type, positions))
    return items


def _state_item(
    node: _NodeFold | None, node_id: str, node_type: str, positions: Mapping[str, str]
) -> NodeStateItem:
    if node is None:
        return NodeStateItem(id=node_id, type=node_type, state="pending")
    return NodeStateItem(
        id=node_id,
        type=node.type or node_type,
        state=node.state,  # type: ignore[arg-type]
        started=node.started,
        ended=node.ended,
        attempts=node.attempts,
        error=node.error,
        position=positions.get(node_id),
    )


def graph_positions(graph: Graph) -> dict[str, str]:
    """Node id -> ``file:line:col`` of the node in its blueprint."""
    return {node.id: str(node.span) for node in graph.nodes}


def build_view(
    graph: Graph | None,
    events: Sequence[Mapping[str, Any]],
    run: RunSummaryItem | None,
    *,
    title: str = "",
    inputs: object = None,
    outputs: object = None,
    values: Mapping[str, object] | None = None,
) -> ViewModel:
    """The page's whole picture of a blueprint (and of a run of it, given its events).

    Without a graph (a recorded run whose blueprint file is gone) the nodes come from the
    events, laid out in one column each by first appearance, with no edges.
    """
    fold = fold_events(events)
    produces: dict[str, list[str]] = {}
    if graph is not None:
        listed = [(node.id, node.type) for node in graph.nodes]
        edges = [(s, t, port) for s, t, port in edges_of(graph)]
        positions = graph_positions(graph)
        title = title or graph.name or graph.id
        for output in graph.outputs:
            if isinstance(output.binding, FromNode):
                produces.setdefault(output.binding.node, []).append(output.port.name)
    else:
        listed = [(node.id, node.type) for node in fold.nodes.values()]
        edges, positions = [], {}
    for node_id in fold.nodes:
        if node_id not in dict(listed):
            listed.append((node_id, fold.nodes[node_id].type))
    layout = lay_out([node_id for node_id, _ in listed], [(s, t) for s, t, _ in edges])
    states = {item.id: item for item in node_states(fold, listed, positions)}
    types = dict(listed)
    view_nodes = [
        ViewNode(
            id=p.id,
            type=types[p.id],
            label=p.id.rpartition(".")[2] if group_of(p.id) else p.id,
            x=p.x,
            y=p.y,
            group=p.group,
            position=positions.get(p.id),
            state=states[p.id].state,
            produces=produces.get(p.id, []),
        )
        for p in layout.nodes
    ]
    failures = [
        FailureItem(
            node=node.id,
            error=node.error or "",
            errorType=node.error_type,
            position=positions.get(node.id),
        )
        for node in fold.nodes.values()
        if node.state == "failed"
    ]
    return ViewModel(
        title=title or (run.blueprint if run else ""),
        width=layout.width,
        height=layout.height,
        nodes=view_nodes,
        edges=[ViewEdge(source=s, target=t, label=port) for s, t, port in edges],
        groups=[
            ViewGroup(id=g.id, x=g.x, y=g.y, width=g.width, height=g.height) for g in layout.groups
        ],
        run=run,
        progress=fold.progress,
        timeline=fold.bars,
        criticalPath=critical_path(fold, [(s, t) for s, t, _ in edges]) if fold.ended else [],
        failures=failures,
        inputs=inputs,
        outputs=outputs,
        values=dict(values or {}),
    )
