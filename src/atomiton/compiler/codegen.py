"""IR + plan -> the generated module's text and its source map. Python decides every name, type
and expression here; ``module_text`` writes them in their place through a ``CodeWriter`` that
records, line by line, the blueprint position each line stands for.

Everything that comes from YAML enters the module through ``literals`` (``repr`` of plain
data), through ``naming`` (validated identifiers) or as Python re-emitted by ``ast`` (node code,
see ``node_code``). How nodes run (policy path, guards, what may be None) is the plan's
decision; a node's result type is its ``NodeSpec``'s output ports. The module is compiled
(``compile()``, not run) and its import-time names checked before it is handed back, so what
Python would reject on import is reported, at the YAML position it came from, instead of written.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ..errors import BlueprintError
from ..naming import pascal_case, snake_case
from ..nodes.registry import BUILTIN_PACKAGE
from ..nodes.spec import NodeSpec
from .ir import (
    MISSING,
    Binding,
    Constant,
    FromInput,
    FromNode,
    FromTemplate,
    Graph,
    Node,
    PortDef,
    Template,
    TemplateExpr,
)

from . import blueprint_text, layout, reads, task_slots, verify
from .bound import ERROR_PORT
from .cache_policy import cache_use, stream_nodes
from .literals import comment_text, is_immutable, is_static, literal
from .module_text import BodyView, ModuleView, NodeView, TaskView, write_module, write_source_map
from .naming import STATE_RESERVED, Namer, identifier
from .node_code import NodeCode
from .options import CompileOptions
from .plan import Condition, Plan
from .types import ANY, parse_type, python_type
from .versions import NodeVersions, node_versions
from .writer import CodeWriter, LineMap, Origin, encode


@dataclass(frozen=True, slots=True)
class RenderedModule:
    """The module's text, where each run of its lines comes from in the blueprint, and the
    nodes' code versions it records (with what working them out read and found)."""

    code: str
    line_map: LineMap
    versions: NodeVersions


# CPython compiles one huge function far more slowly than the same code in several (a 10,000-node
# chain in one function took seconds to import), so a task's nodes are written in functions of
# at most this many nodes.
_NODES_PER_FUNCTION = 200


def render_module(graph: Graph, plan: Plan, options: CompileOptions) -> RenderedModule:
    """Render the module source for ``graph`` scheduled by ``plan``.

    Raises:
        BlueprintError: the blueprint holds something Python would not compile (node code that
            only ``compile()`` rejects, values nested too deeply); each diagnostic names the
            YAML position it comes from.
    """
    verify.check_values(graph)
    versions = node_versions(graph)  # after the check: values are no deeper than it allows
    builder = _ModuleBuilder(graph, plan, options.root or Path.cwd(), versions.by_id)
    view = builder.build()
    out = CodeWriter()
    write_module(view, out)
    line_map = out.line_map()
    files: dict[tuple[str, tuple[str, ...]], int] = {}
    chunks = encode(line_map, files, builder.path)
    table = [
        literal(path) if not rest else f"({', '.join(literal(p) for p in (path, *rest))})"
        for path, rest in files
    ]
    chunks = [literal(chunk) for chunk in chunks]
    write_source_map(out, table, chunks)
    code = out.text()
    # Node code compiles with the module; on its own it is compiled only to say which failed.
    try:
        verify.check_module(out.parts(), line_map, graph)
    except BlueprintError:
        builder.code.check()
        if builder.code.errors:
            raise BlueprintError(builder.code.errors) from None
        raise
    builder.code.check(module_compiles=True)
    if builder.code.errors:
        raise BlueprintError(builder.code.errors)
    return RenderedModule(code, out.line_map(), versions)


