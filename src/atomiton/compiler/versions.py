"""Each node's code version: 16 hex digits of a sha256 over what decides the node's behaviour.

A node's version covers its type's implementation (the node module's declared ``version``, the
module's name, atomiton's version, and a node package's own version), its parameters after
binding and folding (constants of sub-blueprints filled in; templates and edges as the values
they read, by reference), the inputs' wiring, its embedded code as the compiler normalised it,
for a ``python`` node the source of its function and of the definitions that reaches in the same
package (``function_sources``), and for a loop or parallel node its bodies (their nodes'
versions and settings, and how their outputs are wired). It does not cover the node's id,
position, name or policy settings, nor any upstream node: the values that flow in are the key
of a cache, not part of the version. docs/versions.md is the user's account of the same.

The encoding is canonical (mappings by key, sets sorted, every string length-prefixed), made of
nothing that differs between runs or machines (no absolute path, no ``hash()``, no ``id()``).
Codegen writes the versions into ``BLUEPRINT``; ``graph --versions`` and
``check --changed-since`` read them from here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from functools import lru_cache
from pathlib import Path
from typing import Final, Literal

from .. import __version__, codes
from ..diagnostics import Diagnostic, Severity
from ..nodes import registry
from .function_sources import FunctionSource, function_source
from .ir import (
    MISSING,
    CodeFunction,
    Constant,
    FromInput,
    FromNode,
    FromTemplate,
    Graph,
    Node,
    NodeSettings,
    PortDef,
    Template,
    TemplateExpr,
)

# Hex digits kept of the sha256: 64 bits, far from a collision among one flow's nodes.
VERSION_CHARS: Final = 16
# The encoding's own version: raised when what a version covers changes, so that no old
# version is ever equal to a new one by accident.
_FORMAT: Final = 1
# ``python`` nodes have no node module: how generated code calls their function is codegen's,
# and this is its version.
PYTHON_NODE_VERSION: Final = 1


@dataclass(frozen=True, slots=True)
class NodeVersions:
    """The versions of a graph's nodes, bodies included.

    Attributes:
        by_id: node id -> version, for every node (loop bodies and branches too).
        warnings: W0270 for each ``python`` node whose function's source cannot be read.
        files: the Python source files read for ``python`` nodes (resolved paths): a compiled
            module is stale when one of them changes.
    """

    by_id: Mapping[str, str]
    warnings: tuple[Diagnostic, ...] = ()
    files: tuple[Path, ...] = ()


def node_versions(graph: Graph) -> NodeVersions:
    """The code version of every node of ``graph`` (see the module docstring)."""
    hasher = _Hasher()
    for node in graph.nodes:
        hasher.version(node)  # a loop's body nodes on the way
    return NodeVersions(dict(hasher.by_id), tuple(hasher.warnings), tuple(hasher.files))


class _Hasher:
    def __init__(self) -> None:
        self.by_id: dict[str, str] = {}
        self.warnings: list[Diagnostic] = []
        self.files: dict[Path, None] = {}
        self.functions: dict[tuple[str, str], FunctionSource] = {}
        self.heads: dict[tuple[str, tuple[str, str] | None, bool], str] = {}

    def version(self, node: Node) -> str:
        known = self.by_id.get(node.id)
        if known is not None:
            return known
        # The type's own name, not an alias the blueprint may spell it with.
        type_name = node.spec.type if node.spec is not None else node.type
        # The encoding of [format, atomiton's version, type, implementation, ...]: its head is
        # the same for every node of a type (a python node's differs by function), so it is
        # encoded once and the rest written after it.
        head_key = (type_name, node.function, node.spec is None)
        head = self.heads.get(head_key)
        if head is None:
            out = ["["]
            for part in (_FORMAT, __version__, type_name, self._implementation(node)):
                _write(part, out)
            head = self.heads[head_key] = "".join(out)
        elif node.function is not None:
            self._function(node)  # its warning, once per node as before
        out = [head]
        compiled = {function.param for function in node.code}
        _write({k: v for k, v in node.params.items() if k not in compiled}, out)
        _write(dict(node.inputs), out)
        _write(sorted((_code(function) for function in node.code), key=_encode), out)
        _write([(port.name, port.type) for port in node.outputs], out)
        _write([self._body(body) for body in node.bodies], out)
        out.append("]")
        encoded = "".join(out).encode("utf-8", "surrogatepass")
        version = hashlib.sha256(encoded).hexdigest()[:VERSION_CHARS]
        self.by_id[node.id] = version
        return version

    def _implementation(self, node: Node) -> object:
        if node.spec is not None:
            spec = node.spec
            return ("spec", spec.module, spec.version, _package_version(spec.type))
        if node.function is None:
            return ("none",)
        source = self._function(node)
        return ("python", PYTHON_NODE_VERSION, *node.function, source.definitions)

    def _function(self, node: Node) -> FunctionSource:
        assert node.function is not None
        source = self.functions.get(node.function)
        if source is None:
            source = self.functions[node.function] = function_source(*node.function)
            self.files.update(dict.fromkeys(source.files))
        if source.problem is not None and not node.skipped:
            module, name = node.function
            self.warnings.append(
                Diagnostic(
                    codes.FUNCTION_SOURCE_UNREAD,
                    codes.FUNCTION_SOURCE_UNREAD.message(
                        node=node.id, function=f"{module}:{name}", problem=source.problem
                    ),
                    node.function_span or node.span,
                    Severity.WARNING,
                    hint="define it with 'def' in a .py module on the search path; until "
                    "then a cache does not see edits to it",
                    notes=tuple(f"included from {span}" for span in node.included_from),
                )
            )
        return source

    def _body(self, body: Graph) -> object:
        nodes = sorted(
            (node.id, self.version(node), _settings(node.settings), node.skipped)
            for node in body.nodes
        )
        return (
            [_port(port) for port in body.inputs],
            [(output.port.name, output.port.type, output.binding) for output in body.outputs],
            nodes,
        )


def _code(function: CodeFunction) -> object:
    return (
        function.param,
        function.kind,
        function.args,
        function.source,
        sorted(function.reads, key=_encode),
    )


def _port(port: PortDef) -> object:
    return (port.name, port.type, port.default, port.multiple)


def _settings(settings: NodeSettings) -> object:
    return (
        settings.enabled,
        settings.timeout,
        settings.retries,
        settings.retry_delay,
        settings.on_error,
    )


@lru_cache(maxsize=64)
def _package_version(type_name: str) -> str:
    """The installed version of the node package declaring ``type_name`` ("" for atomiton's
    own types, whose version is atomiton's)."""
    package = registry.package_of(type_name)
    if package is None:
        return ""
    from importlib import metadata  # only for node packages: it is slow to import

    try:
        return f"{package}=={metadata.version(package)}"
    except metadata.PackageNotFoundError:
        return package


def _encode(value: object) -> bytes:
    """``value`` as bytes that are equal exactly when the values are (see the module docs)."""
    return _text(value).encode("utf-8", "surrogatepass")


def _text(value: object) -> str:
    out: list[str] = []
    _write(value, out)
    return "".join(out)


def _write(value: object, out: list[str]) -> None:
    kind = type(value)  # the common exact types first, without a chain of isinstance
    if kind is str:
        out.append(f"s{len(value)}:{value}")  # type: ignore[arg-type]
        return
    if kind is tuple or kind is list:
        out.append("[")
        for item in value:  # type: ignore[attr-defined]
            _write(item, out)
        out.append("]")
        return
    if value is None or value is MISSING:
        out.append("N" if value is None else "M")
    elif isinstance(value, bool):
        out.append("T" if value else "F")
    elif isinstance(value, int):
        out.append(f"i{value};")
    elif isinstance(value, float):
        out.append(f"f{value.hex()};")
    elif isinstance(value, str):
        out.append(f"s{len(value)}:{value}")
    elif isinstance(value, (bytes, bytearray)):
        out.append(f"b{len(value)}:{value.hex()}")
    elif isinstance(value, (list, tuple)):
        out.append("[")
        for item in value:
            _write(item, out)
        out.append("]")
    elif isinstance(value, dict):
        pairs = sorted(_text(k) + _text(v) for k, v in value.items())
        out.append("{" + "".join(pairs) + "}")
    elif isinstance(value, (set, frozenset)):
        out.append("<" + "".join(sorted(_text(item) for item in value)) + ">")
    elif isinstance(value, (datetime, date, time)):
        out.append(f"t{type(value).__name__}:{value.isoformat()};")
    else:
        _write_bound(value, out)


def _write_bound(value: object, out: list[str]) -> None:
    """Bindings and templates: what a value is read from, by reference."""
    if isinstance(value, FromNode):
        out.append("@node")
        _write((value.node, value.port), out)
    elif isinstance(value, FromInput):
        out.append("@input")
        _write(value.name, out)
    elif isinstance(value, Constant):
        out.append("@const")
        _write(value.value, out)
    elif isinstance(value, FromTemplate):
        out.append("@from")
        _write(value.template, out)
    elif isinstance(value, Template):
        out.append("@template")
        _write(list(value.parts), out)
    elif isinstance(value, TemplateExpr):
        out.append("@expr")
        _write((value.root, list(value.path), list(value.filters)), out)
    else:
        # Nothing else comes from YAML; the type's name (never its repr, which may hold an
        # address) keeps the encoding deterministic all the same.
        out.append(f"?{type(value).__module__}.{type(value).__qualname__};")


# -- what changed since a run ---------------------------------------------------------------------

ChangeKind = Literal["changed", "new", "unknown", "downstream"]


@dataclass(frozen=True, slots=True)
class Change:
    """A node that would compute again, compared with a recorded run, and why.

    Attributes:
        node: the node's id.
        kind: ``changed`` (its version differs), ``new`` (the run had no such node),
            ``unknown`` (the run recorded no version for it) or ``downstream`` (its own version
            is the same, but it reads a node that computes again).
        reason: the why in words.
        version: its version now.
        recorded: its version in the run (None: none recorded).
    """

    node: str
    kind: ChangeKind
    reason: str
    version: str
    recorded: str | None = None


def changes_since(
    graph: Graph, versions: Mapping[str, str], recorded: Mapping[str, str | None]
) -> list[Change]:
    """The nodes of ``graph`` that would compute again compared with a run whose nodes had the
    ``recorded`` versions (node id -> version), in the order the module runs them (a loop's
    body after the loop), each changed node's downstream nodes marked as such."""
    changes: list[Change] = []
    again: dict[str, str] = {}  # node id -> the changed node it computes again because of

    def visit(nodes: tuple[Node, ...]) -> None:
        for node in nodes:
            version = versions[node.id]
            change = _own_change(node.id, version, recorded)
            if change is not None:
                again[node.id] = node.id
                changes.append(change)
            else:
                upstream = sorted(n for n in _reads(node) if n in again)
                if upstream:
                    cause = again[upstream[0]]
                    again[node.id] = cause
                    via = "" if cause == upstream[0] else f" through {upstream[0]!r}"
                    reason = f"downstream of {cause!r}{via}"
                    changes.append(Change(node.id, "downstream", reason, version, version))
            for body in node.bodies:
                visit(body.nodes)

    visit(graph.nodes)
    return changes


def _own_change(node_id: str, version: str, recorded: Mapping[str, str | None]) -> Change | None:
    if node_id not in recorded:
        return Change(node_id, "new", "not in the run", version)
    old = recorded[node_id]
    if old is None:
        return Change(node_id, "unknown", "the run recorded no version for it", version)
    if old != version:
        return Change(node_id, "changed", f"version {old} -> {version}", version, old)
    return None


def _reads(node: Node) -> set[str]:
    """The ids of the nodes whose results ``node`` reads (edges, templates, code)."""
    found: set[str] = set()
    pending: list[object] = [*node.inputs.values(), *node.params.values()]
    pending.extend(binding for code in node.code for _, binding in code.reads)
    while pending:
        value = pending.pop()
        if isinstance(value, FromNode):
            found.add(value.node)
        elif isinstance(value, FromTemplate):
            pending.append(value.template)
        elif isinstance(value, Template):
            pending.extend(p.root for p in value.parts if isinstance(p, TemplateExpr))
        elif isinstance(value, (list, tuple)):
            pending.extend(value)
        elif isinstance(value, dict):
            pending.extend(value.values())
    return found
