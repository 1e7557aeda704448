"""Edges of an Atomiton file joined to the native ports, and the one-item list.

Atomiton draws edges between generic handles (``input``, ``output``, or none) and its own port
names (``data``, ``result``, ``files``, ``image``, ...): its engine lost the data there, but the
authors meant it to flow, so each joins the node's primary port (or the native port of the same
meaning) with a warning. An object sent where an array is expected arrives as a one-item list,
and a ``map`` over such a list hands its one result on as it is (Atomiton's transform did both).

An edge into a ``trigger`` port means "run after the source" and carries no data. A native
blueprint has no edge that only orders two nodes (a node runs when its inputs are ready), so the
order is built from data: the value arriving on the triggered node's primary input is held back
by a small gate of native nodes (``[value]`` and one ``[]`` per source, appended by a ``merge``,
whose first item goes on). A triggered node with no such input has nothing to hold back: its
trigger edges are dropped with a warning. The edges around loop bodies are ``loops.py``'s.
"""

from __future__ import annotations

from typing import Final

from ... import codes
from ..source import Path_
from .graph import Flow, FlowEdge, FlowNode, Fold, Param, port_names, port_type, primary_port
from .parameters import known_parameters

# Handles every node has in Atomiton's editor: the primary ports here.
GENERIC_HANDLES: Final = frozenset({"input", "output"})
# Atomiton's port names with the native port they are, by node type (None: the primary port).
_OUTPUT_NAMES: Final[dict[str, dict[str, str | None]]] = {
    "file-system": {"content": "result", "files": "result", "data": "result", "count": "size"},
    "spreadsheet": {"data": "records", "rows": "records"},
    "loop": {"complete": "results", "results": "results"},
    "*": {"result": None, "data": None},
}
_INPUT_NAMES: Final[dict[str, dict[str, str | None]]] = {
    "file-system": {"data": "content", "content": "content"},
    "image": {"image": "baseImage", "data": "baseImage"},
    "loop": {"collection": "array", "items": "array"},
    "*": {"data": None},
}
# Pseudo-nodes of the native format: the blueprint's own interface.
_PSEUDO: Final = frozenset({"input", "output"})
_TRIGGER_KIND: Final = "trigger"


def fold_edges(flow: Flow, fold: Fold) -> None:
    """Join every edge of ``flow`` (and of its loop bodies) to native ports."""
    for node in flow.nodes:
        if node.body is not None:
            fold_edges(node.body, fold)
    for edge in flow.edges:
        source = flow.node(edge.source)
        target = flow.node(edge.target)
        if source is not None:
            edge.source_handle = _handle(edge, source, edge.source_handle, fold, output=True)
        if target is not None:
            edge.target_handle = _handle(edge, target, edge.target_handle, fold, output=False)
    # Only once every handle is native: an unwrap re-routes the edges leaving a map.
    for edge in list(flow.edges):
        source = flow.node(edge.source)
        target = flow.node(edge.target)
        if source is not None and target is not None:
            _wrap_if_needed(flow, edge, source, target, fold)


def _handle(
    edge: FlowEdge, node: FlowNode, handle: str | None, fold: Fold, *, output: bool
) -> str | None:
    if handle is None:
        return None
    names = port_names(node.type, output=output)
    if names is None or handle in names or (not output and handle in _parameters(node)):
        return handle
    if handle in GENERIC_HANDLES:
        return None
    table = _OUTPUT_NAMES if output else _INPUT_NAMES
    mapped = {**table["*"], **table.get(node.type, {})}
    kind = node.port_kinds.get(handle)
    if handle in mapped:
        native = mapped[handle]
    elif kind in ("input", "output"):
        native = None
    elif kind == "error" and output:
        if "onError" not in node.params:
            # Atomiton's error port receives the node's error: native onError: branch.
            node.params["onError"] = Param("branch", None)
            fold.warn(
                codes.READ_AS_NATIVE,
                edge.loc,
                node=node.id,
                old="an edge from its error port",
                new="onError: branch",
            )
        return "error"
    else:
        return handle  # the native checks name the node's ports
    port = native or primary_port(node.type, output=output) or handle
    fold.warn(
        codes.HANDLE_READ_AS_PORT, edge.loc, edge=edge.label, handle=handle, node=node.id, port=port
    )
    return native


