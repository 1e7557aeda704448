"""The flow as the dialect fold sees it: nodes, edges and parameters that remember where they
were written, and the emitter that turns them into the native form with a matching SourceMap.

Reading Atomiton's spellings is left to ``atomiton.py``, ``parameters.py``, ``edges.py`` and
``loops.py``; this module only holds the shared model and writes it out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ...codes import ErrorCode
from ...diagnostics import DiagnosticSink
from ...nodes import registry
from ..source import Path_, SourceFile, SourceMap


@dataclass(slots=True)
class Param:
    """A parameter value and the path it was written at (None: made up by the fold)."""

    value: Any
    loc: Path_ | None


@dataclass(slots=True)
class FlowNode:
    id: str
    type: str
    loc: Path_
    params: dict[str, Param] = field(default_factory=dict)
    # Other native node keys (name, description, ...) with their paths.
    keys: dict[str, Param] = field(default_factory=dict)
    # Atomiton's declared ports: id -> kind (input, output, trigger, error).
    port_kinds: dict[str, str] = field(default_factory=dict)
    # A loop body worked out by the fold.
    body: Flow | None = None

    def rename_param(self, old: str, new: str, param: Param) -> None:
        """Put ``param`` under ``new`` where ``old`` was, keeping the parameters' order."""
        self.params = {
            (new if k == old else k): (param if k == old else v) for k, v in self.params.items()
        }


@dataclass(slots=True)
class FlowEdge:
    source: str
    source_handle: str | None
    target: str
    target_handle: str | None
    loc: Path_
    id: str | None = None

    @property
    def label(self) -> str:
        source = f"{self.source}.{self.source_handle}" if self.source_handle else self.source
        target = f"{self.target}.{self.target_handle}" if self.target_handle else self.target
        return f"{source} -> {target}"


@dataclass(slots=True)
class Flow:
    nodes: list[FlowNode] = field(default_factory=list)
    edges: list[FlowEdge] = field(default_factory=list)
    # Top-level native keys other than nodes and edges.
    keys: dict[str, Param] = field(default_factory=dict)

    def node(self, node_id: str) -> FlowNode | None:
        return next((n for n in self.nodes if n.id == node_id), None)

    def fresh_id(self, base: str) -> str:
        """An id no node of this flow has yet, starting from ``base``."""
        taken = {n.id for n in self.nodes}
        candidate, number = base, 2
        while candidate in taken:
            candidate, number = f"{base}-{number}", number + 1
        return candidate


class Fold:
    """One file's fold in progress: where warnings go and where values came from."""

    def __init__(self, src: SourceFile, sink: DiagnosticSink) -> None:
        self.src = src
        self.sink = sink
        self.map = SourceMap(src.positions.path)

    def warn(self, code: ErrorCode, loc: Path_, **fields: Any) -> None:
        self.sink.warning(code, self.src.positions.span(loc), **fields)

    def error(
        self, code: ErrorCode, loc: Path_, *, hint: str | None = None, **fields: object
    ) -> None:
        self.sink.error(code, self.src.positions.span(loc), hint=hint, **fields)

    def carry(self, new: Path_, old: Path_ | None, value: object, anchor: Path_) -> None:
        """Record positions for ``value`` placed at ``new``: those of the same value at ``old``,
        or the position of ``anchor`` when the fold made the value up."""
        if old is None:
            self._mark(new, anchor)
            return
        stack: list[tuple[Path_, Path_, object]] = [(new, old, value)]
        while stack:
            to, frm, item = stack.pop()
            self._mark(to, frm)
            if isinstance(item, dict):
                stack.extend(((*to, k), (*frm, k), v) for k, v in item.items())
            elif isinstance(item, list):
                stack.extend(((*to, i), (*frm, i), v) for i, v in enumerate(item))

    def _mark(self, new: Path_, old: Path_) -> None:
        positions = self.src.positions
        value = positions.span(old)
        self.map.values[new] = (value.line or 1, value.column or 1)
        key = positions.span(old, key=True)
        self.map.keys[new] = (key.line or 1, key.column or 1)


def primary_port(node_type: str, *, output: bool) -> str | None:
    spec = registry.get(node_type)
    if spec is None:
        return None
    ports = spec.outputs if output else spec.inputs
    return ports[0].name if ports else None


def port_type(node_type: str, port: str | None, *, output: bool) -> str | None:
    """The data type of a node type's port (its primary port when ``port`` is None)."""
    spec = registry.get(node_type)
    if spec is None:
        return None
    ports = spec.outputs if output else spec.inputs
    for candidate in ports:
        if port is None or candidate.name == port:
            return candidate.type
    return None


def port_names(node_type: str, *, output: bool) -> tuple[str, ...] | None:
    spec = registry.get(node_type)
    if spec is None:
        return None
    return tuple(p.name for p in (spec.outputs if output else spec.inputs))


def emit(flow: Flow, fold: Fold, base: Path_, anchor: Path_) -> dict[str, Any]:
    """The native data of ``flow`` placed at ``base``; positions go to ``fold.map``."""
    out: dict[str, Any] = {}
    for key, param in flow.keys.items():
        out[key] = param.value
        fold.carry((*base, key), param.loc, param.value, anchor)
    nodes: list[dict[str, Any]] = []
    fold.carry((*base, "nodes"), None, None, anchor)
    for node in flow.nodes:
        node_base: Path_ = (*base, "nodes", len(nodes))
        nodes.append(_emit_node(node, fold, node_base))
    out["nodes"] = nodes
    edges: list[dict[str, Any]] = []
    for edge in flow.edges:
        item: dict[str, Any] = {} if edge.id is None else {"id": edge.id}
        item["source"] = edge.source
        if edge.source_handle is not None:
            item["sourceHandle"] = edge.source_handle
        item["target"] = edge.target
        if edge.target_handle is not None:
            item["targetHandle"] = edge.target_handle
        fold.carry((*base, "edges", len(edges)), None, None, edge.loc)
        for key in item:
            fold.carry((*base, "edges", len(edges), key), None, None, edge.loc)
        edges.append(item)
    if edges:
        out["edges"] = edges
    return out


def _emit_node(node: FlowNode, fold: Fold, base: Path_) -> dict[str, Any]:
    out: dict[str, Any] = {"id": node.id, "type": node.type}
    fold.carry(base, None, None, node.loc)
    fold.carry((*base, "id"), None, None, (*node.loc, "id"))
    fold.carry((*base, "type"), None, None, (*node.loc, "type"))
    for key, param in node.keys.items():
        out[key] = param.value
        fold.carry((*base, key), param.loc, param.value, node.loc)
    params: dict[str, Any] = {}
    for name, param in node.params.items():
        params[name] = param.value
        fold.carry((*base, "parameters", name), param.loc, param.value, node.loc)
    if node.body is not None:
        body_base: Path_ = (*base, "parameters", "body")
        fold.carry(body_base, None, None, node.loc)
        params["body"] = emit(node.body, fold, body_base, node.loc)
    if params:
        fold.carry((*base, "parameters"), None, None, node.loc)
        out["parameters"] = params
    return out
