"""The graph builder: one normalised file -> a checked graph whose every input is bound.

It looks node types up in the registry, validates parameters against each type's model, binds
edges and templates to where their values come from, inlines sub-blueprints (through
``resolve``), then checks the whole: required inputs, single-valued ports, cycles and edge types.
Every problem is collected before the stage stops.
"""

from __future__ import annotations

import graphlib
import importlib.util
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pydantic import ValidationError

from ..diagnostics import DiagnosticSink, Span, did_you_mean, one_of
from ..nodes import registry
from ..nodes.spec import NodeSpec, snake_case
from . import resolve, user_functions
from .expressions import (
    CodeLimitError,
    ExpressionError,
    ParsedExpr,
    input_reads,
    normalize_body,
    normalize_expression,
    split_template,
)
from .ir import (
    Binding,
    BlueprintDoc,
    CodeFunction,
    EdgeDef,
    FromInput,
    FromNode,
    Graph,
    Node,
    NodeDef,
    Output,
    PortDef,
    Template,
    TemplateExpr,
)
from .options import CompileOptions
from .reads import bindings_of, dependencies, mark_skipped, stable_topological
from .types import ANY, PortType, fits, from_annotation, of_value, parse_type

_FUNCTION_REF = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*:[A-Za-z_][\w]*$")
_GROUP_TYPES = frozenset({"blueprint", "group", "flow"})
# Handles that mean "the primary port" unless the node has a port or parameter of that name.
_GENERIC_HANDLES = frozenset({"input", "output", "default", ""})
# How many distinct unknown node ids get a "did you mean" hint.
_MAX_NODE_HINTS = 50
# Stands for "some input" of a node whose edge named no port it has.
_ANY_PORT = "\x00any"
# The port a node with ``onError: branch`` sends its error to.
ERROR_PORT = "error"
# The input a loop body or parallel branch receives when it declares none.
ITEM = "item"
# Programs that parse their ``-c`` argument as shell text, and the flags that say so.
_SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ksh", "ash", "fish"})
_SHELL_COMMAND_FLAG = re.compile(r"^-[a-z]*c[a-z]*$")
# Parameters that hold sub-blueprints: compiled into functions, not passed as values.
_SUBFLOW_PARAMS = frozenset({"body", "branches"})


@dataclass(slots=True)
class _Ports:
    """The ports of one node as the builder sees them (name -> vocabulary type)."""

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
class _Pending:
    """A node while its inputs are being bound."""

    definition: NodeDef
    spec: NodeSpec | None
    ports: _Ports
    params: dict[str, object]
    inputs: dict[str, list[tuple[Binding, EdgeDef]]] = field(default_factory=dict)
    function: tuple[str, str] | None = None
    child: Graph | None = None
    bodies: list[Graph] = field(default_factory=list)
    # Parameters whose value is only known at run time (a template, or fed by an edge).
    dynamic: set[str] = field(default_factory=set)


def build_graph(doc: BlueprintDoc, options: CompileOptions) -> Graph:
    """Check ``doc`` and return its flat graph; raise ``BlueprintError`` on any error."""
    sink = DiagnosticSink()
    graph = _Builder(doc, options, sink, resolve.IncludeChain.root(doc)).build()
    sink.raise_if_errors()
    assert graph is not None
    return graph


