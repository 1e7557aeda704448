"""IR -> view models -> jinja2 render. Python decides every name, type and expression here;
the templates only loop and print.

Everything that comes from YAML enters the module through ``literal()`` (``repr`` of plain data),
through ``naming`` (validated identifiers) or as Python re-emitted by ``ast`` (node code).
The module is compiled (``compile()``, not run) and its import-time names checked before it is
handed back, so what Python would reject on import is reported, at the YAML position it came
from, instead of written.
"""

from __future__ import annotations

import ast
import builtins
import importlib
import inspect
import math
import os
import posixpath
import re
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from .. import __version__
from ..codes import CODES
from ..diagnostics import Diagnostic, Span
from ..errors import BlueprintError
from ..nodes.registry import BUILTIN_PACKAGE
from ..nodes.spec import NodeSpec, snake_case
from .ir import (
    MISSING,
    Binding,
    CodeFunction,
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
from . import layout, verify
from .bound import ERROR_PORT
from .reads import bindings_of
from .expressions import substitute_reads
from .naming import STATE_RESERVED, Namer, identifier, is_safe_identifier
from .options import CompileOptions
from .plan import Plan
from .types import ANY, parse_type, python_type


@dataclass(frozen=True, slots=True)
class RenderedModule:
    """The module's text before formatting, and the node comments that mark YAML positions."""

    code: str
    markers: dict[str, Span]


@dataclass(slots=True)
class NodeView:
    """One node's block: its marker comment, code functions and the laid-out call."""

    index: int
    comment: str
    functions: list[str]
    statement: str
    policy: bool
    skipped: bool
    # ``onError: branch`` upstream: the node runs only when this holds, else it is skipped.
    guard: str | None = None
    # Statements after the call (a branch node records its error).
    after: list[str] = field(default_factory=list)


@dataclass(slots=True)
class TaskView:
    name: str
    nodes: list[NodeView]
    # A long task is written as parts called one after another (see ``_NODES_PER_FUNCTION``).
    parts: list[str] = field(default_factory=list)

    @property
    def reads_inputs(self) -> bool:
        """Whether any of the task's code reads the flow's inputs (else no ``inputs`` local)."""
        return any(
            _READS_INPUTS.search(text)
            for node in self.nodes
            for text in (node.statement, *node.functions)
        )


_READS_INPUTS = re.compile(r"\binputs\b")

# CPython compiles one huge function far more slowly than the same code in several (a 10,000-node
# chain in one function took seconds to import), so a task's nodes are written in functions of
# at most this many nodes.
_NODES_PER_FUNCTION = 200


@dataclass(slots=True)
class BodyView:
    """A loop body or parallel branch: a function running its nodes in order per item."""

    name: str
    state: str
    slots: str
    fields: list[str]
    nodes: list[NodeView]
    result: str


@dataclass(slots=True)
class ModuleView:
    """Everything the template prints, each statement already laid out."""

    docstring: str
    imports: list[str]
    user_imports: list[str]
    blueprint: str
    inputs: list[str]
    outputs: list[str]
    inputs_required: bool
    inputs_value: str
    state_slots: str
    state: list[str]
    constants: list[str]
    bodies: list[BodyView]
    tasks: list[TaskView]
    tasks_tuple: str
    outputs_return: str
    # Whether a model field is written with ``Field(...)`` (decided when the field is, not by
    # searching the laid-out text, which black may have wrapped anywhere).
    uses_field: bool


def literal(value: object) -> str:
    """Python source for a plain YAML value; the only way YAML data enters a module."""
    if isinstance(value, str):
        return layout.string(value)
    if value is None or isinstance(value, (bool, int, bytes)):
        return repr(value)
    if isinstance(value, float):
        if math.isnan(value):
            return 'float("nan")'
        if math.isinf(value):
            return 'float("inf")' if value > 0 else 'float("-inf")'
        return repr(value)
    if isinstance(value, (datetime, date, time)):
        return layout.string(value.isoformat())
    if isinstance(value, dict):
        return "{" + ", ".join(f"{literal(k)}: {literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    if isinstance(value, (set, frozenset)):
        return "[" + ", ".join(literal(v) for v in sorted(value, key=repr)) + "]"
    raise TypeError(f"cannot put a {type(value).__name__} into a generated module")


def comment_text(text: str) -> str:
    """Text safe inside a ``#`` comment: no line breaks or control characters."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def docstring_text(text: str) -> str:
    """Text safe inside a triple-quoted docstring."""
    escaped = text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    return "".join(c if c.isprintable() or c == "\n" else repr(c)[1:-1] for c in escaped)


@cache
def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("atomiton", "templates"),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
        keep_trailing_newline=True,
    )
    return environment


def render_module(graph: Graph, plan: Plan, options: CompileOptions) -> RenderedModule:
    """Render the module source for ``graph`` scheduled by ``plan``.

    Raises:
        BlueprintError: the blueprint holds something Python would not compile (node code that
            only ``compile()`` rejects, values nested too deeply); each diagnostic names the
            YAML position it comes from.
    """
    verify.check_values(graph)
    builder = _ModuleBuilder(graph, plan, options.root or Path.cwd())
    view, markers = builder.build()
    builder.check_code()
    if builder.errors:
        raise BlueprintError(builder.errors)
    code = _environment().get_template("module.py.j2").render(m=view)
    verify.check_module(code, markers, graph)
    return RenderedModule(code, markers)


@dataclass(frozen=True, slots=True)
class _Code:
    """One node's code function: laid out and ``placed`` as it stands in the module (only
    indented, at module scope), or the ``problem`` that kept it from being laid out, or
    ``too_deep`` to even be written."""

    node: Node
    function: CodeFunction
    text: str
    placed: str | None = None
    problem: tuple[str, str] | None = None
    too_deep: bool = False


class _ModuleBuilder:
    def __init__(self, graph: Graph, plan: Plan, root: Path) -> None:
        self.graph = graph
        self.plan = plan
        self.root = root
        self.errors: list[Diagnostic] = []
        self.code: list[_Code] = []  # node code in order, for ``check_code``
        self.node_attr = Namer(reserved=STATE_RESERVED)
        self.input_field = Namer(fields=True)
        self.output_field = Namer(fields=True)
        self.uses_field = False
        self.constant = Namer()
        self.modules: dict[tuple[str, str], str] = {}
        self.user_imports: dict[tuple[str, str], str] = {}
        self.constants: list[str] = []
        self.markers: dict[str, Span] = {}
        self.paths: dict[str, str] = {}
        self.nodes = {n.id: n for n in graph.nodes}
        self.input_names = {p.name: self.input_field(p.name) for p in graph.inputs}
        # Every node, bodies included, in BLUEPRINT.nodes order (the index events carry).
        self.all_nodes: list[Node] = list(graph.nodes)
        self.index_of = {n.id: i for i, n in enumerate(graph.nodes)}
        self.bodies: list[BodyView] = []
        self.body_namer = Namer()
        self.top_ids = frozenset(self.nodes)
        self.guards: dict[str, tuple[str, ...]] = {}
        # How a read of an interface input is spelled in the scope being rendered.
        self.read_input: Callable[[str], str] = lambda name: f"inputs.{self.input_names[name]}"

    def build(self) -> tuple[ModuleView, dict[str, Span]]:
        graph = self.graph
        for node in graph.nodes:
            self.node_attr(node.id)
        self._compute_guards(graph.nodes)
        tasks = []
        for t, task in enumerate(self.plan.tasks):
            views = [self._node_view(i, graph.nodes[i]) for i in task.nodes]
            if len(views) <= _NODES_PER_FUNCTION:
                tasks.append(TaskView(f"_task_{t}", views))
                continue
            parts = [
                TaskView(f"_task_{t}_part_{k + 1}", views[start : start + _NODES_PER_FUNCTION])
                for k, start in enumerate(range(0, len(views), _NODES_PER_FUNCTION))
            ]
            tasks.append(TaskView(f"_task_{t}", [], [part.name for part in parts]))
            tasks.extend(parts)
        task_items = []
        for t, task in enumerate(self.plan.tasks):
            args = [f"_task_{t}"]
            if task.after:
                args.append(f"after=({', '.join(map(str, task.after))},)")
            if task.mode != "inline":
                args.append(f"mode={literal(task.mode)}")
            task_items.append(f"_rt.Task({', '.join(args)})")
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
        title = graph.name or graph.id
        source = self._path(graph.display)
        docstring = docstring_text(
            f"{title}: generated by atomiton {__version__} from {source}. Do not edit.\n\n"
            f"Source sha256: {graph.sha256}"
            + (f"\n\n{graph.description.strip()}" if graph.description.strip() else "")
        )
        blueprint_args = [
            f"id={literal(graph.id)}",
            f"name={literal(graph.name)}",
            f"version={literal(graph.version)}",
            f"source={literal(source)}",
            f"sha256={literal(graph.sha256)}",
        ]
        if graph.concurrency is not None:
            blueprint_args.append(f"concurrency={literal(graph.concurrency)}")
        if graph.timeout is not None:
            blueprint_args.append(f"timeout={literal(graph.timeout)}")
        if graph.metadata:
            blueprint_args.append(f"metadata={literal(dict(graph.metadata))}")
        if graph.outputs:
            # Which node produces each output: a result that does not fit blames that node.
            pairs = [
                f"({literal(self.output_field(o.port.name))}, "
                f"{self.index_of[o.binding.node] if isinstance(o.binding, FromNode) else -1})"
                for o in graph.outputs
            ]
            blueprint_args.append(f"outputs=({', '.join(pairs)}{',' if len(pairs) == 1 else ''})")
        node_infos = layout.exploded(
            "nodes=(", [self._node_info(n) for n in self.all_nodes], ")", 4, trailing=","
        )
        blueprint = "\n".join(
            [
                "BLUEPRINT: Final = _rt.Blueprint(",
                *(f"    {layout.element(arg, 4)}" for arg in blueprint_args),
                f"    {node_infos}",
                ")",
            ]
        )
        output_values = ", ".join(
            f"{self.output_field(o.port.name)}={self._guarded_value(o.binding)}"
            for o in graph.outputs
        )
        inputs_required = any(p.default is MISSING for p in graph.inputs)
        view = ModuleView(
            docstring=layout.fit(f'"""{docstring}\n"""', 0, force=True),
            imports=imports,
            user_imports=user_imports,
            blueprint=blueprint,
            inputs=[self._input_field(p) for p in graph.inputs],
            outputs=outputs,
            inputs_required=inputs_required,
            inputs_value="inputs" if inputs_required else "Inputs() if inputs is None else inputs",
            state_slots=layout.exploded("__slots__ = (", [literal(n) for n in slot_names], ")", 4),
            state=state,
            constants=self.constants,
            bodies=self.bodies,
            tasks=tasks,
            tasks_tuple=layout.exploded("_TASKS: Final = (", task_items, ")", 0),
            outputs_return=layout.fit(f"return Outputs({output_values})", 4),
            uses_field=self.uses_field,
        )
        return view, self.markers

    def _path(self, display: str) -> str:
        """A path as the module records it: relative to the blueprint's own folder.

        Diagnostics name files relative to the compile root (the current directory on the
        command line); a module must not depend on where it was compiled from, so its paths
        are rebased onto the folder of the blueprint it was generated from. Every node names
        its file, and resolving a path asks the file system, so each file is rebased once.
        """
        rebased = self.paths.get(display)
        if rebased is None:
            main = self._absolute(self.graph.display)
            rebased = Path(os.path.relpath(self._absolute(display), main.parent)).as_posix()
            self.paths[display] = rebased
        return rebased

    def _absolute(self, display: str) -> Path:
        path = Path(display)
        return Path(posixpath.normpath((self.root.resolve() / path).as_posix()))

    # -- model fields ----------------------------------------------------------------------------

    def _input_field(self, port: PortDef) -> str:
        name = self.input_names[port.name]
        annotation = python_type(parse_type(port.type) or ANY)
        default = None if port.default is MISSING else literal(port.default)
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
        may_be_none = self._binding_guard(binding) is not None or (
            isinstance(binding, FromNode)
            and self.nodes[binding.node].settings.on_error == "continue"
        )
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
        """The condition under which a binding's value exists (None: always)."""
        if isinstance(binding, FromNode):
            return " and ".join(self._read_conditions(binding)) or None
        return None

    def _read_conditions(self, binding: FromNode) -> list[str]:
        """What must hold for ``binding``'s value to exist.

        Its node ran (if a branch upstream may skip it: its result attribute is set then) and,
        if the node branches on error, took the way this port stands for. Checking that the
        node ran, rather than repeating every condition above it, keeps each test short however
        long a chain of branching nodes is.
        """
        node = self.nodes[binding.node]
        conditions = []
        if node.id in self.guards:
            conditions.append(f"hasattr(s, {literal(self._attr(node))})")
        if node.settings.on_error == "branch":
            conditions.append(self._branch_condition(node, binding.port))
        return conditions

    def _guarded_value(self, binding: Binding) -> str:
        guard = self._binding_guard(binding)
        value = self._value(binding)
        return f"{value} if {guard} else None" if guard else value

    def _branch_condition(self, node: Node, port: str) -> str:
        test = "is not None" if port == ERROR_PORT else "is None"
        return f"s.{self._error_attr(node)} {test}"

    def _compute_guards(self, nodes: tuple[Node, ...]) -> None:
        """Which branch outcomes each node needs before it may run (nodes in order)."""
        for node in nodes:
            conditions: list[str] = []
            for binding in bindings_of(node):
                if isinstance(binding, FromNode) and binding.node in self.nodes:
                    conditions.extend(self._read_conditions(binding))
            if conditions:
                self.guards[node.id] = tuple(_unique(conditions))

    def _state_annotation(self, node: Node) -> str:
        if node.spec is not None:
            return _return_annotation(node.spec.module, self._module(node.spec))
        if len(node.outputs) == 1:
            return python_type(parse_type(node.outputs[0].type) or ANY)
        return "Any"

    def _node_info(self, node: Node) -> str:
        args = [
            f"id={literal(node.id)}",
            f"type={literal(node.type)}",
            f"line={node.span.line}",
            f"column={node.span.column}",
        ]
        if node.span.path != self.graph.display:
            args.append(f"source={literal(self._path(node.span.path))}")
        weight = node.spec.weight if node.spec is not None else 100
        if weight != 100:
            args.append(f"weight={weight}")
        settings = node.settings
        if settings.retries:
            args.append(f"retries={settings.retries}")
            args.append(f"retry_delay={literal(settings.retry_delay)}")
        if settings.timeout is not None:
            args.append(f"timeout={literal(settings.timeout)}")
        if settings.on_error != "fail":
            args.append(f"on_error={literal(settings.on_error)}")
        execution = (
            node.spec.execution
            if node.spec is not None
            else str(node.params.get("execution", "inline"))
        )
        if execution != "inline":
            args.append(f"execution={literal(execution)}")
        if node.skipped:
            args.append("enabled=False")
        return f"_rt.NodeInfo({', '.join(args)})"

    # -- nodes -----------------------------------------------------------------------------------

    def _module(self, spec: NodeSpec) -> str:
        package, _, name = spec.module.rpartition(".")
        # A node package's module is named in full, so it never shadows a built-in one.
        alias = (
            f"_{name}" if package == BUILTIN_PACKAGE else f"_ext_{spec.module.replace('.', '_')}"
        )
        return self.modules.setdefault((package, name), alias)

    def _node_view(self, index: int, node: Node) -> NodeView:
        where = f"{self._path(node.span.path)}:{node.span.line}:{node.span.column}"
        comment = comment_text(f"# {node.id}: {node.type} ({where})")
        self.markers[comment] = node.span
        attr = self._attr(node)
        guards = self.guards.get(node.id, ())
        guard = " and ".join(guards) or None
        extra = 4 if guard else 0  # a guarded block sits one level deeper
        functions = []
        for code in node.code:
            laid = self._code_function(node, code, 4 + extra)
            if laid is not None:
                functions.append(laid)
        if node.skipped:
            return NodeView(index, comment, [], "", False, True)
        if node.spec is not None:
            fn, args = self._spec_call(node, node.spec)
        else:
            fn, args = self._user_call(node)
        policy = (
            node.settings.retries > 0
            or node.settings.timeout is not None
            or node.settings.on_error != "fail"
            or (node.spec.execution if node.spec else node.params.get("execution")) == "process"
        )
        if policy:
            statement = layout.fit(
                f"s.{attr} = ex.call({index}, {fn}, {', '.join(args)})", 4 + extra
            )
        else:
            statement = layout.fit(f"s.{attr} = {fn}({', '.join(args)})", 8 + extra)
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
        return NodeView(index, comment, functions, statement, policy, False, guard, after)

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
        if _is_static(node.params) and _is_immutable(node.params):
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
            args.append(f"{function.kwarg}={self._function_name(node, function)}")
        bodies = [
            f"lambda item: {self._body(node, body)}(ex, inputs, item)" for body in node.bodies
        ]
        if node.type == "loop" and bodies:
            args.append(f"body={bodies[0]}")
        elif bodies:
            args.append(f"branches=[{', '.join(bodies)}]")
        if spec.needs_context:
            args.append(f"context=ex.context({self._index(node)})")
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

    def _index(self, node: Node) -> int:
        return self.index_of[node.id]

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
        self._compute_guards(body.nodes)
        try:
            nodes = [self._node_view(self._index(n), n) for n in body.nodes]
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
        state = "_" + "".join(part.title() for part in name.strip("_").split("_")) + "State"
        self.bodies.append(BodyView(name, state, slots, fields, nodes, result))
        return name

    def _code_function(self, node: Node, function: CodeFunction, indent: int) -> str | None:
        """The node's code as a function laid out at ``indent``, or None when it cannot be.

        ``ast`` accepts some code that only the compiler rejects (``break`` outside a loop,
        ``import *`` in a function, ``nonlocal`` with nothing to bind, an argument declared
        ``global``): that is E0302. The function is compiled as laid out, on its own at module
        scope, so ``nonlocal`` cannot reach the variables of the generated code around it
        either. Code that compiles as written but not laid out was taken past Python's limits
        by black's brackets (E0703). Compiling waits for ``check_code``, which compiles every
        node's code at once.
        """
        try:
            text = self._function(node, function)
        except RecursionError:
            self.code.append(_Code(node, function, "", too_deep=True))
            return None
        try:
            laid = layout.fit(text, indent, force=True)
        except (RecursionError, ValueError) as exc:  # black's InvalidInput is a ValueError
            self.code.append(
                _Code(node, function, text, problem=(str(exc) or type(exc).__name__, ""))
            )
            return None
        # Compiled where it stands, indented; ``if`` blocks keep it at module scope.
        blocks = "".join(f"{' ' * level}if True:\n" for level in range(0, indent, 4))
        self.code.append(_Code(node, function, text, placed=f"{blocks}{' ' * indent}{laid}"))
        return laid

    def check_code(self) -> None:
        """Record why Python would not compile node code, at the code's YAML position.

        The functions are independent at module scope, so compiling them together fails
        exactly when one of them does; only then is each compiled alone, to say which.
        """
        placed = [code.placed for code in self.code if code.placed is not None]
        together_ok = verify.compile_problem("\n".join(placed)) is None
        if together_ok and not any(code.problem or code.too_deep for code in self.code):
            return
        for code in self.code:
            problem: tuple[str, str] | None
            if code.too_deep:
                self._code_error(
                    code.node, code.function, "E0703", "its expressions nest too deeply"
                )
                continue
            if code.problem is not None:
                problem = code.problem
            elif together_ok or code.placed is None:
                continue
            else:
                problem = verify.compile_problem(code.placed)
                if problem is None:
                    continue
            # Which it is: the code as written (E0302), or only as laid out (E0703).
            written = verify.compile_problem(code.text)
            if written is not None:
                self._code_error(code.node, code.function, "E0302", *written)
            else:
                self._code_error(code.node, code.function, "E0703", problem[0])

    def _code_error(
        self, node: Node, function: CodeFunction, code: str, message: str, line: str = ""
    ) -> None:
        key = verify.param_key(node, function.param)
        hint = f"at: {line}" if line else None
        if code == "E0703":
            hint = "split long or deeply nested expressions into several statements"
        self.errors.append(
            Diagnostic(
                code,
                CODES[code].format(node=node.id, param=key, message=message),
                function.span or node.span,
                hint=hint,
                notes=tuple(f"included from {s}" for s in node.included_from),
            )
        )

    def _function_name(self, node: Node, function: CodeFunction) -> str:
        return f"_{self._attr(node)}_{snake_case(function.param)}"

    def _function(self, node: Node, function: CodeFunction) -> str:
        name = self._function_name(node, function)
        # Code reads ``inputs.<name>``; where that is not the flow's own input of that name
        # (an included blueprint's input, fed by a node or a parameter), the read is replaced
        # by the value's expression, so the code sees what its own blueprint was given.
        # ``variables.<name>`` (Atomiton's spelling) is rewritten too: the module has no
        # ``variables``, only ``inputs``.
        replacements = {
            read: expression
            for read, binding in function.reads
            if (expression := self._value(binding)) != f"inputs.{read}"
            or "variables" in function.source
        }
        if replacements:
            function = replace(function, source=substitute_reads(function.source, replacements))
        args = ", ".join(f"{identifier(a, reserved=frozenset())}: Any" for a in function.args)
        # Atomiton spells arguments in camelCase (lastResult): offer that spelling too.
        aliases = "".join(
            f"    {_camel(a)} = {a}\n"
            for a in function.args
            if _camel(a) != a and is_safe_identifier(_camel(a))
        )
        if function.kind == "body":
            body = aliases + textwrap.indent(function.source, "    ")
        elif function.source.startswith("lambda"):
            call_args = ", ".join(identifier(a, reserved=frozenset()) for a in function.args)
            body = f"    return ({function.source})({call_args})"
        else:
            body = f"{aliases}    return {function.source}"
        return f"def {name}({args}) -> Any:\n{body}"

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
            if node.settings.on_error == "continue":
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


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _is_immutable(params: object) -> bool:
    """Whether no value below the top-level mapping of ``params`` can be changed in place."""
    values = list(params.values()) if isinstance(params, dict) else [params]
    while values:
        value = values.pop()
        if isinstance(value, (list, dict, set, bytearray)):
            return False
        if isinstance(value, tuple):
            values.extend(value)
    return True


def _is_static(value: object) -> bool:
    if isinstance(value, (FromNode, FromInput, FromTemplate, Template)):
        return False
    if isinstance(value, dict):
        return all(_is_static(v) for v in value.values())
    if isinstance(value, list):
        return all(_is_static(v) for v in value)
    return True


@cache
def _return_annotation(module_name: str, alias: str) -> str:
    """The node function's return annotation, spelled for the generated module."""
    module = importlib.import_module(module_name)
    annotation = inspect.signature(module.run).return_annotation
    if annotation is inspect.Signature.empty:
        return "Any"
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "Any")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        return "Any"

    class Qualify(ast.NodeTransformer):
        ok = True

        def visit_Name(self, node: ast.Name) -> Any:
            if node.id == "Any" or hasattr(builtins, node.id):
                return node
            value = getattr(module, node.id, None)
            if value is not None and getattr(value, "__module__", None) == module.__name__:
                return ast.Attribute(ast.Name(alias, ast.Load()), node.id, ast.Load())
            self.ok = False
            return node

        def visit_Attribute(self, node: ast.Attribute) -> Any:
            self.ok = False
            return node

    qualify = Qualify()
    tree = qualify.visit(tree)
    return ast.unparse(tree) if qualify.ok else "Any"
