"""Frozen data the compiler's stages hand to each other once the file is validated.

``BlueprintDoc`` is one file normalised (Atomiton's alternative spellings folded away);
``Graph`` is the checked, flat graph after sub-blueprints are inlined, with every input of every
node bound to where its value comes from.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TypeAlias

from ..diagnostics import Diagnostic, Span

if TYPE_CHECKING:
    from ..nodes.spec import NodeSpec


class _Missing:
    """The absence of a default value (``None`` is a real default)."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __reduce__(self) -> str:
        return "MISSING"


MISSING = _Missing()

OnError = Literal["fail", "continue", "branch"]
# A node's ``cache:`` setting (the runtime's ``CachePolicy``; docs/caching.md).
CachePolicy = Literal["auto", "always", "never"]


@dataclass(frozen=True, slots=True)
class PortDef:
    """A port of a blueprint's interface (or one declared on a node in the file)."""

    name: str
    type: str
    span: Span
    default: object = MISSING
    description: str = ""
    multiple: bool = False
    # ``secret: true`` on an interface input: a ``SecretStr`` field, never in a cache key.
    secret: bool = False

    @property
    def required(self) -> bool:
        return self.default is MISSING


@dataclass(frozen=True, slots=True)
class EdgeDef:
    """An edge as written; ``None`` ports mean the primary port."""

    id: str
    source: str
    source_port: str | None
    target: str
    target_port: str | None
    span: Span


@dataclass(frozen=True, slots=True)
class NodeSettings:
    """Atomiton's common node settings (NODES.md section 2); times in seconds."""

    enabled: bool = True
    timeout: float | None = None
    retries: int = 0
    retry_delay: float = 1.0
    on_error: OnError = "fail"
    cache: CachePolicy = "auto"
    # ``pure: true``: the author says the node has no side effects (cached under ``auto``).
    pure: bool = False


@dataclass(frozen=True, slots=True)
class NodeDef:
    """A node as written in one file."""

    id: str
    type: str
    span: Span
    name: str = ""
    description: str = ""
    params: Mapping[str, object] = field(default_factory=dict)
    param_spans: Mapping[str, Span] = field(default_factory=dict)
    settings: NodeSettings = NodeSettings()
    declared_inputs: tuple[PortDef, ...] = ()
    declared_outputs: tuple[PortDef, ...] = ()
    # Where each template string under the parameters is written, keyed by its path from the
    # parameter's YAML name (``("args", 1)``), so a diagnostic points at the template itself.
    template_spans: Mapping[tuple[str | int, ...], Span] = field(default_factory=dict)
    # A sub-blueprint written inline (Atomiton's group with its own nodes/edges).
    inline: BlueprintDoc | None = None
    # Sub-blueprints run by the node itself (loop's body, parallel's branches): inline
    # documents, or path references still to be resolved, with the span that names each.
    subflows: tuple[tuple[BlueprintDoc | str, Span], ...] = ()


@dataclass(frozen=True, slots=True)
class BlueprintDoc:
    """One blueprint file, validated and normalised."""

    id: str
    name: str
    version: str
    description: str
    path: Path
    display: str
    sha256: str
    span: Span
    metadata: Mapping[str, object]
    inputs: tuple[PortDef, ...]
    outputs: tuple[PortDef, ...]
    nodes: tuple[NodeDef, ...]
    edges: tuple[EdgeDef, ...]
    concurrency: int | None = None
    timeout: float | None = None
    # ``settings.cache: auto``: runs use the node cache unless told otherwise.
    cache: bool = False
    executor: str | None = None
    # Errors of the file that leave it whole (a default that does not fit its type, a bad
    # setting): ``bind`` reports them with its own, so neither hides the other.
    deferred: tuple[Diagnostic, ...] = ()


# Where a node input's value comes from.
@dataclass(frozen=True, slots=True)
class FromNode:
    node: str
    port: str


@dataclass(frozen=True, slots=True)
class FromInput:
    name: str


@dataclass(frozen=True, slots=True)
class Constant:
    value: object


@dataclass(frozen=True, slots=True)
class FromTemplate:
    """A value rendered from a template (a sub-blueprint input fed by a templated parameter)."""

    template: Template


Binding: TypeAlias = FromNode | FromInput | Constant | FromTemplate


@dataclass(frozen=True, slots=True)
class TemplateExpr:
    """One ``{{ ... }}``: a root and a path of keys and indexes below it.

    ``root`` is a binding (``inputs.x``, a node's input port), or ``"now"`` / ``"env"``.
    """

    text: str
    root: Binding | Literal["now", "env"]
    path: tuple[str | int, ...] = ()
    # Runtime functions applied to the value in order (``shquote``).
    filters: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Template:
    """A string parameter holding templates; one lone expression keeps its value's type."""

    parts: tuple[str | TemplateExpr, ...]

    @property
    def is_single(self) -> bool:
        return len(self.parts) == 1 and isinstance(self.parts[0], TemplateExpr)


@dataclass(frozen=True, slots=True)
class CodeFunction:
    """Python source from the blueprint, checked and normalised by ``ast``."""

    param: str
    kwarg: str
    kind: Literal["expression", "body"]
    args: tuple[str, ...]
    source: str
    # The blueprint inputs the code reads (``inputs.rate``), by name, and where each value comes
    # from once sub-blueprints are inlined (an included blueprint's input may be another node's
    # output in the flat graph).
    reads: tuple[tuple[str, Binding], ...] = ()
    # Where the code is written (its parameter's value), for errors found when it is compiled.
    span: Span | None = None
    # The parsed ``source`` (``ast.Module`` of a body, ``ast.Expression`` of an expression), for
    # later stages to use instead of parsing the text again; not part of the value's identity.
    tree: ast.AST | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Node:
    """A node of the flat, checked graph."""

    id: str
    type: str
    span: Span
    name: str
    settings: NodeSettings
    spec: NodeSpec | None
    # Parameter values; leaves may be ``Template`` (rendered at run time) and values fed by an
    # edge are ``Binding``s.
    params: Mapping[str, object]
    # Input port -> where its value comes from (a tuple for ``multiple`` ports).
    inputs: Mapping[str, Binding | tuple[Binding, ...]]
    code: tuple[CodeFunction, ...] = ()
    # ``python`` nodes: the user's function as (module, attribute), and where it is named.
    function: tuple[str, str] | None = None
    function_span: Span | None = None
    # Output ports (for python nodes, from the YAML declaration).
    outputs: tuple[PortDef, ...] = ()
    # Where the node was included from, innermost first ("included from a.yaml:3:5").
    included_from: tuple[Span, ...] = ()
    skipped: bool = False
    # Compiled sub-blueprints the node runs per item or per branch (loop, parallel).
    bodies: tuple[Graph, ...] = ()


@dataclass(frozen=True, slots=True)
class Output:
    """An interface output and the value that defines it."""

    port: PortDef
    binding: Binding


@dataclass(frozen=True, slots=True)
class Graph:
    """A checked, flat blueprint graph: nodes in topological order."""

    id: str
    name: str
    version: str
    description: str
    display: str
    sha256: str
    metadata: Mapping[str, object]
    inputs: tuple[PortDef, ...]
    outputs: tuple[Output, ...]
    nodes: tuple[Node, ...]
    concurrency: int | None = None
    timeout: float | None = None
    executor: str | None = None
    warnings: tuple[Diagnostic, ...] = ()
    # ``settings.cache: auto`` (see ``BlueprintDoc``).
    cache: bool = False

    def node(self, node_id: str) -> Node:
        return next(n for n in self.nodes if n.id == node_id)