class _ModuleBuilder:
    def __init__(
        self, graph: Graph, plan: Plan, root: Path, versions: Mapping[str, str] | None = None
    ) -> None:
        self.graph = graph
        self.plan = plan
        self.root = root.resolve()  # asks the file system: once, not once per file
        self.versions = versions if versions is not None else node_versions(graph).by_id
        self.code = NodeCode(self._absolute)
        self.node_attr = Namer(reserved=STATE_RESERVED)
        self.input_field = Namer(fields=True)
        self.output_field = Namer(fields=True)
        self.uses_field = False
        self.constant = Namer()
        self.modules: dict[tuple[str, str], str] = {}
        self.user_imports: dict[tuple[str, str], str] = {}
        self.constants: list[str] = []
        self.defaults: set[str] = set()  # constants holding a node type's ``Params()``
        self.paths: dict[str, str] = {}
        self.folder: str | None = None  # the blueprint's own folder, which paths are relative to
        self.nodes = {n.id: n for n in graph.nodes}
        self.input_names = {p.name: self.input_field(p.name) for p in graph.inputs}
        # Every node, bodies included, in BLUEPRINT.nodes order (the index events carry).
        self.all_nodes: list[Node] = list(graph.nodes)
        # Nodes whose values are one-pass streams: they and what reads them are never cached.
        self.streams = stream_nodes(graph.nodes)
        self.index_of = {n.id: i for i, n in enumerate(graph.nodes)}
        self.bodies: list[BodyView] = []
        self.body_namer = Namer()
        self.top_ids = frozenset(self.nodes)
        # How a read of an interface input is spelled in the scope being rendered.
        self.read_input: Callable[[str], str] = self._read_flow_input
        self.secrets = {p.name for p in graph.inputs if p.secret}
        # A secret input's revealed read -> the ``SecretStr`` itself, which is what a cache key
        # gets (and the cache then leaves the node alone: ``runtime/cache_keys.py``).
        self.secret_reads: dict[str, str] = {}

    def _read_flow_input(self, name: str) -> str:
        field = f"inputs.{self.input_names[name]}"
        if name not in self.secrets:
            return field
        revealed = f"{field}.get_secret_value()"
        port = next(p for p in self.graph.inputs if p.name == name)
        if port.type.endswith("?") or port.default is None:
            revealed = f"(None if {field} is None else {revealed})"
        self.secret_reads[revealed] = field
        return revealed

    def _key_value(self, value: object) -> str:
        expression = self._value(value)
        return self.secret_reads.get(expression, expression)

    def build(self) -> ModuleView:
        graph = self.graph
        for node in graph.nodes:
            self.node_attr(node.id)
        tasks = []
        for t, task in enumerate(self.plan.tasks):
            views = [self._node_view(i, graph.nodes[i]) for i in task.nodes]
            if len(views) <= _NODES_PER_FUNCTION:
                tasks.append(TaskView(f"_task_{t}", views, [], task_slots.reads_inputs(views)))
                continue
            parts = [
                TaskView(
                    f"_task_{t}_part_{k + 1}",
                    chunk := views[start : start + _NODES_PER_FUNCTION],
                    [],
                    task_slots.reads_inputs(chunk),
                )
                for k, start in enumerate(range(0, len(views), _NODES_PER_FUNCTION))
            ]
            tasks.append(TaskView(f"_task_{t}", [], [part.name for part in parts]))
            tasks.extend(parts)
        slots = task_slots.TaskSlots(self.plan, graph.nodes, self._state_fields, tasks)
        outputs = []
        for o in graph.outputs:
            name = self.output_field(o.port.name)
            annotation = self._output_annotation(o.port, o.binding)
            if name == o.port.name:
                outputs.append(layout.fit(f"{name}: {annotation}", 4))
            else:
                self.uses_field = True
                outputs.append(
                    layout.fit(
                        f"{name}: {annotation} = Field(serialization_alias={literal(o.port.name)})",
                        4,
                    )
                )
        state = [
            layout.fit(f"{name}: {annotation}", 4)
            for name, annotation in self._state_fields(graph.nodes)
        ]
        slot_names = ["inputs", *(name for name, _ in self._state_fields(graph.nodes))]
        imports = sorted(
            layout.fit(
                (
                    f"from {package} import {name} as {alias}"
                    if package
                    else f"import {name} as {alias}"
                ),
                0,
            )
            for (package, name), alias in self.modules.items()
        )
        user_imports = sorted(
            layout.fit(f"from {module} import {name} as {alias}", 0)
            for (module, name), alias in self.user_imports.items()
        )
        source = self.path(graph.display)
        producers = [
            (
                self.output_field(o.port.name),
                self.index_of[o.binding.node] if isinstance(o.binding, FromNode) else -1,
            )
            for o in graph.outputs
        ]
        infos = [
            blueprint_text.node_info(
                n,
                self.path(n.span.path) if n.span.path != graph.display else None,
                cache_use(n, self.streams),
                self.versions[n.id],
            )
            for n in self.all_nodes
        ]
        blueprint = blueprint_text.blueprint_constant(graph, source, producers, infos)
        output_values = ", ".join(
            f"{self.output_field(o.port.name)}={self._guarded_value(o.binding)}"
            for o in graph.outputs
        )
        results = slots.results(output_values)
        slots.narrow(results)
        task_items = task_slots.task_items(self.plan, slots)
        view = ModuleView(
            docstring=blueprint_text.module_docstring(graph, source),
            imports=imports,
            user_imports=user_imports,
            blueprint=blueprint,
            inputs=[self._input_field(p) for p in graph.inputs],
            outputs=outputs,
            inputs_required=any(p.default is MISSING for p in graph.inputs),
            state_slots=layout.exploded("__slots__ = (", [literal(n) for n in slot_names], ")", 4),
            state=state,
            constants=self.constants,
            bodies=self.bodies,
            tasks=tasks,
            tasks_tuple=task_slots.tasks_tuple(task_items),
            outputs_return=layout.fit(f"return Outputs({output_values})", 4),
            run_tasks=layout.fit(
                f"ex.run_tasks(_TASKS, s, results={task_slots.names_tuple(results)})",
                4,
            ),
            uses_field=self.uses_field,
            uses_secret=bool(self.secrets),
            pin_types=[
                (literal(n.id), self._state_annotation(n)) for n in self.all_nodes if not n.skipped
            ],
        )
        return view

    def path(self, display: str) -> str:
        """A path as the module records it: relative to the blueprint's own folder.

        Diagnostics name files relative to the compile root (the current directory on the
        command line); a module must not depend on where it was compiled from, so its paths
        are rebased onto the folder of the blueprint it was generated from. Every node names
        its file, and resolving a path asks the file system, so each file is rebased once.
        """
        rebased = self.paths.get(display)
        if rebased is None:
            if self.folder is None:
                self.folder = str(self._absolute(self.graph.display).parent)
            rebased = Path(os.path.relpath(self._absolute(display), self.folder)).as_posix()
            self.paths[display] = rebased
        return rebased

    def _absolute(self, display: str) -> Path:
        return Path(posixpath.normpath((self.root / display).as_posix()))

    # -- model fields ----------------------------------------------------------------------------

    def _input_field(self, port: PortDef) -> str:
        name = self.input_names[port.name]
        annotation = python_type(parse_type(port.type) or ANY)
        default = None if port.default is MISSING else literal(port.default)
        if port.secret:
            annotation = annotation.replace("str", "SecretStr")
            if isinstance(port.default, str):
                default = f"SecretStr({default})"
        if default == "None" and annotation != "Any" and not annotation.endswith("| None"):
            annotation = f"{annotation} | None"
        if name == port.name and not port.description:
            text = f"{name}: {annotation}" + ("" if default is None else f" = {default}")
            return layout.fit(text, 4)
        self.uses_field = True
        args = [] if default is None else [f"default={default}"]
        if name != port.name:
            args.append(f"validation_alias={literal(port.name)}")
        if port.description:
            args.append(f"description={literal(port.description)}")
        return layout.fit(f"{name}: {annotation} = Field({', '.join(args)})", 4)

    def _output_annotation(self, port: PortDef, binding: Binding) -> str:
        if isinstance(binding, Constant) and binding.value is None:
            return "Any"
        annotation = python_type(parse_type(port.type) or ANY)
        may_be_none = self.plan.may_be_none(binding)
        if annotation != "Any" and may_be_none and not annotation.endswith("| None"):
            annotation = f"{annotation} | None"  # skipped by a branch, or failed and let go
        return annotation

    def _state_fields(self, nodes: tuple[Node, ...]) -> list[tuple[str, str]]:
        """(attribute, annotation) of every node result kept in a state object."""
        fields = []
        for node in nodes:
            if node.skipped:
                continue
            fields.append((self._attr(node), self._state_annotation(node)))
            if node.settings.on_error == "branch":
                fields.append((self._error_attr(node), "dict[str, Any] | None"))
        return fields

    def _error_attr(self, node: Node) -> str:
        return self.node_attr(f"{node.id}\x00error")

    def _binding_guard(self, binding: Binding) -> str | None:
        """The test under which a binding's value exists (None: always)."""
        return self._test(self.plan.conditions(binding))

    def _test(self, conditions: tuple[Condition, ...]) -> str | None:
        """``conditions`` spelled as one Python test in the current scope (None: none)."""
        return " and ".join(self._condition(c) for c in conditions) or None

    def _condition(self, condition: Condition) -> str:
        node = self.plan.by_id[condition.node]
        if condition.kind == "ran":  # its result attribute is set only when it ran
            return f"hasattr(s, {literal(self._attr(node))})"
        test = "is not None" if condition.kind == "failed" else "is None"
        return f"s.{self._error_attr(node)} {test}"

    def _guarded_value(self, binding: Binding) -> str:
        guard = self._binding_guard(binding)
        value = self._value(binding)
        return f"{value} if {guard} else None" if guard else value

    def _state_annotation(self, node: Node) -> str:
        """The type of the node's result: its one output port's, or (several ports) its
        module's ``Output`` model, as every node type with several outputs returns."""
        if node.spec is not None:
            if len(node.spec.outputs) > 1:
                return f"{self._module(node.spec)}.Output"
            if not node.spec.outputs:
                return "Any"
            return python_type(parse_type(node.spec.outputs[0].type) or ANY)
        if len(node.outputs) == 1:
            return python_type(parse_type(node.outputs[0].type) or ANY)
        return "Any"

    # -- nodes -----------------------------------------------------------------------------------

    def _module(self, spec: NodeSpec) -> str:
        package, _, name = spec.module.rpartition(".")
        # A node package's module is named in full, so it never shadows a built-in one.
        alias = (
            f"_{name}" if package == BUILTIN_PACKAGE else f"_ext_{spec.module.replace('.', '_')}"
        )
        return self.modules.setdefault((package, name), alias)

    def _node_view(self, index: int, node: Node) -> NodeView:
        where = f"{self.path(node.span.path)}:{node.span.line}:{node.span.column}"
        comment = comment_text(f"# {node.id}: {node.type} ({where})")
        origin = Origin(node.span, index, node.included_from)
        attr = self._attr(node)
        decision = self.plan.nodes[node.id]
        guard = self._test(decision.guard)
        extra = 4 if guard else 0  # a guarded block sits one level deeper
        functions = []
        for code in node.code:
            name = f"_{self._attr(node)}_{snake_case(code.param)}"
            laid = self.code.function(node, code, name, self._value, origin, 4 + extra)
            if laid is not None:
                functions.append(laid)
        if node.skipped:
            return NodeView(index, origin, comment, [], "", False, True)
        if node.spec is not None:
            fn, args = self._spec_call(node, node.spec)
        else:
            fn, args = self._user_call(node)
        # Asked on the slow path only: is the node's value supplied (pinned, cached, ...)?
        serve_args = f"{index}, s, {literal(attr)}, {reads.key_values(node, self._key_value)}"
        if decision.policy:
            serve = layout.serve_header(f"{serve_args}, True", 4 + extra)
            statement = layout.fit(
                f"s.{attr} = ex.call({index}, {fn}, {', '.join(args)})", 8 + extra
            )
        else:
            serve = layout.serve_header(serve_args, 8 + extra)
            statement = layout.fit(f"s.{attr} = {fn}({', '.join(args)})", 12 + extra)
        after = []
        if node.settings.on_error == "branch":
            after.append(
                layout.fit(
                    f"s.{self._error_attr(node)} = _rt.error_value(ex.node_error({index}))",
                    4 + extra,
                )
            )
        if guard is not None:
            guard = layout.condition(guard, 4)
        return NodeView(
            index,
            origin,
            comment,
            functions,
            statement,
            decision.policy,
            False,
            guard,
            after,
            f"s.{attr}",
            serve,
        )

    def _spec_call(self, node: Node, spec: NodeSpec) -> tuple[str, list[str]]:
        module = self._module(spec)
        # Code parameters travel as compiled functions; their source text stays in the YAML.
        compiled = {function.param for function in node.code}
        params = [
            f"{name}={self._value(value)}"
            for name, value in node.params.items()
            if name not in compiled
        ]
        params_expr = f"{module}.Params({', '.join(params)})"
        # Only values nobody can change are built once for every run; a list or a mapping is
        # built again by each call, so what one run (or one loop item) does to it, for example
        # a reduce appending to its initial ``[]``, never reaches another.
        if not params:
            # The type's defaults: one constant shared by every node that sets nothing.
            key = f"{spec.type}\x00defaults"  # no node id holds a NUL: never a node's name
            params_expr = f"_P_{self.constant(key).upper()}"
            if params_expr not in self.defaults:
                self.defaults.add(params_expr)
                self.constants.append(layout.fit(f"{params_expr}: Final = {module}.Params()", 0))
        elif is_static(node.params) and is_immutable(node.params):
            constant = f"_P_{self.constant(node.id).upper()}"
            self.constants.append(layout.fit(f"{constant}: Final = {params_expr}", 0))
            params_expr = constant
        args = [params_expr]
        for port in spec.inputs:
            bound = node.inputs.get(port.name)
            if bound is None:
                continue
            if isinstance(bound, tuple):
                args.append(f"{port.attr}=[{', '.join(self._value(b) for b in bound)}]")
            else:
                args.append(f"{port.attr}={self._value(bound)}")
        for function in node.code:
            args.append(f"{function.kwarg}=_{self._attr(node)}_{snake_case(function.param)}")
        # A partial, not a lambda: a cluster runs it elsewhere by the function's name.
        bodies = [f"_rt.partial({self._body(node, body)}, ex, inputs)" for body in node.bodies]
        if bodies:
            args.append(_subflow_argument(node, bodies))
        if spec.needs_context:
            args.append(f"context=ex.context({self.index_of[node.id]})")
        return f"{module}.run", args

    def _attr(self, node: Node) -> str:
        """The state attribute holding the node's result in the current scope."""
        short = node.id if node.id in self.top_ids else node.id.rsplit(".", 1)[-1]
        return self.node_attr(short)

    def _user_call(self, node: Node) -> tuple[str, list[str]]:
        assert node.function is not None
        alias = self.user_imports.setdefault(node.function, f"_user_{len(self.user_imports)}")
        args = []
        for port, bound in node.inputs.items():
            value = (
                "[" + ", ".join(self._value(b) for b in bound) + "]"
                if isinstance(bound, tuple)
                else self._value(bound)
            )
            args.append(f"{identifier(port, reserved=frozenset())}={value}")
        return alias, args

    def _body(self, owner: Node, body: Graph) -> str:
        """Render ``body`` as a function of (ex, inputs, item); return the function's name."""
        name = f"_{self.body_namer(body.nodes[0].id.rsplit('.', 1)[0] if body.nodes else owner.id)}"
        for node in body.nodes:
            self.index_of[node.id] = len(self.all_nodes)
            self.all_nodes.append(node)
        saved = (self.node_attr, self.nodes, self.read_input)
        self.node_attr = Namer(reserved=STATE_RESERVED)
        self.nodes = {n.id: n for n in body.nodes}
        first = body.inputs[0].name if body.inputs else None
        defaults = {p.name: p.default for p in body.inputs}
        outer_read = saved[2]

        def read_input(input_name: str) -> str:
            if input_name == first:
                return "item"
            if input_name in self.input_names:  # the flow's own inputs, seen from the body
                return outer_read(input_name)
            default = defaults.get(input_name)
            return literal(None if default is MISSING else default)

        self.read_input = read_input
        for node in body.nodes:
            self._attr(node)
        try:
            nodes = [self._node_view(self.index_of[n.id], n) for n in body.nodes]
            kept = self._state_fields(body.nodes)
            fields = [layout.fit(f"{name}: {annotation}", 4) for name, annotation in kept]
            slots = layout.exploded("__slots__ = (", [literal(name) for name, _ in kept], ")", 4)
            outputs = [(o.port.name, self._guarded_value(o.binding)) for o in body.outputs]
        finally:
            self.node_attr, self.nodes, self.read_input = saved
        if len(outputs) == 1:
            result = layout.fit(f"return {outputs[0][1]}", 4)
        else:
            result = layout.fit(
                "return {" + ", ".join(f"{literal(k)}: {v}" for k, v in outputs) + "}", 4
            )
        state = f"_{pascal_case(name)}State"
        self.bodies.append(BodyView(name, state, slots, fields, nodes, result))
        return name

    # -- values ----------------------------------------------------------------------------------

    def _value(self, value: object) -> str:
        if isinstance(value, FromNode):
            node = self.nodes[value.node]
            if value.port == ERROR_PORT and node.settings.on_error == "branch":
                return f"s.{self._error_attr(node)}"
            attr = f"s.{self._attr(node)}"
            if node.spec is not None:
                if len(node.spec.outputs) <= 1:
                    return attr
                read = f"{attr}.{snake_case(value.port)}"
            elif len([p for p in node.outputs if p.name != ERROR_PORT]) <= 1:
                return attr
            else:
                read = f"{attr}[{literal(value.port)}]"
            if self.plan.nodes[node.id].may_fail_to_none:
                # A failed node's outputs are all None, not an object to read ports of.
                return f"({read} if {attr} is not None else None)"
            return read
        if isinstance(value, FromInput):
            return self.read_input(value.name)
        if isinstance(value, Constant):
            return literal(value.value)
        if isinstance(value, FromTemplate):
            return self._template(value.template)
        if isinstance(value, Template):
            return self._template(value)
        if isinstance(value, dict):
            return (
                "{" + ", ".join(f"{literal(k)}: {self._value(v)}" for k, v in value.items()) + "}"
            )
        if isinstance(value, list):
            return "[" + ", ".join(self._value(v) for v in value) + "]"
        return literal(value)

    def _template(self, template: Template) -> str:
        if template.is_single:
            expr = template.parts[0]
            assert isinstance(expr, TemplateExpr)
            return self._expr(expr)
        parts = [literal(p) if isinstance(p, str) else self._expr(p) for p in template.parts]
        return f"_rt.text({', '.join(parts)})"

    def _expr(self, expr: TemplateExpr) -> str:
        code = self._expr_value(expr)
        for name in expr.filters:  # validated names of runtime functions (expressions.FILTERS)
            code = f"_rt.{name}({code})"
        return code

    def _expr_value(self, expr: TemplateExpr) -> str:
        if expr.root == "now":
            return "_rt.now()"
        if expr.root == "env":
            return f"_rt.env({literal(expr.path[0])})"
        root = self._value(expr.root)
        if not expr.path:
            return root
        return f"_rt.lookup({root}, ({', '.join(literal(p) for p in expr.path)},), {literal(expr.text)})"


def _subflow_argument(node: Node, bodies: list[str]) -> str:
    """The keyword that hands a node its sub-blueprints, as its type's sub-flow parameter says:
    one function (a loop's body) or a list of them (parallel branches)."""
    assert node.spec is not None, "a node with sub-flows has a node type"
    subflow, *_ = node.spec.subflows
    if subflow.many:
        return f"{subflow.name}=[{', '.join(bodies)}]"
    return f"{subflow.name}={bodies[0]}"
