"""The blueprint file as written, normalised into a ``BlueprintDoc``.

Atomiton's alternative spellings are accepted here and folded into one form: ``config``/``data``
for ``parameters``, ``connections`` for ``edges``, ``variables`` for interface inputs, nodes with
their own ``nodes``/``edges`` (inline groups). Ports and their types and defaults are checked
here. The pydantic models of the file and the turning of their validation errors into
diagnostics at the offending key's YAML position are ``blueprint_models``'s; the file's dialect
is folded by ``dialects`` before anything here reads it; the run's settings and a node's common
settings are read and checked by ``settings``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Final

from .. import codes
from ..codes import ErrorCode
from ..diagnostics import Diagnostic, DiagnosticSink, Span
from ..nodes import registry
from ..nodes.javascript_compile import route_javascript
from ..nodes.spec import COMMON_SETTINGS, NodeSpec
from .blueprint_models import (
    BlueprintModel,
    ConnectionModel,
    EdgeModel,
    NodeModel,
    PortModel,
    describe_path,
    validate_model,
)
from . import settings
from .dialects import fold_dialect
from .ir import MISSING, BlueprintDoc, EdgeDef, NodeDef, PortDef
from .source import Path_, SourceFile
from .types import (
    MAX_TYPE_DEPTH,
    PortType,
    TypeTooDeepError,
    describe_value,
    parse_type,
    value_fits,
)

_ID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]*$")

# Keys Atomiton writes for its editor; kept out of the way, never interpreted.
_EDITOR_KEYS = ("position", "metadata", "version", "inputPorts", "outputPorts", "width", "height")


# Errors after which the document is still whole (a bad value replaced by its default, an
# unknown type read as any): they travel with it as ``BlueprintDoc.deferred`` and the graph
# builder reports them beside its own, so that a bad default does not hide a mis-wired edge.
_DEFERRED_CODES: Final = frozenset(
    {
        codes.INVALID_SETTING,
        codes.INTERFACE_PORT_TWICE,
        codes.INVALID_BLUEPRINT_SETTING,
        codes.UNKNOWN_PORT_TYPE,
        codes.DEFAULT_TYPE_MISMATCH,
        codes.TYPE_TOO_DEEP,
    }
)


class _FileSink(DiagnosticSink):
    """Collects one file's schema diagnostics, keeping the deferrable errors apart."""

    def __init__(self) -> None:
        super().__init__()
        self.deferred: list[Diagnostic] = []

    def error(
        self, code: ErrorCode, span: Span | None, *, hint: str | None = None, **fields: object
    ) -> Diagnostic:
        diagnostic = super().error(code, span, hint=hint, **fields)
        if code in _DEFERRED_CODES:
            self.items.remove(diagnostic)
            self.deferred.append(diagnostic)
        return diagnostic

    def warning(
        self, code: ErrorCode, span: Span | None, *, hint: str | None = None, **fields: object
    ) -> Diagnostic:
        # Warnings (the dialect's readings) travel with the document to the compiled result.
        diagnostic = super().warning(code, span, hint=hint, **fields)
        self.items.remove(diagnostic)
        self.deferred.append(diagnostic)
        return diagnostic


def parse_document(
    src: SourceFile, sink: DiagnosticSink, *, default_id: str
) -> BlueprintDoc | None:
    """Validate a parsed file and normalise it; problems go to ``sink``.

    Errors that leave the document whole go to ``BlueprintDoc.deferred`` instead, for the graph
    builder to report with its own; when the file has other errors they all go to ``sink``.
    """
    if not isinstance(src.data, dict):
        found = "an empty file" if src.data is None else type(src.data).__name__
        sink.error(codes.NOT_A_MAPPING, src.positions.span(()), found=found)
        return None
    digest = hashlib.sha256(src.text.encode("utf-8")).hexdigest()
    local = _FileSink()
    # Atomiton's files become native data here; nothing after this line knows the dialect.
    src = fold_dialect(src, local)
    if local.has_errors:
        sink.extend(local.items)
        return None
    doc = _document(src.data, (), src, local, default_id=default_id, sha256=digest)
    sink.extend(local.items)
    if doc is None or local.has_errors:
        sink.extend(local.deferred)
        return doc
    return replace(doc, deferred=tuple(local.deferred))


