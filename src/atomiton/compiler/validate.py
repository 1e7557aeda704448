"""Read-only checks of a bound document, each returning diagnostics: required inputs and needed
parameters, single-valued ports, edge types, the types templates render, shell text built from
templates, and cycles (found by the one topological sort a graph gets).

Nothing here changes what ``bind`` built; ``check_bound`` runs every check and hands back what
it found, so one class of error never hides another. Code that does not compile is reported
where it is parsed, by ``parameters.bind_code``.
"""

from __future__ import annotations

from collections.abc import Mapping

from .. import codes
from ..diagnostics import Diagnostic, DiagnosticSink, one_of
from ..naming import snake_case
from .bound import ANY_PORT, BoundDoc, BoundNode, binding_type, input_name
from .ir import Binding, EdgeDef, FromInput, FromNode, Node, Template, TemplateExpr
from .options import CompileOptions
from .parameters import yaml_key
from .reads import dependencies, stable_topological
from .types import ANY, PortType, fits, from_annotation, parse_type
import re

# Programs that parse their ``-c`` argument as shell text, and the flags that say so.
_SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ksh", "ash", "fish"})
_SHELL_COMMAND_FLAG = re.compile(r"^-[a-z]*c[a-z]*$")


def check_bound(bound: BoundDoc, options: CompileOptions) -> list[Diagnostic]:
    """Every check of one bound document; nothing is changed."""
    checks = _Checks(bound)
    for node in bound.nodes.values():
        for name in node.templated:
            checks.rendered_type(node, name, node.params[name])
        if node.definition.type == "shell-command" or (
            node.spec is not None and node.spec.type == "shell-command"
        ):
            checks.shell_splice(node)
    checks.required()
    if options.check_edge_types:
        checks.edge_types(bound.outputs)
    return checks.sink.items


def sort_nodes(nodes: list[Node]) -> tuple[list[Node] | None, list[Diagnostic]]:
    """``nodes`` in dependency order, file order among ready nodes (the one sort a graph gets),
    or None and the cycle that prevents it (E0207)."""
    position = {n.id: i for i, n in enumerate(nodes)}
    order = stable_topological(nodes, position)
    if len(order) == len(nodes):
        return order, []
    # Every node left over waits for another left-over node: walking from the first one
    # written to a dependency, and on, comes back to a node already seen.
    ordered = {n.id for n in order}
    waiting = {
        n.id: sorted((d for d in dependencies(n) if d not in ordered), key=position.__getitem__)
        for n in nodes
        if n.id not in ordered
    }
    walk = [min(waiting, key=position.__getitem__)]
    while walk[-1] not in walk[:-1]:
        walk.append(waiting[walk[-1]][0])
    # The walk follows dependencies, against the edges; the message names the cycle in edge
    # direction, starting at the node written first so it does not depend on set ordering.
    cycle = list(reversed(walk[walk.index(walk[-1]) : -1]))
    start = min(range(len(cycle)), key=lambda i: position[cycle[i]])
    cycle = cycle[start:] + cycle[:start]
    sink = DiagnosticSink()
    sink.error(
        codes.CYCLE,
        nodes[position[cycle[0]]].span,
        chain=" -> ".join([*cycle, cycle[0]]),
        hint="an edge must not lead back to a node it came from",
    )
    return None, sink.items


