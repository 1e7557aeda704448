"""Atomiton's flow files read into the fold's model, then written out in the native form.

Owns the file's outer shape: the older ``flow:``/``data:`` wrapper, nodes as a list or as a map
keyed by id, the editor-only keys (accepted silently), the parameter block (``parameters``, or
``data`` when ``parameters`` holds the editor's schema), edges in every form, ``variables`` and
``settings``. What a node's parameters mean is ``parameters.py``'s; edges' handles and the
one-item list are ``edges.py``'s; loop bodies ``loops.py``'s.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Final

from ... import codes
from ...diagnostics import DiagnosticSink
from ...nodes import registry
from ..source import Path_, SourceFile
from .detect import OLDER_TYPES, PORT_KINDS
from .edges import fold_edges, fold_triggers
from .graph import Flow, FlowEdge, FlowNode, Fold, Param, emit
from .loops import fold_loops
from .parameters import fold_parameters

# Keys Atomiton's editor writes on a node; they do not change what the flow does.
EDITOR_NODE_KEYS: Final = frozenset(
    {
        "position",
        "metadata",
        "version",
        "category",
        "icon",
        "width",
        "height",
        "settings",
        "fields",
        "parentId",
        "selected",
        "dragging",
        "style",
        "inputPorts",
        "outputPorts",
    }
)
# Node keys that mean the same in both formats.
_NATIVE_NODE_KEYS: Final = ("name", "label", "description")
# Keys the editor adds inside a node's values.
_EDITOR_VALUE_KEYS: Final = frozenset({"customLabel", "lastModified"})
# Top-level keys the native format takes as they are.
_NATIVE_TOP_KEYS: Final = (
    "id",
    "name",
    "version",
    "description",
    "metadata",
    "tags",
    "category",
    "author",
    "icon",
    "createdAt",
    "updatedAt",
    "interface",
)
# Top-level keys of the editor (or of the older wrapper) with no meaning for a run.
_EDITOR_TOP_KEYS: Final = frozenset({"type", "ui", "execution", "settings", "variables"})


def fold_atomiton(src: SourceFile, sink: DiagnosticSink) -> SourceFile:
    """``src`` (an Atomiton file) with its data in the native form."""
    fold = Fold(src, sink)
    data: dict[str, Any] = src.data
    flow = Flow()
    body_loc: Path_ = ()
    body = data
    wrapper = data.get("flow")
    if isinstance(wrapper, dict):
        _read_wrapper(wrapper, flow, fold)
        inner = wrapper.get("data")
        if not isinstance(inner, dict):
            fold.error(
                codes.INVALID_ATOMITON_FILE,
                ("flow", "data"),
                message="flow.data is a mapping of nodes and edges",
            )
        body = inner if isinstance(inner, dict) else {}
        body_loc = ("flow", "data")
    else:
        for key, value in data.items():
            if key in _NATIVE_TOP_KEYS or key not in _EDITOR_TOP_KEYS | {"nodes", "edges"}:
                if key != "connections":
                    flow.keys[key] = Param(value, (key,))
    variables = _read_variables(data if body is data else body, body_loc, flow, fold)
    settings_owner = body if isinstance(body.get("settings"), dict) else data
    settings_loc = body_loc if settings_owner is body else ()
    _read_settings(settings_owner.get("settings"), (*settings_loc, "settings"), flow, fold)
    _read_nodes(body.get("nodes"), (*body_loc, "nodes"), flow, fold)
    for key in ("edges", "connections"):
        _read_edges(body.get(key), (*body_loc, key), flow, fold)
    for node in list(flow.nodes):
        fold_parameters(node, fold, variables)
    fold_loops(flow, fold)
    fold_edges(flow, fold)
    fold_triggers(flow, fold)
    native = emit(flow, fold, (), ())
    return replace(src, data=native, positions=fold.map)


def _read_wrapper(wrapper: dict[str, Any], flow: Flow, fold: Fold) -> None:
    """``flow: {version, metadata: {name, description, version, ...}, data: {...}}``."""
    metadata = wrapper.get("metadata")
    if not isinstance(metadata, dict):
        return
    rest: dict[str, Any] = {}
    for key, value in metadata.items():
        loc: Path_ = ("flow", "metadata", key)
        if key in ("name", "description", "version") and isinstance(value, (str, int, float)):
            flow.keys[key] = Param(value, loc)
        else:
            rest[key] = value
    if rest:
        flow.keys["metadata"] = Param(rest, None)


def _read_variables(
    owner: dict[str, Any], base: Path_, flow: Flow, fold: Fold
) -> dict[str, object]:
    """``variables`` become flow inputs; returns name -> default for binding parameters."""
    variables = owner.get("variables")
    if variables is None:
        return {}
    flow.keys["variables"] = Param(variables, (*base, "variables"))
    if not isinstance(variables, dict):
        return {}
    defaults: dict[str, object] = {}
    for name, spec in variables.items():
        if isinstance(spec, dict) and "defaultValue" in spec:
            defaults[str(name)] = spec["defaultValue"]
    return defaults


def _read_settings(settings: object, loc: Path_, flow: Flow, fold: Fold) -> None:
    """``settings.runtime``: timeout and concurrency apply; ``parallel: false`` is one at a time."""
    if not isinstance(settings, dict) or not isinstance(settings.get("runtime"), dict):
        return
    runtime: dict[str, Any] = dict(settings["runtime"])
    parallel = runtime.pop("parallel", None)
    if parallel is False and "concurrency" not in runtime:
        runtime["concurrency"] = 1
        fold.warn(
            codes.READ_AS_NATIVE,
            (*loc, "runtime", "parallel"),
            node="settings.runtime",
            old="parallel: false",
            new="concurrency: 1",
        )
    runtime.pop("language", None)
    flow.keys["settings"] = Param({"runtime": runtime}, loc)


def _read_nodes(raw: object, loc: Path_, flow: Flow, fold: Fold) -> None:
    if isinstance(raw, dict):
        # The older format: a map keyed by node id.
        items: list[tuple[Path_, object, str | None]] = [
            ((*loc, key), value, str(key)) for key, value in raw.items()
        ]
    elif isinstance(raw, list):
        items = [((*loc, index), value, None) for index, value in enumerate(raw)]
    else:
        return
    for node_loc, value, key_id in items:
        node = _read_node(value, node_loc, key_id, fold)
        if node is not None:
            flow.nodes.append(node)


def _read_node(raw: object, loc: Path_, key_id: str | None, fold: Fold) -> FlowNode | None:
    if not isinstance(raw, dict):
        fold.error(
            codes.INVALID_ATOMITON_FILE,
            loc,
            message=f"a node is a mapping, found {type(raw).__name__}",
        )
        return None
    node_id = raw.get("id", key_id)
    node_type = raw.get("type")
    if not isinstance(node_id, str) or not isinstance(node_type, str):
        missing = "id" if not isinstance(node_id, str) else "type"
        fold.error(codes.INVALID_ATOMITON_FILE, loc, message=f"a node needs a text {missing!r}")
        return None
    if node_type in OLDER_TYPES:
        fold.warn(
            codes.OLDER_NODE_TYPE,
            (*loc, "type"),
            node=node_id,
            old=node_type,
            new=OLDER_TYPES[node_type],
        )
        node_type = OLDER_TYPES[node_type]
    node = FlowNode(node_id, node_type, loc)
    for key in ("inputPorts", "outputPorts"):
        ports = raw.get(key)
        if isinstance(ports, list):
            for port in ports:
                if isinstance(port, dict) and isinstance(port.get("id"), str):
                    kind = port.get("type")
                    node.port_kinds[port["id"]] = kind if kind in PORT_KINDS else key[:-5]
    if registry.get(node_type) is None:
        # A python node (or an unknown type): its declared ports are its ports.
        for key in ("inputPorts", "outputPorts"):
            if isinstance(raw.get(key), list):
                node.keys[key] = Param(_data_ports(raw[key]), (*loc, key))
    block_key = _parameter_block(raw, loc, node_id, fold)
    block = raw.get(block_key) if block_key else None
    if block_key is not None and isinstance(block, dict):
        for name, value in block.items():
            if block_key == "data" and name in _EDITOR_VALUE_KEYS:
                continue
            node.params[str(name)] = Param(value, (*loc, block_key, name))
    for key, value in raw.items():
        if key in ("id", "type", "parameters", "config", "data") or key in EDITOR_NODE_KEYS:
            continue
        # name, label, description, and anything else for the native schema to judge.
        node.keys[key] = Param(value, (*loc, key))
    return node


def _data_ports(ports: list[Any]) -> list[Any]:
    """Port lists with Atomiton's kind taken out of ``type`` (``dataType`` is the data type)."""
    return [
        (
            {k: v for k, v in p.items() if not (k == "type" and v in PORT_KINDS)}
            if isinstance(p, dict)
            else p
        )
        for p in ports
    ]