def _document(
    data: Mapping[str, Any],
    loc: Path_,
    src: SourceFile,
    sink: DiagnosticSink,
    *,
    default_id: str,
    sha256: str,
) -> BlueprintDoc | None:
    model = validate_model(BlueprintModel, dict(data), loc, src, sink)
    if model is None:
        return None
    blueprint_id = model.id or default_id
    inputs = [
        _port(p, (*loc, "interface", "inputs", i), src, sink, interface=True)
        for i, p in enumerate(model.interface.inputs if model.interface else [])
    ]
    for name, var in (model.variables or {}).items():
        var_loc: Path_ = (*loc, "variables", name)
        default_key = "defaultValue" if var.defaultValue is not MISSING else "default"
        default = var.defaultValue if var.defaultValue is not MISSING else var.default
        type_text = _check_type(var.type, (*var_loc, "type"), src, sink)
        _check_default(str(name), type_text, default, (*var_loc, default_key), src, sink)
        inputs.append(
            PortDef(
                str(name),
                type_text,
                src.positions.span(var_loc, key=True),
                default,
                var.description,
            )
        )
    outputs = [
        _port(p, (*loc, "interface", "outputs", i), src, sink)
        for i, p in enumerate(model.interface.outputs if model.interface else [])
    ]
    _check_unique(inputs, "input", sink)
    _check_unique(outputs, "output", sink)
    nodes = []
    for index, raw in enumerate(model.nodes):
        node = _node(raw, (*loc, "nodes", index), src, sink, sha256)
        if node is not None:
            nodes.append(node)
    edges = _edges(model.edges or [], (*loc, "edges"), src, sink)
    edges += _connections(model.connections or [], (*loc, "connections"), src, sink)
    concurrency, timeout, executor = settings.runtime_settings(
        model.settings or {}, (*loc, "settings"), src, sink
    )
    cache = settings.cache_setting(model.settings or {}, (*loc, "settings"), src, sink)
    return BlueprintDoc(
        id=blueprint_id,
        name=model.name or blueprint_id,
        version="" if model.version is None else str(model.version),
        description=model.description or "",
        path=src.path,
        display=src.display,
        sha256=sha256,
        span=src.positions.span(loc),
        metadata=model.metadata or {},
        inputs=tuple(inputs),
        outputs=tuple(outputs),
        nodes=tuple(nodes),
        edges=tuple(edges),
        concurrency=concurrency,
        timeout=timeout,
        cache=cache,
        executor=executor,
    )


def _port(
    p: PortModel, loc: Path_, src: SourceFile, sink: DiagnosticSink, *, interface: bool = False
) -> PortDef:
    name = p.id or p.name
    span = src.positions.span(loc)
    if not name:
        sink.error(codes.MISSING_KEY, span, where=describe_path(loc), key="id")
        name = "_"
    default_key = "default" if p.default is not MISSING else "defaultValue"
    default = p.default if p.default is not MISSING else p.defaultValue
    type_key = "type" if p.type else "dataType"
    type_text = _check_type(p.type or p.dataType, (*loc, type_key), src, sink)
    secret = bool(p.secret)
    if interface:
        _check_default(name, type_text, default, (*loc, default_key), src, sink)
        if secret and type_text not in ("string", "string?"):
            sink.error(
                codes.INVALID_VALUE,
                src.positions.span((*loc, "secret")),
                where=describe_path((*loc, "secret")),
                message=f"a secret input is a string (string or string?), not {type_text!r}",
            )
            secret = False
    return PortDef(name, type_text, span, default, p.description, bool(p.multiple), secret)


def _check_type(text: str, loc: Path_, src: SourceFile, sink: DiagnosticSink) -> str:
    """Report a type outside the vocabulary; return the type the compiler goes on with."""
    try:
        parsed = parse_type(text)
    except TypeTooDeepError:
        sink.error(
            codes.TYPE_TOO_DEEP,
            src.positions.span(loc),
            limit=MAX_TYPE_DEPTH,
            hint=f"the limit is {MAX_TYPE_DEPTH} levels of array<...>; use array<any> below that",
        )
        return "any"
    if parsed is None:
        sink.error(
            codes.UNKNOWN_PORT_TYPE,
            src.positions.span(loc),
            type=text,
            hint="use string, number, integer, boolean, array, object, buffer, path or any "
            "(or array<T>, or T? for T or null)",
        )
    return text


def _check_default(
    name: str, type_text: str, default: object, loc: Path_, src: SourceFile, sink: DiagnosticSink
) -> None:
    """An interface input's default must be a value of its type (None is always allowed)."""
    if default is MISSING or default is None:
        return
    port_type = parse_type(type_text)
    if port_type is None or value_fits(default, port_type):
        return
    sink.error(
        codes.DEFAULT_TYPE_MISMATCH,
        src.positions.span(loc),
        name=name,
        found=describe_value(default),
        type=str(port_type),
        hint=_default_hint(default, port_type),
    )