class _Checks:
    def __init__(self, bound: BoundDoc) -> None:
        self.bound = bound
        self.sink = DiagnosticSink()

    def shell_splice(self, pending: BoundNode) -> None:
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
            key = yaml_key(pending, "args")
            span = definition.template_spans.get(
                (key, index + 1), definition.param_spans.get(key, definition.span)
            )
            for part in script.parts:
                if isinstance(part, TemplateExpr) and "shquote" not in part.filters:
                    self.sink.warning(
                        codes.UNQUOTED_SHELL_TEMPLATE,
                        span,
                        node=definition.id,
                        template="{{ " + part.text + " }}",
                        hint=f"write {{{{ {part.text} | shquote }}}} so the value stays one word",
                    )

    def rendered_type(self, pending: BoundNode, name: str, value: object) -> None:
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
        key = yaml_key(pending, name)
        if isinstance(value, Template):
            self._template_type(pending, value, expected, (key,))
        elif isinstance(value, list) and expected.name == "array" and expected.item is not None:
            for index, item in enumerate(value):
                if isinstance(item, Template):
                    self._template_type(pending, item, expected.item, (key, index))

    def _template_type(
        self,
        pending: BoundNode,
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
                found = parse_type(binding_type(self.bound, expr.root)) or ANY
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
            codes.TEMPLATE_TYPE_MISMATCH,
            definition.template_spans.get(path, definition.param_spans.get(key, definition.span)),
            node=definition.id,
            type=definition.type,
            param=where,
            expected=describe_type(expected),
            found=str(found),
            hint=hint,
        )

    def edge_types(self, outputs: Mapping[str, list[tuple[Binding, EdgeDef]]]) -> None:
        """Every edge of this file: the source port's type must fit the target's (docs/types.md)."""
        for pending in self.bound.nodes.values():
            for port, bindings in pending.inputs.items():
                target = self._target_type(pending, port)
                for binding, edge in bindings:
                    self._edge(binding, edge, target, f"{pending.definition.id}.{port}")
        declared = {p.name: p for p in self.bound.doc.outputs}
        for name, bindings in outputs.items():
            port_def = declared.get(name)
            if port_def is None:
                continue
            target = parse_type(port_def.type) or ANY
            for binding, edge in bindings:
                self._edge(binding, edge, target, f"output.{name}")

    def _target_type(self, pending: BoundNode, port: str) -> PortType:
        if port in pending.ports.inputs:
            return parse_type(pending.ports.inputs[port]) or ANY
        if pending.spec is not None and port in pending.spec.params.model_fields:
            # A parameter fed by an edge: judged by the parameter model's annotation.
            return from_annotation(pending.spec.params.model_fields[port].annotation)
        return ANY

    def _edge(self, binding: Binding, edge: EdgeDef, target: PortType, target_name: str) -> None:
        source = parse_type(binding_type(self.bound, binding)) or ANY
        if fits(source, target):
            return
        if isinstance(binding, FromNode):
            source_name = f"{binding.node}.{binding.port}"
        elif isinstance(binding, FromInput):
            source_name = f"input.{binding.name}"
        else:
            source_name = "the value"
        self.sink.error(
            codes.EDGE_TYPE_MISMATCH,
            edge.span,
            edge=edge.id,
            source=source_name,
            source_type=str(source),
            target=target_name,
            target_type=describe_type(target),
            hint=type_hint(source, target),
        )

    def required(self) -> None:
        for pending in self.bound.nodes.values():
            definition = pending.definition
            for port in pending.ports.required:
                fed = (
                    port in pending.inputs
                    or (definition.id, port) in self.bound.fed_by_broken_edge
                    or (definition.id, ANY_PORT) in self.bound.fed_by_broken_edge
                )
                if not fed and port not in pending.params:
                    self.sink.error(
                        codes.MISSING_INPUT,
                        definition.span,
                        node=definition.id,
                        type=definition.type,
                        port=port,
                    )
            self._needs(pending)
            for port, bindings in pending.inputs.items():
                if len(bindings) > 1 and port not in pending.ports.multiple:
                    self.sink.error(
                        codes.TOO_MANY_EDGES,
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

    def _needs(self, pending: BoundNode) -> None:
        """Values a node needs given its other parameters (``NodeSpec.needs``): set or wired."""
        spec = pending.spec
        validated = pending.validated
        if spec is None or spec.needs is None or validated is None:
            return
        fields = spec.params.model_fields
        by_alias = {(info.alias or name): name for name, info in fields.items()}
        decided_by = {by_alias.get(key, key) for key in spec.needs_decided_by}
        if decided_by & pending.dynamic:
            return  # e.g. the operation is a template: which values it needs is not known yet
        definition = pending.definition
        for key in spec.needs(validated):
            port = input_name(pending, key)
            name = by_alias.get(key, snake_case(key))
            fed = (
                (port is not None and port in pending.inputs)
                or key in pending.inputs
                or (definition.id, key) in self.bound.fed_by_broken_edge
                or (definition.id, ANY_PORT) in self.bound.fed_by_broken_edge
            )
            if fed or name in pending.dynamic or pending.params.get(name) is not None:
                continue
            if name not in fields:  # an input port only (a loop's array)
                self.sink.error(
                    codes.MISSING_INPUT,
                    definition.span,
                    node=definition.id,
                    type=definition.type,
                    port=key,
                )
                continue
            self.sink.error(
                codes.MISSING_PARAMETER,
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
