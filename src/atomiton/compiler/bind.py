"""Binding: one resolved document -> its nodes, ports, edges and parameters on the IR.

``bind_document`` looks node types up in the registry (or takes a sub-blueprint's ports from its
built graph), maps YAML parameter keys to each type's fields, binds every edge to the port it
feeds and every template and code read to where its value comes from (``parameters`` does the
parameters, their templates and node code), and reports what cannot be bound. The result is a
``BoundDoc``: plain data that ``validate`` checks without changing and ``finish_nodes`` and
``graph_outputs`` turn into the graph's ``Node``s and ``Output``s. Which files are included is
``resolve``'s to find; splicing sub-blueprints in is ``inline``'s.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping

from .. import codes
from ..diagnostics import DiagnosticSink, did_you_mean, one_of
from ..naming import snake_case
from ..nodes import registry
from ..nodes.spec import NodeSpec
from .bound import (
    ANY_PORT,
    ITEM,
    BoundDoc,
    BoundNode,
    Child,
    Ports,
    add_error_port,
    binding_type,
    input_name,
    item_document,
    param_names,
)
from .ir import Binding, EdgeDef, FromInput, FromNode, Node, NodeDef, Output, PortDef
from .options import CompileOptions
from .python_nodes import bind_python_node
from .reads import bindings_of
from .resolve import GROUP, ResolvedDoc, is_group
from .types import ANY, fits, of_value, parse_type

# Handles that mean "the primary port" unless the node has a port or parameter of that name.
_GENERIC_HANDLES = frozenset({"input", "output", "default", ""})
# How many distinct unknown node ids get a "did you mean" hint.
_MAX_NODE_HINTS = 50


def bind_document(
    resolved: ResolvedDoc,
    children: Mapping[tuple[int, int], Child],
    options: CompileOptions,
    sink: DiagnosticSink,
    *,
    outer_inputs: tuple[PortDef, ...] | None = None,
) -> BoundDoc:
    """Bind ``resolved.doc``'s nodes and edges, given its sub-blueprints already built.

    Args:
        resolved: the document and its include chain.
        children: each group node's and each loop body's or branch's graph, keyed as
            ``resolved.includes`` is; bodies already carry their id prefix.
        options: compilation settings.
        sink: receives every problem found, the children's included.
        outer_inputs: the including flow's inputs, for a loop body or parallel branch.
    """
    doc = item_document(resolved.doc, outer_inputs)
    bound = BoundDoc(
        doc,
        resolved.chain,
        item_input=doc is not resolved.doc,
        interface={p.name: p for p in doc.inputs},
    )
    binder = _Binder(bound, children, sink)
    sink.extend(doc.deferred)
    for position, definition in enumerate(doc.nodes):
        binder.add_node(position, definition)
    bound.outputs = binder.bind_edges()
    if bound.item_input and not any(edge.source == "input" for edge in doc.edges):
        binder.feed_item_to_entry_nodes()
    return bound


class _Binder:
    def __init__(
        self, bound: BoundDoc, children: Mapping[tuple[int, int], Child], sink: DiagnosticSink
    ) -> None:
        self.bound = bound
        self.children = children
        self.sink = sink
        self.declared_ids = frozenset(n.id for n in bound.doc.nodes)
        self.node_hints: dict[str, str | None] = {}

    # -- nodes ---------------------------------------------------------------------------------

    def add_node(self, position: int, definition: NodeDef) -> None:
        nodes = self.bound.nodes
        if definition.id in nodes:
            first = nodes[definition.id].definition.span
            self.sink.error(
                codes.DUPLICATE_NODE_ID,
                definition.span,
                id=definition.id,
                first=f"{first.line}:{first.column}",
            )
            return
        if definition.id in ("input", "output"):
            self.sink.error(
                codes.INVALID_ID,
                definition.span,
                what="node id",
                id=definition.id,
                hint="'input' and 'output' stand for the blueprint's own interface",
            )
            return
        type_name = definition.type
        if is_group(definition):
            self._add_group(definition, self.children.get((position, GROUP), Child(None)))
            return
        if type_name == "python":
            self.bound.nodes[definition.id] = bind_python_node(definition, self.sink)
            return
        spec = registry.get(type_name)
        unusable = registry.problem(type_name) if spec is None else None
        if unusable is not None:  # a node package's type that clashes or fails to load
            self.sink.error(
                unusable.code,
                definition.span,
                node=definition.id,
                problem=unusable.message,
                hint=unusable.hint,
            )
            return
        if spec is None:
            self.sink.error(
                codes.UNKNOWN_NODE_TYPE,
                definition.span,
                type=type_name,
                node=definition.id,
                hint=did_you_mean(type_name, registry.type_names())
                or "run 'atomiton nodes' to list the types",
            )
            return
        for module in spec.requires:
            if importlib.util.find_spec(module) is None:
                self.sink.error(
                    codes.MISSING_EXTRA,
                    definition.span,
                    type=type_name,
                    module=module,
                    hint=(
                        f"pip install 'atomiton[{spec.extra}]'"
                        if spec.extra
                        else f"pip install {module}"
                    ),
                )
        ports = Ports(
            inputs={p.name: p.type for p in spec.inputs},
            outputs={p.name: p.type for p in spec.outputs},
            multiple=frozenset(p.name for p in spec.inputs if p.multiple),
            required=frozenset(p.name for p in spec.inputs if p.required),
        )
        add_error_port(definition, ports)
        for declared, have, direction in (
            (definition.declared_inputs, ports.inputs, "input"),
            (definition.declared_outputs, ports.outputs, "output"),
        ):
            for port in declared:
                if port.name not in have and snake_case(port.name) not in {
                    snake_case(h) for h in have
                }:
                    self.sink.error(
                        codes.UNDECLARED_PORT,
                        port.span,
                        node=definition.id,
                        type=type_name,
                        port=port.name,
                        direction=direction,
                        hint=f"its {direction}s are {one_of(have)}",
                    )
        params = self._param_keys(definition, spec)
        nodes[definition.id] = BoundNode(definition, spec, ports, params)
        for index in range(len(definition.subflows)):
            # A loop's body, a parallel node's branches: built by the pipeline, prefixed.
            child = self.children.get((position, index), Child(None))
            self.sink.extend(child.diagnostics)
            if child.graph is not None:
                nodes[definition.id].bodies.append(child.graph)

    def _param_keys(self, definition: NodeDef, spec: NodeSpec) -> dict[str, object]:
        """YAML keys -> the model's field names; unknown keys are diagnostics."""
        by_alias = {(f.alias or name): name for name, f in spec.params.model_fields.items()}
        params: dict[str, object] = {}
        for key, value in definition.params.items():
            name = by_alias.get(key) or (key if key in spec.params.model_fields else None)
            if name is None:
                self.sink.error(
                    codes.UNKNOWN_PARAMETER,
                    definition.param_spans.get(key, definition.span),
                    node=definition.id,
                    type=definition.type,
                    param=key,
                    hint=did_you_mean(key, list(by_alias)),
                )
                continue
            params[name] = value
        return params

    def _add_group(self, definition: NodeDef, built: Child) -> None:
        self.sink.extend(built.diagnostics)
        child = built.graph
        if child is None:
            return
        ports = Ports(
            inputs={p.name: p.type for p in child.inputs},
            outputs={o.port.name: o.port.type for o in child.outputs},
            required=frozenset(p.name for p in child.inputs if p.required),
        )
        params: dict[str, object] = {}
        for key, value in definition.params.items():
            if key in ("path", "id", "blueprintId", "nodes", "edges"):
                continue
            if key not in ports.inputs:
                self.sink.error(
                    codes.UNKNOWN_PARAMETER,
                    definition.param_spans.get(key, definition.span),
                    node=definition.id,
                    type=definition.type,
                    param=key,
                    hint=did_you_mean(key, list(ports.inputs))
                    or f"the sub-blueprint's inputs are {one_of(ports.inputs)}",
                )
                continue
            wanted = parse_type(ports.inputs[key]) or ANY
            if not isinstance(value, str) or "{{" not in value:
                if value is not None and not fits(of_value(value), wanted):
                    self.sink.error(
                        codes.INVALID_PARAMETER,
                        definition.param_spans.get(key, definition.span),
                        node=definition.id,
                        type=definition.type,
                        param=key,
                        message=f"the sub-blueprint's input is {wanted}, found {of_value(value)}",
                    )
            params[key] = value
        self.bound.nodes[definition.id] = BoundNode(definition, None, ports, params, child=child)

    # -- edges ---------------------------------------------------------------------------------

    def bind_edges(self) -> dict[str, list[tuple[Binding, EdgeDef]]]:
        outputs: dict[str, list[tuple[Binding, EdgeDef]]] = {}
        declared_outputs = {p.name for p in self.bound.doc.outputs}
        for edge in self.bound.doc.edges:
            source = self._edge_source(edge)
            if edge.target == "output":
                name = (
                    edge.target_port
                    or (edge.source_port if edge.source != "input" else None)
                    or edge.source
                )
                if declared_outputs and name not in declared_outputs:
                    self.sink.error(
                        codes.UNKNOWN_INTERFACE_PORT,
                        edge.span,
                        edge=edge.id,
                        direction="output",
                        name=name,
                    )
                    continue
                if source is not None:
                    outputs.setdefault(name, []).append((source, edge))
                continue
            target = self._endpoint(edge, edge.target)
            if target is None:
                continue
            port = edge.target_port or target.ports.primary_input
            if port is None:
                self.sink.error(
                    codes.UNKNOWN_INPUT_PORT,
                    edge.span,
                    edge=edge.id,
                    port="input",
                    node=edge.target,
                    valid="none",
                )
                continue
            named = input_name(target, port)
            if named is None and port in _GENERIC_HANDLES:
                named = target.ports.primary_input  # Atomiton's generic handle: the primary port
            port = named
            if port is None:
                # A port that is also a parameter (``path``, ``url``) is named once.
                valid = list(dict.fromkeys([*target.ports.inputs, *param_names(target)]))
                self.sink.error(
                    codes.UNKNOWN_INPUT_PORT,
                    edge.span,
                    edge=edge.id,
                    port=edge.target_port,
                    node=edge.target,
                    valid=one_of(valid),
                    hint=did_you_mean(edge.target_port or "", valid),
                )
                # It meant to feed some input; which one is the E0203's to say, not E0208's.
                self.bound.fed_by_broken_edge.add((edge.target, ANY_PORT))
                continue
            if source is not None:
                target.inputs.setdefault(port, []).append((source, edge))
            else:
                self.bound.fed_by_broken_edge.add((edge.target, port))
        return outputs

    def _endpoint(self, edge: EdgeDef, node_id: str) -> BoundNode | None:
        """The node at one end of ``edge``; an id no node has is reported (E0205).

        A node that is declared but was dropped for an error of its own gives None silently:
        that error is already reported.
        """
        pending = self.bound.nodes.get(node_id)
        if pending is None and node_id not in self.declared_ids:
            self.sink.error(
                codes.UNKNOWN_EDGE_NODE,
                edge.span,
                edge=edge.id,
                node=node_id,
                hint=self._node_hint(node_id),
            )
        return pending

    def _node_hint(self, name: str) -> str | None:
        """ "Did you mean" for an unknown node id, for the first few only.

        Each hint compares against every node; a file with thousands of broken edges would
        otherwise take minutes to report.
        """
        if len(self.node_hints) >= _MAX_NODE_HINTS and name not in self.node_hints:
            return None
        if name not in self.node_hints:
            self.node_hints[name] = did_you_mean(name, list(self.bound.nodes))
        return self.node_hints[name]

    def feed_item_to_entry_nodes(self) -> None:
        """A body that wires no ``input`` edge gets its item in every node nothing else feeds."""
        for pending in self.bound.nodes.values():
            primary = pending.ports.primary_input
            if pending.inputs or primary is None:
                continue
            span = pending.definition.span
            edge = EdgeDef(
                f"input->{pending.definition.id}",
                "input",
                ITEM,
                pending.definition.id,
                primary,
                span,
            )
            pending.inputs[primary] = [(FromInput(ITEM), edge)]

    def _edge_source(self, edge: EdgeDef) -> Binding | None:
        if edge.source == "input":
            if "input" in self.declared_ids:
                return None  # a node wrongly named 'input' (E0211 said so): no second error
            name = edge.source_port
            if self.bound.item_input:
                return FromInput(ITEM)
            if name is None or name not in self.bound.interface:
                self.sink.error(
                    codes.UNKNOWN_INTERFACE_PORT,
                    edge.span,
                    edge=edge.id,
                    direction="input",
                    name=name or "",
                    hint=did_you_mean(name or "", list(self.bound.interface))
                    or "declare it under interface.inputs",
                )
                return None
            return FromInput(name)
        source = self._endpoint(edge, edge.source)
        if source is None:
            return None
        port = edge.source_port or source.ports.primary_output
        if port is not None and port not in source.ports.outputs:
            match = next(
                (p for p in source.ports.outputs if snake_case(p) == snake_case(port)), None
            )
            port = match if match is not None else port
        if port in _GENERIC_HANDLES and port not in source.ports.outputs:
            port = source.ports.primary_output
        if port is None or port not in source.ports.outputs:
            valid = list(source.ports.outputs)
            self.sink.error(
                codes.UNKNOWN_OUTPUT_PORT,
                edge.span,
                edge=edge.id,
                port=edge.source_port,
                node=edge.source,
                valid=one_of(valid),
                hint=did_you_mean(edge.source_port or "", valid),
            )
            return None
        return FromNode(edge.source, port)