def _default_hint(default: object, port_type: PortType) -> str:
    if port_type.name == "integer" and isinstance(default, float):
        return "a fraction does not fit an integer: declare it number, or give a whole number"
    if port_type.name == "array" and isinstance(default, list):
        return f"every element must be a {port_type.item}"
    if isinstance(default, str) and port_type.name in ("integer", "number", "boolean"):
        return f"write a {port_type.name} without quotes (YAML reads 'one' and \"1\" as text)"
    return f"give a {port_type} value, or change the type"


def _check_unique(ports: list[PortDef], direction: str, sink: DiagnosticSink) -> None:
    """Interface ports (and ``variables``) must have distinct names."""
    first: dict[str, PortDef] = {}
    for port in ports:
        if port.name in first:
            earlier = first[port.name].span
            sink.error(
                codes.INTERFACE_PORT_TWICE,
                port.span,
                direction=direction,
                name=port.name,
                first=f"{earlier.line}:{earlier.column}",
                hint="rename one, or remove the copy",
            )
        else:
            first[port.name] = port


def _node(
    raw: object, loc: Path_, src: SourceFile, sink: DiagnosticSink, sha256: str
) -> NodeDef | None:
    model = validate_model(NodeModel, raw, loc, src, sink, _parameter_keys(raw))
    if model is None:
        return None
    span = src.positions.span(loc)
    if not _ID.match(model.id):
        sink.error(codes.INVALID_ID, src.positions.span((*loc, "id")), what="node id", id=model.id)
    params: dict[str, object] = {}
    param_spans: dict[str, Span] = {}
    template_spans: dict[tuple[str | int, ...], Span] = {}
    blocks: dict[str, str] = {}
    for key in ("data", "config", "parameters"):  # later spellings win, parameters last
        block = getattr(model, key)
        if block:
            for name, value in block.items():
                params[str(name)] = value
                param_spans[str(name)] = src.positions.span((*loc, key, name), key=True)
                blocks[str(name)] = key
                _template_spans(value, (*loc, key, name), (str(name),), src, template_spans)
    if model.function is not None:
        params["function"] = model.function
        param_spans["function"] = src.positions.span((*loc, "function"))
    # ``runtime: javascript`` on code/transform: a JavaScript node type, its code checked here.
    node_type = route_javascript(
        model.id,
        model.type,
        params,
        value_span=lambda name: src.positions.span((*loc, blocks.get(name, "parameters"), name)),
        yaml_text=src.text,
        template_spans=template_spans,
        sink=sink,
    )
    node_settings = settings.node_settings(model, params, param_spans, sink)
    subflows = _subflows(model, params, param_spans, loc, src, sink, sha256)
    inline = None
    if model.nodes is not None:
        inline_data: dict[str, Any] = {"id": model.id, "nodes": model.nodes}
        for key in ("edges", "connections", "interface", "variables"):
            if getattr(model, key) is not None:
                inline_data[key] = getattr(model, key)
        inline = _document(inline_data, loc, src, sink, default_id=model.id, sha256=sha256)
    return NodeDef(
        id=model.id,
        type=node_type,
        span=span,
        name=model.name or model.label or "",
        description=model.description or "",
        params=params,
        param_spans=param_spans,
        settings=node_settings,
        template_spans=template_spans,
        declared_inputs=tuple(
            _port(p, (*loc, "inputPorts", i), src, sink)
            for i, p in enumerate(model.inputPorts or [])
        ),
        declared_outputs=tuple(
            _port(p, (*loc, "outputPorts", i), src, sink)
            for i, p in enumerate(model.outputPorts or [])
        ),
        inline=inline,
        subflows=subflows,
    )


def _template_spans(
    value: object,
    loc: Path_,
    path: tuple[str | int, ...],
    src: SourceFile,
    out: dict[tuple[str | int, ...], Span],
) -> None:
    """Record where each template string under a parameter is written (iteratively: parameter
    values may nest deeply)."""
    stack = [(value, loc, path)]
    while stack:
        item, item_loc, item_path = stack.pop()
        if isinstance(item, str):
            if "{{" in item:
                out[item_path] = src.positions.span(item_loc)
        elif isinstance(item, dict):
            stack.extend(((v, (*item_loc, k), (*item_path, k)) for k, v in item.items()))
        elif isinstance(item, list):
            stack.extend(((v, (*item_loc, i), (*item_path, i)) for i, v in enumerate(item)))