class _Builder:
    def __init__(
        self,
        doc: BlueprintDoc,
        options: CompileOptions,
        sink: DiagnosticSink,
        chain: resolve.IncludeChain,
        *,
        outer_inputs: tuple[PortDef, ...] | None = None,
    ) -> None:
        # A loop body or parallel branch without declared inputs takes one: the item, which
        # every ``input.<name>`` edge then reads. Like code in the flow, it also sees the
        # flow's own inputs in templates (``{{ inputs.size }}``).
        self.item_input = outer_inputs is not None and not doc.inputs
        if self.item_input:
            assert outer_inputs is not None
            outer = tuple(p for p in outer_inputs if p.name != ITEM)
            doc = replace(doc, inputs=(PortDef(ITEM, "any", doc.span, None), *outer))
        self.doc = doc
        self.options = options
        self.sink = sink
        self.chain = chain
        self.pending: dict[str, _Pending] = {}
        self.interface = {p.name: p for p in doc.inputs}
        # (node, port) pairs fed by an edge whose source was already reported as wrong: the
        # port is wired, so "required input has no edge" would only repeat the first error.
        self.fed_by_broken_edge: set[tuple[str, str]] = set()
        self.declared_ids = frozenset(n.id for n in doc.nodes)
        self.node_hints: dict[str, str | None] = {}

    # -- the stage -----------------------------------------------------------------------------

    def build(self) -> Graph | None:
        errors_before = len(self.sink.items)
        self.sink.extend(self.doc.deferred)
        for definition in self.doc.nodes:
            self._add_node(definition)
        outputs = self._bind_edges()
        if self.item_input and not any(edge.source == "input" for edge in self.doc.edges):
            self._feed_item_to_entry_nodes()
        for pending in self.pending.values():
            self._bind_params(pending)
        self._check_required()
        if self.options.check_edge_types:
            self._check_edge_types(outputs)
        if len(self.sink.items) > errors_before and self.sink.has_errors:
            # One error class must not hide another: still check the code of every node, so a
            # mis-typed edge and a syntax error in the same node are reported together.
            for pending in self.pending.values():
                params = dict(pending.params)
                validated = params.pop("__validated__", None)
                self._code(pending, params, validated)
            return None
        nodes = self._finish_nodes()
        order = self._topological(nodes)
        if order is None:
            return None
        graph_outputs = self._outputs(outputs, order)
        graph = Graph(
            id=self.doc.id,
            name=self.doc.name,
            version=self.doc.version,
            description=self.doc.description,
            display=self.doc.display,
            sha256=self.doc.sha256,
            metadata=self.doc.metadata,
            inputs=self.doc.inputs,
            outputs=graph_outputs,
            nodes=tuple(order),
            concurrency=self.doc.concurrency,
            timeout=self.doc.timeout,
        )
        graph = resolve.inline_children(
            graph, {k: p.child for k, p in self.pending.items() if p.child}, self.sink
        )
        graph = mark_skipped(graph, self.sink)
        return replace(graph, warnings=tuple(d for d in self.sink.items if not d.is_error))

    # -- nodes ---------------------------------------------------------------------------------

    def _add_node(self, definition: NodeDef) -> None:
        if definition.id in self.pending:
            first = self.pending[definition.id].definition.span
            self.sink.error(
                "E0201", definition.span, id=definition.id, first=f"{first.line}:{first.column}"
            )
            return
        if definition.id in ("input", "output"):
            self.sink.error(
                "E0211",
                definition.span,
                what="node id",
                id=definition.id,
                hint="'input' and 'output' stand for the blueprint's own interface",
            )
            return
        type_name = definition.type
        if type_name in _GROUP_TYPES or definition.inline is not None:
            self._add_group(definition)
            return
        if type_name == "python":
            self._add_python(definition)
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
                "E0202",
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
                    "E0215",
                    definition.span,
                    type=type_name,
                    module=module,
                    hint=(
                        f"pip install 'atomiton[{spec.extra}]'"
                        if spec.extra
                        else f"pip install {module}"
                    ),
                )
        ports = _Ports(
            inputs={p.name: p.type for p in spec.inputs},
            outputs={p.name: p.type for p in spec.outputs},
            multiple=frozenset(p.name for p in spec.inputs if p.multiple),
            required=frozenset(p.name for p in spec.inputs if p.required),
        )
        _add_error_port(definition, ports)
        for declared, have, direction in (
            (definition.declared_inputs, ports.inputs, "input"),
            (definition.declared_outputs, ports.outputs, "output"),
        ):
            for port in declared:
                if port.name not in have and snake_case(port.name) not in {
                    snake_case(h) for h in have
                }:
                    self.sink.error(
                        "E0214",
                        port.span,
                        node=definition.id,
                        type=type_name,
                        port=port.name,
                        direction=direction,
                        hint=f"its {direction}s are {one_of(have)}",
                    )
        params = self._param_keys(definition, spec)
        self.pending[definition.id] = _Pending(definition, spec, ports, params)
        if definition.subflows:
            self.pending[definition.id].bodies = self._bodies(definition)

    def _bodies(self, definition: NodeDef) -> list[Graph]:
        """Build the sub-blueprints a loop or parallel node runs (its body, its branches)."""
        bodies = []
        for index, (subflow, span) in enumerate(definition.subflows):
            if isinstance(subflow, str):
                reference = NodeDef(
                    definition.id,
                    "blueprint",
                    span,
                    params={"path": subflow},
                    param_spans={"path": span},
                )
                doc = resolve.load_child(reference, self.doc, self.options, self.chain, self.sink)
            else:
                doc = subflow
            if doc is None:
                continue
            prefix = "body" if definition.type == "loop" else f"branch{index}"
            chain = self.chain.enter(definition, doc)
            graph = self._build_child(doc, definition, chain, outer_inputs=self.doc.inputs)
            if graph is not None:
                bodies.append(resolve.prefixed(graph, f"{definition.id}.{prefix}."))
        return bodies

    def _param_keys(self, definition: NodeDef, spec: NodeSpec) -> dict[str, object]:
        """YAML keys -> the model's field names; unknown keys are diagnostics."""
        by_alias = {(f.alias or name): name for name, f in spec.params.model_fields.items()}
        params: dict[str, object] = {}
        for key, value in definition.params.items():
            name = by_alias.get(key) or (key if key in spec.params.model_fields else None)
            if name is None:
                self.sink.error(
                    "E0210",
                    definition.param_spans.get(key, definition.span),
                    node=definition.id,
                    type=definition.type,
                    param=key,
                    hint=did_you_mean(key, list(by_alias)),
                )
                continue
            params[name] = value
        return params

    def _add_python(self, definition: NodeDef) -> None:
        reference = definition.params.get("function")
        span = definition.param_spans.get("function", definition.span)
        function = None
        if not isinstance(reference, str) or not _FUNCTION_REF.match(reference):
            self.sink.error(
                "E0216",
                span,
                node=definition.id,
                value=reference,
                hint="for example 'mypkg.cleaning:normalize'",
            )
        else:
            module, _, name = reference.partition(":")
            function = (module, name)
        execution = definition.params.get("execution", "inline")
        if execution not in ("inline", "thread", "process"):
            self.sink.error(
                "E0209",
                definition.param_spans.get("execution", definition.span),
                node=definition.id,
                type="python",
                param="execution",
                message="expected 'inline', 'thread' or 'process'",
            )
        # A process worker's problem with the reference is the more precise diagnostic.
        if function is not None and not (
            execution == "process" and self._check_process_function(definition, span, *function)
        ):
            self._check_function(definition, span, *function)
        for key in definition.params:
            if key not in ("function", "execution"):
                self.sink.error(
                    "E0210",
                    definition.param_spans.get(key, definition.span),
                    node=definition.id,
                    type="python",
                    param=key,
                    hint="a python node's arguments come from its input ports",
                )
        inputs = {p.name: p.type for p in definition.declared_inputs} or {"data": "any"}
        outputs = {p.name: p.type for p in definition.declared_outputs} or {"result": "any"}
        multiple = frozenset(p.name for p in definition.declared_inputs if p.multiple)
        ports = _Ports(inputs, outputs, multiple=multiple, required=frozenset(inputs))
        _add_error_port(definition, ports)
        params: dict[str, object] = (
            {"execution": execution} if execution in ("thread", "process") else {}
        )
        self.pending[definition.id] = _Pending(definition, None, ports, params, function=function)

    def _check_function(self, definition: NodeDef, span: Span, module: str, name: str) -> None:
        """The module must be importable from here and define the function (user_functions)."""
        missing = user_functions.check_function(module, name)
        if missing is None:
            return
        if not missing.module_found:
            top = module.split(".")[0]
            self.sink.error(
                "E0221",
                span,
                node=definition.id,
                module=module,
                function=f"{module}:{name}",
                hint=f"modules are imported from the current folder, then sys.path: run from the "
                f"folder that holds {top!r}, or install it",
            )
            return
        self.sink.error(
            "E0222",
            span,
            node=definition.id,
            module=module,
            name=name,
            hint=did_you_mean(name, missing.names)
            or "define it at the top level of the module (def, class or assignment)",
        )

    def _check_process_function(
        self, definition: NodeDef, span: Span, module: str, name: str
    ) -> bool:
        """``execution: process`` sends the function to a worker by name: the worker imports
        ``module`` and looks ``name`` up, so both must mean the same thing there.

        Returns whether a diagnostic was reported.
        """
        problem = user_functions.process_problem(module, name)
        if problem is None:
            return False
        self.sink.error(
            "E0224",
            definition.param_spans.get("execution", span),
            node=definition.id,
            function=f"{module}:{name}",
            problem=problem,
            hint="define the function with 'def' at the top level of an importable module, "
            "or use 'execution: thread'",
        )
        return True

    def _add_group(self, definition: NodeDef) -> None:
        child_doc = resolve.load_child(definition, self.doc, self.options, self.chain, self.sink)
        if child_doc is None:
            return
        child = self._build_child(child_doc, definition, self.chain.enter(definition, child_doc))
        if child is None:
            return
        ports = _Ports(
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
                    "E0210",
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
                        "E0209",
                        definition.param_spans.get(key, definition.span),
                        node=definition.id,
                        type=definition.type,
                        param=key,
                        message=f"the sub-blueprint's input is {wanted}, found {of_value(value)}",
                    )
            params[key] = value
        self.pending[definition.id] = _Pending(definition, None, ports, params, child=child)

    def _build_child(
        self,
        doc: BlueprintDoc,
        definition: NodeDef,
        chain: resolve.IncludeChain,
        *,
        outer_inputs: tuple[PortDef, ...] | None = None,
    ) -> Graph | None:
        """Build an included blueprint; its diagnostics get an ``included from`` note."""
        child_sink = DiagnosticSink()
        graph = _Builder(doc, self.options, child_sink, chain, outer_inputs=outer_inputs).build()
        # An inline group lives in this same file: its positions already say where it is.
        if doc.path == self.doc.path and doc.display == self.doc.display:
            self.sink.extend(child_sink.items)
        else:
            self.sink.extend(resolve.included_from(child_sink.items, definition.span))
        return graph

    # -- edges ---------------------------------------------------------------------------------

    def _bind_edges(self) -> dict[str, list[tuple[Binding, EdgeDef]]]:
        outputs: dict[str, list[tuple[Binding, EdgeDef]]] = {}
        declared_outputs = {p.name for p in self.doc.outputs}
        for edge in self.doc.edges:
            source = self._edge_source(edge)
            if edge.target == "output":
                name = (
                    edge.target_port
                    or (edge.source_port if edge.source != "input" else None)
                    or edge.source
                )
                if declared_outputs and name not in declared_outputs:
                    self.sink.error("E0212", edge.span, edge=edge.id, direction="output", name=name)
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
                    "E0203", edge.span, edge=edge.id, port="input", node=edge.target, valid="none"
                )
                continue
            named = self._input_name(target, port)
            if named is None and port in _GENERIC_HANDLES:
                named = target.ports.primary_input  # Atomiton's generic handle: the primary port
            port = named
            if port is None:
                # A port that is also a parameter (``path``, ``url``) is named once.
                valid = list(dict.fromkeys([*target.ports.inputs, *self._param_names(target)]))
                self.sink.error(
                    "E0203",
                    edge.span,
                    edge=edge.id,
                    port=edge.target_port,
                    node=edge.target,
                    valid=one_of(valid),
                    hint=did_you_mean(edge.target_port or "", valid),
                )
                # It meant to feed some input; which one is the E0203's to say, not E0208's.
                self.fed_by_broken_edge.add((edge.target, _ANY_PORT))
                continue
            if source is not None:
                target.inputs.setdefault(port, []).append((source, edge))
            else:
                self.fed_by_broken_edge.add((edge.target, port))
        return outputs

    def _endpoint(self, edge: EdgeDef, node_id: str) -> _Pending | None:
        """The node at one end of ``edge``; an id no node has is reported (E0205).

        A node that is declared but was dropped for an error of its own gives None silently:
        that error is already reported.
        """
        pending = self.pending.get(node_id)
        if pending is None and node_id not in self.declared_ids:
            self.sink.error(
                "E0205", edge.span, edge=edge.id, node=node_id, hint=self._node_hint(node_id)
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
            self.node_hints[name] = did_you_mean(name, list(self.pending))
        return self.node_hints[name]

    def _feed_item_to_entry_nodes(self) -> None:
        """A body that wires no ``input`` edge gets its item in every node nothing else feeds."""
        for pending in self.pending.values():
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

    def _input_name(self, target: _Pending, port: str) -> str | None:
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

    def _param_names(self, target: _Pending) -> list[str]:
        if target.spec is None:
            return []
        return [(info.alias or name) for name, info in target.spec.params.model_fields.items()]

    def _edge_source(self, edge: EdgeDef) -> Binding | None:
        if edge.source == "input":
            name = edge.source_port
            if self.item_input:
                return FromInput(ITEM)
            if name is None or name not in self.interface:
                self.sink.error(
                    "E0212",
                    edge.span,
                    edge=edge.id,
                    direction="input",
                    name=name or "",
                    hint=did_you_mean(name or "", list(self.interface))
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
                "E0204",
                edge.span,
                edge=edge.id,
                port=edge.source_port,
                node=edge.source,
                valid=one_of(valid),
                hint=did_you_mean(edge.source_port or "", valid),
            )
            return None
        return FromNode(edge.source, port)

    # -- parameters and templates ---------------------------------------------------------------

    def _bind_params(self, pending: _Pending) -> None:
        definition = pending.definition
        fed = {name for name in pending.inputs if name not in pending.ports.inputs}
        values: dict[str, object] = {}
        dynamic: set[str] = set(fed)
        for name, value in pending.params.items():
            if name in fed:
                continue
            if definition.subflows and name in _SUBFLOW_PARAMS:
                values[name] = value  # a body's templates belong to the body's own scope
                continue
            key = self._yaml_key(pending, name)
            span = definition.param_spans.get(key, definition.span)
            converted = self._templated(value, pending, span, (key,))
            if converted is not value:
                dynamic.add(name)
                self._check_rendered_type(pending, name, converted)
            values[name] = converted
        pending.params = values
        pending.dynamic = dynamic
        if definition.type == "shell-command" or (
            pending.spec is not None and pending.spec.type == "shell-command"
        ):
            self._check_shell_splice(pending)
        if pending.spec is None:
            return
        static = {k: v for k, v in values.items() if k not in dynamic}
        try:
            validated = pending.spec.params.model_validate(static)
        except ValidationError as exc:
            validated = None
            for error in exc.errors():
                name = str(error["loc"][0]) if error["loc"] else ""
                if name in dynamic:
                    continue
                alias = (
                    pending.spec.params.model_fields[name].alias
                    if name in pending.spec.params.model_fields
                    else None
                )
                span = definition.param_spans.get(
                    alias or name, definition.param_spans.get(name, definition.span)
                )
                where = ".".join(str(p) for p in ((alias or name), *error["loc"][1:]))
                self.sink.error(
                    "E0209",
                    span,
                    node=definition.id,
                    type=definition.type,
                    param=where,
                    message=error["msg"],
                )
        pending.params["__validated__"] = validated

    def _yaml_key(self, pending: _Pending, name: str) -> str:
        """The YAML spelling of parameter field ``name`` (its alias when the file used it)."""
        if pending.spec is None or name in pending.definition.params:
            return name
        info = pending.spec.params.model_fields.get(name)
        return info.alias if info is not None and info.alias else name

    def _templated(
        self, value: object, pending: _Pending, span: Span, path: tuple[str | int, ...]
    ) -> object:
        """Replace template strings (anywhere inside ``value``) with ``Template`` objects."""
        if isinstance(value, str) and "{{" in value:
            span = pending.definition.template_spans.get(path, span)
            try:
                parts = split_template(value)
            except ExpressionError as exc:
                self.sink.error("E0301", span, template=value, message=str(exc))
                return value
            converted: list[str | TemplateExpr] = []
            for part in parts:
                if isinstance(part, str):
                    converted.append(part)
                    continue
                expr = self._bind_expr(part, pending, span, value)
                if expr is None:
                    return value
                converted.append(expr)
            return Template(tuple(converted))
        if isinstance(value, dict):
            items = {k: self._templated(v, pending, span, (*path, k)) for k, v in value.items()}
            return items if any(items[k] is not value[k] for k in items) else value
        if isinstance(value, list):
            listed = [self._templated(v, pending, span, (*path, i)) for i, v in enumerate(value)]
            return listed if any(a is not b for a, b in zip(listed, value)) else value
        return value

    def _check_shell_splice(self, pending: _Pending) -> None:
        """Warn when a template is spliced unquoted into shell text (``sh -c "ls {{ x }}"``).

        shell-command runs a program with an argument vector, so templates in ``args`` are safe
        on their own; only the text a shell will parse (after ``-c``) turns a value like
        ``; rm -rf ~`` into commands. ``| shquote`` makes the value one shell word.
        """
        program = pending.params.get("program")
        args = pending.params.get("args")
        if not isinstance(program, str) or not isinstance(args, list):
            return
        if program.rsplit("/", 1)[-1] not in _SHELLS:
            return
        for index, arg in enumerate(args[:-1]):
            if not (isinstance(arg, str) and _SHELL_COMMAND_FLAG.match(arg)):
                continue
            script = args[index + 1]
            if not isinstance(script, Template) or script.is_single:
                continue  # a template that is the whole script is a script by intent
            definition = pending.definition
            key = self._yaml_key(pending, "args")
            span = definition.template_spans.get(
                (key, index + 1), definition.param_spans.get(key, definition.span)
            )
            for part in script.parts:
                if isinstance(part, TemplateExpr) and "shquote" not in part.filters:
                    self.sink.warning(
                        "W0301",
                        span,
                        node=definition.id,
                        template="{{ " + part.text + " }}",
                        hint=f"write {{{{ {part.text} | shquote }}}} so the value stays one word",
                    )

    def _check_rendered_type(self, pending: _Pending, name: str, value: object) -> None:
        """A template-valued parameter must render a value of the parameter's type: text with a
        template in it is a string, never a list or a number (``args: "-l {{ x }}"``), and a
        lone template has the type of what it reads, item by item inside a list."""
        spec = pending.spec
        if pending.child is not None and name in pending.ports.inputs:
            # A sub-blueprint's parameter fills its interface input of that name.
            expected = parse_type(pending.ports.inputs[name]) or ANY
        elif spec is not None and name in spec.params.model_fields:
            expected = from_annotation(spec.params.model_fields[name].annotation)
        else:
            return
        key = self._yaml_key(pending, name)
        if isinstance(value, Template):
            self._check_template_type(pending, value, expected, (key,))
        elif isinstance(value, list) and expected.name == "array" and expected.item is not None:
            for index, item in enumerate(value):
                if isinstance(item, Template):
                    self._check_template_type(pending, item, expected.item, (key, index))

    def _check_template_type(
        self,
        pending: _Pending,
        template: Template,
        expected: PortType,
        path: tuple[str | int, ...],
    ) -> None:
        if template.is_single:
            expr = template.parts[0]
            assert isinstance(expr, TemplateExpr)
            if expr.filters or isinstance(expr.root, str):
                found = PortType("string")  # shquote, $now and $env.NAME all give text
            elif expr.path:
                found = ANY
            else:
                found = parse_type(self._binding_type(expr.root)) or ANY
        else:
            found = PortType("string")
        if fits(found, expected):
            return
        definition = pending.definition
        key = str(path[0])
        where = key + "".join(f"[{p}]" for p in path[1:])
        if not template.is_single and expected.name == "array":
            hint = f'write a list with one template per item: {key}: ["-l", "{{{{ ... }}}}"]'
        elif not template.is_single:
            hint = "a template with text around it renders text; use one {{ ... }} alone"
        elif expected.choices:
            hint = type_hint(found, expected) or ""
        else:
            hint = f"the value is {found}: declare it {expected}, or convert it in a code node"
        self.sink.error(
            "E0307",
            definition.template_spans.get(path, definition.param_spans.get(key, definition.span)),
            node=definition.id,
            type=definition.type,
            param=where,
            expected=describe_type(expected),
            found=str(found),
            hint=hint,
        )

    def _bind_expr(
        self, expr: ParsedExpr, pending: _Pending, span: Span, template: str
    ) -> TemplateExpr | None:
        root, path = expr.root, expr.path
        if root in ("inputs", "variables"):
            if not path or not isinstance(path[0], str) or path[0] not in self.interface:
                name = str(path[0]) if path else ""
                self.sink.error(
                    "E0301",
                    span,
                    template=template,
                    message=(
                        f"the blueprint has no input {name!r}"
                        if name
                        else "name an input: inputs.<name>"
                    ),
                    hint=did_you_mean(name, list(self.interface))
                    or (
                        f"its inputs are {one_of(self.interface)}"
                        if self.interface
                        else "declare it under interface.inputs"
                    ),
                )
                return None
            return TemplateExpr(expr.text, FromInput(path[0]), path[1:], expr.filters)
        if root == "$now":
            return TemplateExpr(expr.text, "now", (), expr.filters)
        if root == "$env":
            if len(path) != 1 or not isinstance(path[0], str):
                self.sink.error("E0301", span, template=template, message="write $env.NAME")
                return None
            return TemplateExpr(expr.text, "env", path, expr.filters)
        port = pending.ports.primary_input if root == "$input" else self._input_name(pending, root)
        bound = pending.inputs.get(port) if port is not None else None
        if bound:
            return TemplateExpr(expr.text, bound[0][0], path, expr.filters)
        if root == "$input":
            self.sink.error(
                "E0301",
                span,
                template=template,
                message=f"'$input' reads the primary input {port!r}, but no edge feeds it",
                hint=f"add an edge into {pending.definition.id}.{port}" if port else None,
            )
            return None
        valid = ["inputs", "$input", "$now", "$env", *pending.ports.inputs]
        self.sink.error(
            "E0301",
            span,
            template=template,
            message=f"{root!r} is not bound to any value here",
            hint=did_you_mean(root, valid) or f"a template starts with {one_of(valid)}",
        )
        return None

    # -- whole-node checks ---------------------------------------------------------------------

    def _check_edge_types(self, outputs: Mapping[str, list[tuple[Binding, EdgeDef]]]) -> None:
        """Every edge of this file: the source port's type must fit the target's (docs/types.md)."""
        for pending in self.pending.values():
            for port, bindings in pending.inputs.items():
                target = self._target_type(pending, port)
                for binding, edge in bindings:
                    self._check_edge(binding, edge, target, f"{pending.definition.id}.{port}")
        declared = {p.name: p for p in self.doc.outputs}
        for name, bindings in outputs.items():
            port_def = declared.get(name)
            if port_def is None:
                continue
            target = parse_type(port_def.type) or ANY
            for binding, edge in bindings:
                self._check_edge(binding, edge, target, f"output.{name}")

    def _target_type(self, pending: _Pending, port: str) -> PortType:
        if port in pending.ports.inputs:
            return parse_type(pending.ports.inputs[port]) or ANY
        if pending.spec is not None and port in pending.spec.params.model_fields:
            # A parameter fed by an edge: judged by the parameter model's annotation.
            return from_annotation(pending.spec.params.model_fields[port].annotation)
        return ANY

    def _check_edge(
        self, binding: Binding, edge: EdgeDef, target: PortType, target_name: str
    ) -> None:
        source = parse_type(self._binding_type(binding)) or ANY
        if fits(source, target):
            return
        if isinstance(binding, FromNode):
            source_name = f"{binding.node}.{binding.port}"
        elif isinstance(binding, FromInput):
            source_name = f"input.{binding.name}"
        else:
            source_name = "the value"
        self.sink.error(
            "E0401",
            edge.span,
            edge=edge.id,
            source=source_name,
            source_type=str(source),
            target=target_name,
            target_type=describe_type(target),
            hint=type_hint(source, target),
        )

    def _check_required(self) -> None:
        for pending in self.pending.values():
            definition = pending.definition
            for port in pending.ports.required:
                fed = (
                    port in pending.inputs
                    or (definition.id, port) in self.fed_by_broken_edge
                    or (definition.id, _ANY_PORT) in self.fed_by_broken_edge
                )
                if not fed and port not in pending.params:
                    self.sink.error(
                        "E0208",
                        definition.span,
                        node=definition.id,
                        type=definition.type,
                        port=port,
                    )
            self._check_needs(pending)
            for port, bindings in pending.inputs.items():
                if len(bindings) > 1 and port not in pending.ports.multiple:
                    self.sink.error(
                        "E0206",
                        bindings[1][1].span,
                        node=definition.id,
                        port=port,
                        count=len(bindings),
                        hint=(
                            "bring the values together in a merge node (mode append, byPosition"
                            " or byKey), or declare a python node's input port multiple: true;"
                            " see 'Fan-in' in docs/blueprints.md"
                        ),
                    )

    def _check_needs(self, pending: _Pending) -> None:
        """Values a node needs given its other parameters (``NodeSpec.needs``): set or wired."""
        spec = pending.spec
        validated = pending.params.get("__validated__")
        if spec is None or spec.needs is None or validated is None:
            return
        fields = spec.params.model_fields
        by_alias = {(info.alias or name): name for name, info in fields.items()}
        decided_by = {by_alias.get(key, key) for key in spec.needs_decided_by}
        if decided_by & pending.dynamic:
            return  # e.g. the operation is a template: which values it needs is not known yet
        definition = pending.definition
        for key in spec.needs(validated):
            port = self._input_name(pending, key)
            name = by_alias.get(key, snake_case(key))
            fed = (
                (port is not None and port in pending.inputs)
                or key in pending.inputs
                or (definition.id, key) in self.fed_by_broken_edge
                or (definition.id, _ANY_PORT) in self.fed_by_broken_edge
            )
            if fed or name in pending.dynamic or pending.params.get(name) is not None:
                continue
            if name not in fields:  # an input port only (a loop's array)
                self.sink.error(
                    "E0208", definition.span, node=definition.id, type=definition.type, port=key
                )
                continue
            self.sink.error(
                "E0223",
                definition.span,
                node=definition.id,
                type=definition.type,
                param=key,
                hint=(
                    f"set {key!r} under parameters:, or add an edge into {definition.id}.{key}"
                    if key in pending.ports.inputs
                    else f"set {key!r} under parameters:"
                ),
            )

    def _finish_nodes(self) -> list[Node]:
        nodes = []
        for node_id, pending in self.pending.items():
            definition = pending.definition
            params = dict(pending.params)
            validated = params.pop("__validated__", None)
            if definition.subflows:
                for name in _SUBFLOW_PARAMS:
                    params.pop(name, None)
            inputs: dict[str, Binding | tuple[Binding, ...]] = {}
            for port, bindings in pending.inputs.items():
                if port in pending.ports.inputs:
                    values = tuple(b for b, _ in bindings)
                    inputs[port] = values if port in pending.ports.multiple else values[0]
                else:
                    params[port] = bindings[0][0]  # an edge feeding a parameter wins
            code = self._code(pending, params, validated)
            outputs = tuple(
                PortDef(name, type_, definition.span)
                for name, type_ in pending.ports.outputs.items()
            )
            nodes.append(
                Node(
                    id=node_id,
                    type=definition.type,
                    span=definition.span,
                    name=definition.name,
                    settings=definition.settings,
                    spec=pending.spec,
                    params=params,
                    inputs=inputs,
                    code=code,
                    function=pending.function,
                    function_span=(
                        definition.param_spans.get("function") if pending.function else None
                    ),
                    outputs=outputs,
                    included_from=self.chain.spans,
                    bodies=tuple(pending.bodies),
                )
            )
        return nodes

    def _code(
        self, pending: _Pending, params: Mapping[str, object], validated: object
    ) -> tuple[CodeFunction, ...]:
        if pending.spec is None:
            return ()
        functions = []
        for name, code_param in pending.spec.code_params.items():
            source = params.get(name)
            field_info = pending.spec.params.model_fields.get(name)
            key = (field_info.alias if field_info else None) or name
            span = pending.definition.param_spans.get(key, pending.definition.span)
            if not isinstance(source, str) or not source.strip():
                if code_param.required:
                    self.sink.error(
                        "E0209",
                        span,
                        node=pending.definition.id,
                        type=pending.definition.type,
                        param=key,
                        message="Python code is required here",
                    )
                continue
            try:
                if code_param.kind == "body":
                    normalized = normalize_body(source)
                else:
                    normalized = normalize_expression(source)
            except CodeLimitError as exc:
                self.sink.error(
                    "E0306",
                    span,
                    node=pending.definition.id,
                    param=key,
                    limit=str(exc),
                    hint="split the code into several nodes, or move it into a python function",
                )
                continue
            except ExpressionError as exc:
                javascript = "=>" in source
                self.sink.error(
                    "E0302",
                    span,
                    node=pending.definition.id,
                    param=key,
                    message=str(exc),
                    hint=(
                        "node code is Python here (Atomiton flows used JavaScript)"
                        if javascript
                        else None
                    ),
                )
                continue
            args = code_param.arguments(validated) if validated is not None else code_param.args
            reads = self._code_reads(pending, name, normalized)
            functions.append(
                CodeFunction(name, code_param.kwarg, code_param.kind, args, normalized, reads, span)
            )
        return tuple(functions)

    def _code_reads(
        self, pending: _Pending, param: str, source: str
    ) -> tuple[tuple[str, Binding], ...]:
        """Bind the ``inputs.<name>`` a piece of code reads, as templates are bound."""
        if pending.spec is None:
            return ()
        names, bare = input_reads(source)
        field_info = pending.spec.params.model_fields.get(param)
        key = (field_info.alias if field_info else None) or param
        span = pending.definition.param_spans.get(key, pending.definition.span)
        if bare and self.chain.spans:
            self.sink.error("E0304", span, node=pending.definition.id, param=key)
        reads: list[tuple[str, Binding]] = []
        for name in names:
            if name not in self.interface:
                self.sink.error(
                    "E0303",
                    span,
                    node=pending.definition.id,
                    param=key,
                    name=name,
                    hint=did_you_mean(name, list(self.interface))
                    or (
                        f"its inputs are {one_of(self.interface)}"
                        if self.interface
                        else "declare it under interface.inputs"
                    ),
                )
                continue
            reads.append((name, FromInput(name)))
        return tuple(reads)

    def _topological(self, nodes: list[Node]) -> list[Node] | None:
        by_id = {n.id: n for n in nodes}
        sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter()
        for node in nodes:
            sorter.add(node.id, *sorted(dependencies(node)))
        try:
            static_order = list(sorter.static_order())
        except graphlib.CycleError as exc:
            # graphlib lists the cycle in edge direction, closed (``b, c, a, b``); start it at
            # the node written first so the message does not depend on set ordering.
            cycle = list(exc.args[1])[:-1]
            position = {n.id: i for i, n in enumerate(nodes)}
            start = min(range(len(cycle)), key=lambda i: position[cycle[i]])
            cycle = cycle[start:] + cycle[:start]
            chain = " -> ".join([*cycle, cycle[0]])
            self.sink.error(
                "E0207",
                by_id[cycle[0]].span,
                chain=chain,
                hint="an edge must not lead back to a node it came from",
            )
            return None
        # graphlib's order depends on insertion; re-sort ready nodes by file order for stable output.
        position = {n.id: i for i, n in enumerate(nodes)}
        return stable_topological(nodes, position) if static_order else []

    def _outputs(
        self, outputs: dict[str, list[tuple[Binding, EdgeDef]]], order: list[Node]
    ) -> tuple[Output, ...]:
        result = []
        if self.doc.outputs:
            for port in self.doc.outputs:
                bindings = outputs.get(port.name, [])
                if not bindings:
                    self.sink.error("E0217", port.span, name=port.name)
                    continue
                if len(bindings) > 1:
                    self.sink.error(
                        "E0213", bindings[1][1].span, name=port.name, count=len(bindings)
                    )
                result.append(Output(port, bindings[0][0]))
            return tuple(result)
        for name, bindings in outputs.items():
            if len(bindings) > 1:
                self.sink.error("E0213", bindings[1][1].span, name=name, count=len(bindings))
            binding = bindings[0][0]
            result.append(
                Output(PortDef(name, self._binding_type(binding), bindings[0][1].span), binding)
            )
        if outputs:
            return tuple(result)
        # No interface and no output edges: one output per sink node, its primary output.
        consumed = {b.node for n in order for b in bindings_of(n) if isinstance(b, FromNode)}
        for node in order:
            pending = self.pending[node.id]
            primary = pending.ports.primary_output
            if node.id not in consumed and primary is not None:
                binding = FromNode(node.id, primary)
                result.append(
                    Output(PortDef(node.id, pending.ports.outputs[primary], node.span), binding)
                )
        return tuple(result)

    def _binding_type(self, binding: Binding) -> str:
        if isinstance(binding, FromNode):
            return self.pending[binding.node].ports.outputs.get(binding.port, "any")
        if isinstance(binding, FromInput):
            return self.interface[binding.name].type
        return "any"


def _add_error_port(definition: NodeDef, ports: _Ports) -> None:
    """A node with ``onError: branch`` sends its error out of an extra ``error`` port."""
    if definition.settings.on_error == "branch" and ERROR_PORT not in ports.outputs:
        ports.outputs[ERROR_PORT] = "object"


def describe_type(port_type: PortType) -> str:
    """A type as messages name it: a parameter of choices lists them."""
    if port_type.choices:
        shown = ", ".join(repr(c) for c in port_type.choices[:6])
        more = ", ..." if len(port_type.choices) > 6 else ""
        return f"one of {shown}{more}"
    return str(port_type)


def type_hint(source: PortType, target: PortType) -> str | None:
    """A fix for a common mismatch, or None."""
    if target.choices:
        return (
            f"it takes only {one_of(str(c) for c in target.choices)}: set it under parameters:, "
            "or declare the value's type any to have it checked at run time"
        )
    if source.nullable and not target.nullable:
        return f"the value may be null: declare the target {target}?, or replace null first"
    if source.name == "number" and target.name == "integer":
        return "a number may have a fraction: round it in a code node, or declare the target number"
    if target.name == "array" and source.name != "array":
        return "the target takes a list: wrap the value in a code node (return [data])"
    if source.name == "array" and target.name == "array":
        return "list element types must match exactly (lists are mutable); use array<any> to accept any"
    return None