def _parameter_block(raw: dict[str, Any], loc: Path_, node_id: str, fold: Fold) -> str | None:
    """Where the node's values are: ``parameters`` (or ``config``), or ``data`` when
    ``parameters`` holds the editor's schema of each parameter (type, control, default)."""
    parameters = raw.get("parameters")
    data = raw.get("data")
    if isinstance(data, dict) and (parameters is None or _is_schema(parameters)):
        if parameters is not None:
            fold.warn(codes.EDITOR_SCHEMA_PARAMETERS, (*loc, "parameters"), node=node_id)
        return "data"
    if parameters is not None:
        return "parameters"
    if raw.get("config") is not None:
        return "config"
    return None


def _is_schema(parameters: object) -> bool:
    return (
        isinstance(parameters, dict)
        and bool(parameters)
        and all(
            isinstance(v, dict) and ("control" in v or ("type" in v and len(v) > 1))
            for v in parameters.values()
        )
    )


def _read_edges(raw: object, loc: Path_, flow: Flow, fold: Fold) -> None:
    if raw is None:
        return
    if not isinstance(raw, list):
        fold.error(codes.INVALID_ATOMITON_FILE, loc, message="edges are a list")
        return
    for index, item in enumerate(raw):
        edge_loc: Path_ = (*loc, index)
        if not isinstance(item, dict):
            fold.error(codes.INVALID_ATOMITON_FILE, edge_loc, message="an edge is a mapping")
            continue
        source, source_handle = _endpoint(item.get("source"), item.get("sourceHandle"))
        target, target_handle = _endpoint(item.get("target"), item.get("targetHandle"))
        if source is None or target is None:
            fold.error(
                codes.INVALID_ATOMITON_FILE,
                edge_loc,
                message="an edge needs a source node and a target node",
            )
            continue
        edge_id = item.get("id")
        flow.edges.append(
            FlowEdge(
                source,
                source_handle,
                target,
                target_handle,
                edge_loc,
                edge_id if isinstance(edge_id, str) else None,
            )
        )


def _endpoint(end: object, handle: object) -> tuple[str | None, str | None]:
    """``"node"`` with its handle, or ``{nodeId|node, portId|port}``."""
    if isinstance(end, dict):
        node = end.get("nodeId", end.get("node"))
        port = end.get("portId", end.get("port"))
        return (
            node if isinstance(node, str) else None,
            port if isinstance(port, str) else None,
        )
    if isinstance(end, str):
        return end, handle if isinstance(handle, str) else None
    return None, None