def _parameter_keys(raw: object) -> frozenset[str]:
    """The keys that belong under a node's ``parameters:`` (its type's and the common settings)."""
    type_name = raw.get("type") if isinstance(raw, dict) else None
    spec = registry.get(type_name) if isinstance(type_name, str) else None
    # Every node of a type asks: the answer is kept for as long as the type has that spec.
    known = _KEYS.get(type_name) if isinstance(type_name, str) else None
    if known is not None and known[0] is spec:
        return known[1]
    keys = _own_keys(type_name, spec)
    if isinstance(type_name, str):
        _KEYS[type_name] = (spec, keys)
    return keys


_KEYS: dict[str, tuple[NodeSpec | None, frozenset[str]]] = {}


def _own_keys(type_name: object, spec: NodeSpec | None) -> frozenset[str]:
    own: set[str] = set(COMMON_SETTINGS)
    if spec is not None:
        for name, info in spec.params.model_fields.items():
            own.update((name, info.alias or name))
    elif type_name == "python":
        own.add("execution")
    return frozenset(own)


def _subflows(
    model: NodeModel,
    params: dict[str, object],
    spans: Mapping[str, Span],
    loc: Path_,
    src: SourceFile,
    sink: DiagnosticSink,
    sha256: str,
) -> tuple[tuple[BlueprintDoc | str, Span], ...]:
    """Loop bodies and parallel branches: inline documents or path references, in the parameter
    that the node type's spec declares a sub-flow (``Subflow``)."""
    spec = registry.get(model.type)
    subflow = spec.subflows[0] if spec is not None and spec.subflows else None
    key = subflow.yaml_name if subflow is not None else None
    if subflow is None or key is None or key not in params:
        return ()
    value = params[key]
    block = next(
        (
            k
            for k in ("parameters", "config", "data")
            if isinstance(getattr(model, k), dict) and key in getattr(model, k)
        ),
        "parameters",
    )
    items = list(enumerate(value)) if subflow.many and isinstance(value, list) else [(None, value)]
    found: list[tuple[BlueprintDoc | str, Span]] = []
    for index, item in items:
        item_loc: Path_ = (*loc, block, key) if index is None else (*loc, block, key, index)
        span = src.positions.span(item_loc)
        if isinstance(item, str):
            found.append((item, span))
        elif isinstance(item, dict):
            if isinstance(item.get("path"), str) and "nodes" not in item:
                found.append((item["path"], span))
                continue
            doc = _document(
                item, item_loc, src, sink, default_id=f"{model.id}-{key}", sha256=sha256
            )
            if doc is not None:
                found.append((doc, span))
        else:
            sink.error(codes.SUB_BLUEPRINT_WITHOUT_SOURCE, spans.get(key), node=model.id)
    return tuple(found)


def _edges(raw: list[Any], loc: Path_, src: SourceFile, sink: DiagnosticSink) -> list[EdgeDef]:
    edges = []
    for index, item in enumerate(raw):
        model = validate_model(EdgeModel, item, (*loc, index), src, sink)
        if model is None:
            continue
        source, source_port = _split_endpoint(model.source, model.sourceHandle, "input")
        target, target_port = _split_endpoint(model.target, model.targetHandle, "output")
        edge_id = model.id or f"{model.source}->{model.target}"
        edges.append(
            EdgeDef(
                edge_id, source, source_port, target, target_port, src.positions.span((*loc, index))
            )
        )
    return edges


def _connections(
    raw: list[Any], loc: Path_, src: SourceFile, sink: DiagnosticSink
) -> list[EdgeDef]:
    edges = []
    for index, item in enumerate(raw):
        model = validate_model(ConnectionModel, item, (*loc, index), src, sink)
        if model is None:
            continue
        source = model.source.node or model.source.nodeId
        target = model.target.node or model.target.nodeId
        span = src.positions.span((*loc, index))
        if not source or not target:
            sink.error(codes.MISSING_KEY, span, where=describe_path((*loc, index)), key="node")
            continue
        edge_id = model.id or f"{source}->{target}"
        edges.append(
            EdgeDef(
                edge_id,
                source,
                model.source.port or model.source.portId,
                target,
                model.target.port or model.target.portId,
                span,
            )
        )
    return edges


def _split_endpoint(node: str, handle: str | None, pseudo: str) -> tuple[str, str | None]:
    """``input.path`` -> (``input``, ``path``); generic handles are the builder's to read."""
    if handle is None and node.startswith(pseudo + "."):
        return pseudo, node[len(pseudo) + 1 :]
    return node, handle or None
