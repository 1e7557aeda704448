"""Where each node of a blueprint goes on the page: layers left to right, groups boxed.

The layout is computed here, on the server, so the page (and a saved report) only draws boxes and
lines. Layers come from the longest path from a source, so every edge points right; rows within a
layer are ordered by the barycentre of their neighbours, a few sweeps each way, keeping the nodes
of one inlined sub-blueprint together so its box stays compact. It stays readable at hundreds of
nodes because nothing overlaps and each layer is one column. Reading edges out of a compiled
graph is ``edges_of``; what the states and timeline say is ``view.py``'s.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from ..compiler.ir import FromNode, Graph

NODE_WIDTH: Final = 180.0
NODE_HEIGHT: Final = 48.0
GAP_X: Final = 70.0
GAP_Y: Final = 26.0
MARGIN: Final = 30.0
GROUP_PAD: Final = 10.0
_SWEEPS: Final = 4


@dataclass(frozen=True, slots=True)
class PlacedNode:
    id: str
    x: float
    y: float
    layer: int
    group: str | None


@dataclass(frozen=True, slots=True)
class GroupBox:
    id: str
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True, slots=True)
class Layout:
    nodes: tuple[PlacedNode, ...]
    groups: tuple[GroupBox, ...]
    width: float
    height: float


def group_of(node_id: str) -> str | None:
    """The inlined sub-blueprint a node came from: its id's prefix (``norm`` of ``norm.trim``)."""
    head, dot, _ = node_id.rpartition(".")
    return head if dot else None


def edges_of(graph: Graph) -> list[tuple[str, str, str]]:
    """The (source, target, port) edges between the nodes of ``graph``, each once, in order."""
    known = {node.id for node in graph.nodes}
    found: dict[tuple[str, str], str] = {}
    for node in graph.nodes:
        for port, binding in node.inputs.items():
            for source in _sources(binding):
                if source in known and source != node.id:
                    found.setdefault((source, node.id), port)
        for source in _sources((node.params, node.code)):
            if source in known and source != node.id:
                found.setdefault((source, node.id), "")
    return [(source, target, port) for (source, target), port in found.items()]


def _sources(value: object) -> Iterable[str]:
    """Nodes a binding, template or parameter tree reads from (``FromNode`` anywhere inside)."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, FromNode):
            yield item.node
        elif isinstance(item, Mapping):
            pending.extend(item.values())
        elif isinstance(item, (list, tuple)):
            pending.extend(item)
        elif dataclasses.is_dataclass(item) and not isinstance(item, type):
            pending.extend(getattr(item, f.name) for f in dataclasses.fields(item))


def lay_out(node_ids: Sequence[str], edges: Iterable[tuple[str, str]]) -> Layout:
    """Place ``node_ids`` in layers left to right so that every edge points right.

    Args:
        node_ids: every node, in a stable order (the blueprint's).
        edges: (source, target) pairs; pairs naming unknown nodes are ignored, and a cycle is
            broken at the edge that closes it.
    """
    index = {node_id: i for i, node_id in enumerate(node_ids)}
    preds: dict[str, list[str]] = {n: [] for n in node_ids}
    succs: dict[str, list[str]] = {n: [] for n in node_ids}
    for source, target in edges:
        # Only edges going forward in the given (topological) order: a cycle cannot hang this.
        if source in index and target in index and index[source] < index[target]:
            preds[target].append(source)
            succs[source].append(target)
    layer: dict[str, int] = {}
    for node_id in node_ids:
        layer[node_id] = 1 + max((layer[p] for p in preds[node_id]), default=-1)
    columns: list[list[str]] = [[] for _ in range(1 + max(layer.values(), default=-1))]
    for node_id in node_ids:
        columns[layer[node_id]].append(node_id)
    rank = {node_id: float(i) for column in columns for i, node_id in enumerate(column)}
    for sweep in range(_SWEEPS):
        forward = sweep % 2 == 0
        order = columns[1:] if forward else columns[-2::-1]
        for column in order:
            neighbours = preds if forward else succs
            _reorder(column, neighbours, rank)
    placed = []
    for number, column in enumerate(columns):
        for row, node_id in enumerate(column):
            placed.append(
                PlacedNode(
                    id=node_id,
                    x=MARGIN + number * (NODE_WIDTH + GAP_X),
                    y=MARGIN + row * (NODE_HEIGHT + GAP_Y),
                    layer=number,
                    group=group_of(node_id),
                )
            )
    placed.sort(key=lambda p: index[p.id])
    groups = _group_boxes(placed)
    rows = max((len(column) for column in columns), default=0)
    width = 2 * MARGIN + max(0, len(columns) * (NODE_WIDTH + GAP_X) - GAP_X)
    height = 2 * MARGIN + max(0, rows * (NODE_HEIGHT + GAP_Y) - GAP_Y)
    return Layout(tuple(placed), groups, width, height)


def _reorder(
    column: list[str], neighbours: Mapping[str, list[str]], rank: dict[str, float]
) -> None:
    """Sort one layer by the mean rank of each node's neighbours, sub-blueprints kept together."""
    own = {}
    for node_id in column:
        near = [rank[n] for n in neighbours[node_id]]
        own[node_id] = sum(near) / len(near) if near else rank[node_id]
    by_group: dict[str, list[float]] = {}
    for node_id in column:
        by_group.setdefault(group_of(node_id) or node_id, []).append(own[node_id])
    group_rank = {key: sum(values) / len(values) for key, values in by_group.items()}
    column.sort(key=lambda n: (group_rank[group_of(n) or n], group_of(n) or n, own[n]))
    for row, node_id in enumerate(column):
        rank[node_id] = float(row)


def _group_boxes(placed: Sequence[PlacedNode]) -> tuple[GroupBox, ...]:
    """One box per sub-blueprint (and per enclosing one, for nesting), around its nodes."""
    members: dict[str, list[PlacedNode]] = {}
    for node in placed:
        group = node.group
        while group:
            members.setdefault(group, []).append(node)
            group = group_of(group)
    boxes = []
    for group, nodes in sorted(members.items()):
        depth = group.count(".")
        deepest = max(n.id.count(".") for n in nodes)
        pad = GROUP_PAD * (1 + deepest - depth - 1) + GROUP_PAD
        left = min(n.x for n in nodes) - pad
        top = min(n.y for n in nodes) - pad - 14  # room for the group's name
        right = max(n.x for n in nodes) + NODE_WIDTH + pad
        bottom = max(n.y for n in nodes) + NODE_HEIGHT + pad
        boxes.append(GroupBox(group, left, top, right - left, bottom - top))
    return tuple(boxes)
