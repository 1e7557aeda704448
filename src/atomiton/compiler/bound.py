"""What the bind stage hands on: each node's type, ports, parameters and inputs bound.

``BoundNode`` and ``BoundDoc`` are filled in by ``bind`` (nodes, edges), ``python_nodes`` and
``parameters`` (templates, validated parameters, code), then only read: by ``validate``, and by
``bind.finish_nodes`` and ``bind.graph_outputs``, which make the graph's nodes and outputs. The
small lookups every stage needs on them (which port a handle names, a binding's type) live here.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from pydantic import BaseModel

from ..diagnostics import Diagnostic
from ..naming import snake_case
from ..nodes import registry
from ..nodes.spec import NodeSpec
from .ir import (
    Binding,
    BlueprintDoc,
    CodeFunction,
    EdgeDef,
    FromInput,
    FromNode,
    Graph,
    NodeDef,
    PortDef,
)
from .resolve import IncludeChain

# Stands for "some input" of a node whose edge named no port it has.
ANY_PORT = "\x00any"
# The port a node with ``onError: branch`` sends its error to.
ERROR_PORT = "error"
# The input a loop body or parallel branch receives when it declares none.
ITEM = "item"


def is_subflow_param(definition: NodeDef, name: str) -> bool:
    """Whether parameter ``name`` of a node holds a sub-flow (a loop's body, parallel branches)
    rather than a value: its type's spec says so (a ``Subflow`` parameter)."""
    if not definition.subflows:
        return False
    spec = registry.get(definition.type)
    return spec is not None and spec.subflow(name) is not None


def body_prefix(definition: NodeDef, index: int) -> str:
    """The prefix of the node ids of a node's ``index``-th sub-flow, as its type's sub-flow
    parameter names them (``each.body.``, ``fan.branch1.``)."""
    spec = registry.get(definition.type)
    assert spec is not None and spec.subflows, "only a node type with sub-flows has bodies"
    return spec.subflows[0].id_prefix(definition.id, index)


@dataclass(slots=True)
class Ports:
    """The ports of one node as binding sees them (name -> vocabulary type)."""

    inputs: dict[str, str]
    outputs: dict[str, str]
    multiple: frozenset[str] = frozenset()
    required: frozenset[str] = frozenset()

    @property
    def primary_input(self) -> str | None:
        return next(iter(self.inputs), None)

    @property
    def primary_output(self) -> str | None:
        return next(iter(self.outputs), None)


@dataclass(slots=True)
class BoundNode:
    """A node with its type, ports, parameters and inputs bound (filled in by ``bind``)."""

    definition: NodeDef
    spec: NodeSpec | None
    ports: Ports
    # Field name -> value; leaves may be ``Template``s once ``parameters`` has bound them.
    params: dict[str, object]
    inputs: dict[str, list[tuple[Binding, EdgeDef]]] = field(default_factory=dict)
    function: tuple[str, str] | None = None
    child: Graph | None = None
    bodies: list[Graph] = field(default_factory=list)
    # Parameters whose value is only known at run time: fed by an edge, or a template
    # (``templated``, the subset whose rendered type ``validate`` checks).
    dynamic: set[str] = field(default_factory=set)
    templated: set[str] = field(default_factory=set)
    # The parameter model validated from the values known now; None when it failed or the node
    # has no model (python and group nodes).
    validated: BaseModel | None = None
    code: tuple[CodeFunction, ...] = ()

    def final_params(self) -> dict[str, object]:
        """Parameter values as the graph's ``Node`` holds them: sub-flows left out (they become
        bodies), and an edge feeding a parameter wins over the value written."""
        params = {
            name: value
            for name, value in self.params.items()
            if not is_subflow_param(self.definition, name)
        }
        for port, bindings in self.inputs.items():
            if port not in self.ports.inputs:
                params[port] = bindings[0][0]
        return params


@dataclass(slots=True)
class BoundDoc:
    """One document bound: the stage's result, read (never changed) by ``validate``."""

    doc: BlueprintDoc
    chain: IncludeChain
    # Whether the document is a loop body or branch given the item as its first input.
    item_input: bool
    interface: dict[str, PortDef]
    nodes: dict[str, BoundNode] = field(default_factory=dict)
    # Interface output name -> what feeds it, with the edge that says so.
    outputs: dict[str, list[tuple[Binding, EdgeDef]]] = field(default_factory=dict)
    # (node, port) pairs fed by an edge whose source was already reported as wrong: the port is
    # wired, so "required input has no edge" would only repeat the first error.
    fed_by_broken_edge: set[tuple[str, str]] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class Child:
    """A sub-blueprint of a node, built: its graph (None when it could not be built), and the
    diagnostics that belong to the including document, in the order found."""

    graph: Graph | None
    diagnostics: tuple[Diagnostic, ...] = ()


def item_document(doc: BlueprintDoc, outer_inputs: tuple[PortDef, ...] | None) -> BlueprintDoc:
    """A loop body or parallel branch without declared inputs takes one: the item, which every
    ``input.<name>`` edge then reads. Like code in the flow, it also sees the flow's own inputs
    in templates (``{{ inputs.size }}``)."""
    if outer_inputs is None or doc.inputs:
        return doc
    outer = tuple(p for p in outer_inputs if p.name != ITEM)
    return replace(doc, inputs=(PortDef(ITEM, "any", doc.span, None), *outer))


def add_error_port(definition: NodeDef, ports: Ports) -> None:
    """A node with ``onError: branch`` sends its error out of an extra ``error`` port."""
    if definition.settings.on_error == "branch" and ERROR_PORT not in ports.outputs:
        ports.outputs[ERROR_PORT] = "object"


def input_name(target: BoundNode, port: str) -> str | None:
    """The port (or parameter field) an edge's target handle names."""
    if port in target.ports.inputs:
        return port
    for name in target.ports.inputs:
        if snake_case(name) == snake_case(port):
            return name
    if target.spec is not None:
        fields = target.spec.params.model_fields
        for name, info in fields.items():
            if port in (name, info.alias):
                return name
    return None


def param_names(target: BoundNode) -> list[str]:
    """The YAML names of a node's parameters."""
    if target.spec is None:
        return []
    return [(info.alias or name) for name, info in target.spec.params.model_fields.items()]


def binding_type(bound: BoundDoc, binding: Binding) -> str:
    """The vocabulary type of the value ``binding`` reads."""
    if isinstance(binding, FromNode):
        return bound.nodes[binding.node].ports.outputs.get(binding.port, "any")
    if isinstance(binding, FromInput):
        return bound.interface[binding.name].type
    return "any"