def finish_nodes(bound: BoundDoc) -> list[Node]:
    """The graph's nodes, in file order, from a document bound without errors."""
    nodes = []
    for node_id, pending in bound.nodes.items():
        definition = pending.definition
        inputs: dict[str, Binding | tuple[Binding, ...]] = {}
        for port, bindings in pending.inputs.items():
            if port in pending.ports.inputs:
                values = tuple(b for b, _ in bindings)
                inputs[port] = values if port in pending.ports.multiple else values[0]
        outputs = tuple(
            PortDef(name, type_, definition.span) for name, type_ in pending.ports.outputs.items()
        )
        nodes.append(
            Node(
                id=node_id,
                type=definition.type,
                span=definition.span,
                name=definition.name,
                settings=definition.settings,
                spec=pending.spec,
                params=pending.final_params(),
                inputs=inputs,
                code=pending.code,
                function=pending.function,
                function_span=(
                    definition.param_spans.get("function") if pending.function else None
                ),
                outputs=outputs,
                included_from=bound.chain.spans,
                bodies=tuple(pending.bodies),
            )
        )
    return nodes


def graph_outputs(bound: BoundDoc, order: list[Node], sink: DiagnosticSink) -> tuple[Output, ...]:
    """The blueprint's interface outputs, the one place they are decided: the declared ones
    with what feeds each; else one per output edge; else each sink node's primary output."""
    result = []
    outputs = bound.outputs
    if bound.doc.outputs:
        for port in bound.doc.outputs:
            bindings = outputs.get(port.name, [])
            if not bindings:
                sink.error(codes.UNDEFINED_OUTPUT, port.span, name=port.name)
                continue
            if len(bindings) > 1:
                sink.error(
                    codes.OUTPUT_DEFINED_TWICE,
                    bindings[1][1].span,
                    name=port.name,
                    count=len(bindings),
                )
            result.append(Output(port, bindings[0][0]))
        return tuple(result)
    for name, bindings in outputs.items():
        if len(bindings) > 1:
            sink.error(
                codes.OUTPUT_DEFINED_TWICE, bindings[1][1].span, name=name, count=len(bindings)
            )
        binding = bindings[0][0]
        result.append(
            Output(PortDef(name, binding_type(bound, binding), bindings[0][1].span), binding)
        )
    if outputs:
        return tuple(result)
    # No interface and no output edges: one output per sink node, its primary output.
    consumed = {b.node for n in order for b in bindings_of(n) if isinstance(b, FromNode)}
    for node in order:
        pending = bound.nodes[node.id]
        primary = pending.ports.primary_output
        if node.id not in consumed and primary is not None:
            binding = FromNode(node.id, primary)
            result.append(
                Output(PortDef(node.id, pending.ports.outputs[primary], node.span), binding)
            )
    return tuple(result)
