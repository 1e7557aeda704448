"""Edges of an Atomiton file joined to the native ports, and the one-item list.

Atomiton draws edges between generic handles (``input``, ``output``, or none) and its own port
names (``data``, ``result``, ``files``, ``image``, ...): its engine lost the data there, but the
authors meant it to flow, so each joins the node's primary port (or the native port of the same
meaning) with a warning. An object sent where an array is expected arrives as a one-item list,
and a ``map`` over such a list hands its one result on as it is (Atomiton's transform did both).
The edges around loop bodies are ``loops.py``'s.
"""

from __future__ import annotations

from typing import Final

from .parameters import known_parameters
from .graph import Flow, FlowEdge, FlowNode, Fold, Param, port_names, port_type, primary_port

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
                "W1002",
                edge.loc,
                node=node.id,
                old="an edge from its error port",
                new="onError: branch",
            )
        return "error"
    else:
        return handle  # the native checks name the node's ports
    port = native or primary_port(node.type, output=output) or handle
    fold.warn("W1004", edge.loc, edge=edge.label, handle=handle, node=node.id, port=port)
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
        "W1008",
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