def _wrap_if_needed(
    flow: Flow, edge: FlowEdge, source: FlowNode, target: FlowNode, fold: Fold
) -> None:
    sent = port_type(source.type, edge.source_handle, output=True)
    wanted = port_type(target.type, edge.target_handle, output=False)
    if sent is None or wanted is None or not _is_array(wanted):
        return
    if sent == "any" or _is_array(sent) or sent.endswith("?"):
        return
    wrap_id = flow.fresh_id(f"{target.id}-as-list")
    wrap = FlowNode(wrap_id, "code", edge.loc)
    wrap.params["code"] = Param("return [data]", None)
    flow.nodes.insert(flow.nodes.index(target), wrap)
    flow.edges.append(FlowEdge(wrap_id, None, edge.target, edge.target_handle, edge.loc))
    edge.target, edge.target_handle = wrap_id, None
    unwrapped = _is_map(target)
    fold.warn(
        codes.WRAPPED_IN_LIST,
        edge.loc,
        edge=edge.label,
        found=sent,
        expected=wanted,
        then=f"; {target.id}'s map hands its one result on as it is" if unwrapped else "",
    )
    if unwrapped:
        _unwrap_after(flow, target, edge.loc)


def _unwrap_after(flow: Flow, node: FlowNode, loc: tuple[str | int, ...]) -> None:
    """The primary output of ``node`` becomes the one item of its result list."""
    unwrap_id = flow.fresh_id(f"{node.id}-item")
    unwrap = FlowNode(unwrap_id, "code", loc)
    unwrap.params["code"] = Param("return data[0]", None)
    flow.nodes.insert(flow.nodes.index(node) + 1, unwrap)
    primary = primary_port(node.type, output=True)
    for other in flow.edges:
        if other.source == node.id and other.source_handle in (None, primary):
            other.source, other.source_handle = unwrap_id, None
    flow.edges.append(FlowEdge(node.id, None, unwrap_id, None, loc))


def _is_map(node: FlowNode) -> bool:
    operation = node.params.get("operation")
    return node.type == "transform" and (operation is None or operation.value == "map")


def _is_array(type_text: str) -> bool:
    return type_text == "array" or type_text.startswith("array<")


def _parameters(node: FlowNode) -> frozenset[str]:
    return known_parameters(node.type) or frozenset()


def fold_triggers(flow: Flow, fold: Fold) -> None:
    """Turn every edge into a trigger port of ``flow`` (and of its loop bodies) into an order."""
    for node in flow.nodes:
        if node.body is not None:
            fold_triggers(node.body, fold)
    triggered: dict[str, list[FlowEdge]] = {}
    for edge in flow.edges:
        target = flow.node(edge.target)
        if target is not None and _is_trigger(target, edge.target_handle):
            triggered.setdefault(target.id, []).append(edge)
    for node_id, edges in triggered.items():
        for edge in edges:
            flow.edges.remove(edge)
        target = flow.node(node_id)
        assert target is not None  # found above
        _order(flow, target, edges, fold)


def _is_trigger(node: FlowNode, handle: str | None) -> bool:
    if handle is None or node.port_kinds.get(handle) != _TRIGGER_KIND:
        return False
    native = port_names(node.type, output=False)
    return native is None or handle not in native


def _order(flow: Flow, target: FlowNode, triggers: list[FlowEdge], fold: Fold) -> None:
    primary = primary_port(target.type, output=False)
    inputs = [
        e
        for e in flow.edges
        if e.target == target.id and e.target_handle in (None, primary) and primary is not None
    ]
    if len(inputs) != 1:
        for edge in triggers:
            fold.warn(codes.TRIGGER_DROPPED, edge.loc, edge=edge.label, node=target.id)
        return
    value_edge = inputs[0]
    loc = triggers[0].loc
    value = _code(flow, target, "value", "return [data]", loc)
    ready = FlowNode(flow.fresh_id(f"{target.id}-ready"), "merge", loc)
    flow.nodes.insert(flow.nodes.index(target), ready)
    gate = _code(flow, target, "gate", "return data[0]", loc)
    # The value is the merge's first input, so the gate hands it on as it arrived.
    value_edge.target, value_edge.target_handle = value.id, None
    new_edges = [FlowEdge(value.id, None, ready.id, None, loc)]
    for edge in triggers:
        done = _code(flow, target, f"after-{edge.source}", "return []", edge.loc)
        new_edges.append(FlowEdge(edge.source, edge.source_handle, done.id, None, edge.loc))
        new_edges.append(FlowEdge(done.id, None, ready.id, None, edge.loc))
        fold.warn(
            codes.TRIGGER_AS_GATE,
            edge.loc,
            edge=edge.label,
            node=target.id,
            source=edge.source,
            gate=ready.id,
        )
    new_edges.append(FlowEdge(ready.id, None, gate.id, None, loc))
    new_edges.append(FlowEdge(gate.id, None, target.id, None, loc))
    flow.edges.extend(new_edges)


def _code(flow: Flow, target: FlowNode, role: str, code: str, loc: Path_) -> FlowNode:
    """A small ``code`` node of ``target``'s gate, written just before ``target``."""
    node = FlowNode(flow.fresh_id(f"{target.id}-{role}"), "code", loc)
    node.params["code"] = Param(code, None)
    flow.nodes.insert(flow.nodes.index(target), node)
    return node
