"""Sub-blueprints flattened into the graph that includes them, with prefixed ids.

A group node is replaced by its child graph's nodes, each id prefixed with the node's
(``totals.sum``), the child's interface inputs replaced by what feeds the node and the parent's
reads of the node's outputs pointed at the child's inner values. Loop bodies and parallel
branches stay sub-graphs of their node, their ids prefixed the same way (``each.body.double``).
Which files are included is ``resolve``'s business; binding and checking each graph is ``bind``'s
and ``validate``'s, before it gets here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import fields, replace
from operator import attrgetter
from typing import Final

from .. import codes
from ..diagnostics import DiagnosticSink, Span
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
    Output,
    Template,
    TemplateExpr,
)

_BindingMap = Callable[[Binding], Binding]

# A node's fields in the order its constructor takes them, read in one call.
_NODE_FIELDS: Final = tuple(field.name for field in fields(Node))
_node_values: Final = attrgetter(*_NODE_FIELDS)
_ID, _INPUTS, _PARAMS, _CODE, _BODIES = (
    _NODE_FIELDS.index(name) for name in ("id", "inputs", "params", "code", "bodies")
)


def inline_children(graph: Graph, children: Mapping[str, Graph], sink: DiagnosticSink) -> Graph:
    """Replace each group node of ``graph`` by its child's nodes, prefixed with the node's id.

    A loop body inside a child that reads one of the child's inputs fed by a node's output is
    reported to ``sink`` (a body function reaches the flow's inputs, not other nodes' results).
    """
    if not children:
        return graph
    outputs_of: dict[str, dict[str, Binding]] = {}
    nodes: list[Node] = []
    for node in graph.nodes:
        child = children.get(node.id)
        if child is None:
            nodes.append(node)
            continue
        prefix = f"{node.id}."
        feeds: dict[str, Binding] = {}
        for port in child.inputs:
            bound = node.inputs.get(port.name)
            if isinstance(bound, tuple):
                bound = bound[0]
            if bound is not None:
                feeds[port.name] = bound
            elif port.name in node.params:
                value = node.params[port.name]
                if isinstance(value, Template):
                    feeds[port.name] = FromTemplate(value)
                elif isinstance(value, (FromNode, FromInput, Constant, FromTemplate)):
                    feeds[port.name] = value
                else:
                    feeds[port.name] = Constant(value)
            elif port.default is not MISSING:
                feeds[port.name] = Constant(port.default)
        rename = _Renamer(prefix, feeds, node.span, sink=sink)
        nodes.extend(rename.node(n) for n in child.nodes)
        outputs_of[node.id] = {o.port.name: rename.binding(o.binding) for o in child.outputs}
    substitute = _Substitute(outputs_of)
    return replace(
        graph,
        nodes=tuple(substitute.node(n) for n in nodes),
        outputs=tuple(Output(o.port, substitute.binding(o.binding)) for o in graph.outputs),
    )


class _Renamer:
    """Moves a child's node into the parent: prefixed ids, interface inputs replaced."""

    def __init__(
        self,
        prefix: str,
        feeds: Mapping[str, Binding],
        span: Span,
        *,
        keep_inputs: bool = False,
        item: str | None = None,
        blocked: frozenset[str] = frozenset(),
        sink: DiagnosticSink | None = None,
    ) -> None:
        self.prefix = prefix
        self.feeds = feeds
        self.span = span
        # Inside a loop body or parallel branch the item is the body's own, and so is every
        # input no feed replaces: only ids move.
        self.keep_inputs = keep_inputs
        self.item = item
        # What a body may read of the blueprint's inputs once it is inlined: values its
        # function can reach (the flow's own inputs, constants). A body reads no node outside.
        self.body_feeds = {name: feed for name, feed in feeds.items() if _reachable_in_body(feed)}
        self.body_blocked = frozenset(feeds) - frozenset(self.body_feeds) | blocked
        # Inputs a body reads that it cannot reach, and where to report them.
        self.blocked = blocked
        self.sink = sink
        self.current: Node | None = None
        self.reported: set[tuple[str, str]] = set()

    def binding(self, binding: Binding) -> Binding:
        if isinstance(binding, FromNode):
            return FromNode(self.prefix + binding.node, binding.port)
        if isinstance(binding, FromInput):
            if self.keep_inputs:
                if binding.name == self.item:
                    return binding
                current = self.current
                if binding.name in self.blocked and self.sink is not None and current is not None:
                    if (current.id, binding.name) not in self.reported:
                        self.reported.add((current.id, binding.name))
                        found = self.sink.error(
                            codes.INPUT_FED_BY_NODE,
                            current.span,
                            node=self.prefix + current.id,
                            name=binding.name,
                        )
                        self.sink.items[-1] = found.with_note(f"included from {self.span}")
                return self.feeds.get(binding.name, binding)
            return self.feeds.get(binding.name, Constant(None))
        if isinstance(binding, FromTemplate):
            return FromTemplate(_map_template(binding.template, self.binding))
        return binding

    def node(self, node: Node) -> Node:
        self.current = node
        # Every node is copied once per level of nesting: rebuilt positionally, which takes
        # half the time of ``dataclasses.replace``.
        values = list(_node_values(node))
        values[_ID] = self.prefix + node.id
        values[_INPUTS] = _map_inputs(node.inputs, self.binding)
        values[_PARAMS] = _map_value(node.params, self.binding)
        values[_CODE] = _map_code(node.code, self.binding)
        # Nested bodies move with their node, so that two loops of the same name in sibling
        # branches (or in two inlined copies of a sub-blueprint) keep distinct node ids.
        if node.bodies:
            values[_BODIES] = tuple(
                _prefix_body(
                    body, self.prefix, self.body_feeds, self.body_blocked, self.sink, self.span
                )
                for body in node.bodies
            )
        return Node(*values)


def _reachable_in_body(feed: Binding) -> bool:
    """Whether a body function can compute ``feed``: no node result outside the body in it."""
    if isinstance(feed, (FromInput, Constant)):
        return True
    if isinstance(feed, FromTemplate):
        return all(
            isinstance(part, str) or isinstance(part.root, str) or _reachable_in_body(part.root)
            for part in feed.template.parts
        )
    return False


def _prefix_body(
    body: Graph,
    prefix: str,
    feeds: Mapping[str, Binding],
    blocked: frozenset[str] = frozenset(),
    sink: DiagnosticSink | None = None,
    origin: Span | None = None,
) -> Graph:
    """A loop body or parallel branch with its node ids (and reads of them) prefixed, and the
    enclosing blueprint's inputs it reads replaced by ``feeds`` where they are given.

    ``origin`` is the node that included the blueprint, for diagnostics.
    """
    item = body.inputs[0].name if body.inputs else None
    span = origin if origin is not None else Span(body.display)
    rename = _Renamer(prefix, feeds, span, keep_inputs=True, item=item, blocked=blocked, sink=sink)
    return replace(
        body,
        nodes=tuple(rename.node(n) for n in body.nodes),
        outputs=tuple(Output(o.port, rename.binding(o.binding)) for o in body.outputs),
    )


class _Substitute:
    """Points the parent's reads of a group node's outputs at the child's inner values."""

    def __init__(self, outputs_of: Mapping[str, Mapping[str, Binding]]) -> None:
        self.outputs_of = outputs_of

    def binding(self, binding: Binding) -> Binding:
        # A group's output may pass another group's output through (its input, fed by that
        # group): follow the chain to a real node.
        while isinstance(binding, FromNode) and binding.node in self.outputs_of:
            binding = self.outputs_of[binding.node].get(binding.port, Constant(None))
        if isinstance(binding, FromTemplate):
            return FromTemplate(_map_template(binding.template, self.binding))
        return binding

    def node(self, node: Node) -> Node:
        # Most nodes read no group's output: they are kept as they are, not copied (and, when
        # nothing they hold could name a group, not even walked twice).
        if (
            not any(function.reads for function in node.code)
            and self._plain(node.inputs.values())
            and self._plain(node.params.values())
        ):
            return node
        inputs = _map_inputs(node.inputs, self.binding)
        params = _map_value(node.params, self.binding)
        code = _map_code(node.code, self.binding)
        if inputs == node.inputs and params == node.params and code == node.code:
            return node
        return replace(node, inputs=inputs, params=params, code=code)  # type: ignore[arg-type]

    def _plain(self, values: Iterable[object]) -> bool:
        """Whether ``values`` hold nothing this substitution would change: no read of a group
        node and no template (nested values are walked only if there are any)."""
        groups = self.outputs_of
        for value in values:
            if isinstance(value, FromNode):
                if value.node in groups:
                    return False
            elif isinstance(value, (FromInput, Constant, str, int, float, bool)) or value is None:
                continue
            elif isinstance(value, tuple):
                if not self._plain(value):
                    return False
            elif isinstance(value, dict):
                if not self._plain(value.values()):
                    return False
            elif isinstance(value, list):
                if not self._plain(value):
                    return False
            else:
                return False  # a template, or anything else: the full walk decides
        return True


def _map_inputs(
    inputs: Mapping[str, Binding | tuple[Binding, ...]], fn: _BindingMap
) -> dict[str, Binding | tuple[Binding, ...]]:
    return {
        port: tuple(fn(b) for b in value) if isinstance(value, tuple) else fn(value)
        for port, value in inputs.items()
    }


def _map_code(code: tuple[CodeFunction, ...], fn: _BindingMap) -> tuple[CodeFunction, ...]:
    return tuple(
        (
            replace(function, reads=tuple((name, fn(binding)) for name, binding in function.reads))
            if function.reads
            else function
        )
        for function in code
    )


def _map_template(template: Template, fn: _BindingMap) -> Template:
    parts: list[str | TemplateExpr] = []
    for part in template.parts:
        if isinstance(part, TemplateExpr) and not isinstance(part.root, str):
            part = replace(part, root=fn(part.root))
        parts.append(part)
    return Template(tuple(parts))


def _map_value(value: object, fn: _BindingMap) -> object:
    if isinstance(value, (FromNode, FromInput, Constant, FromTemplate)):
        return fn(value)
    if isinstance(value, Template):
        return _map_template(value, fn)
    if isinstance(value, dict):
        return {k: _map_value(v, fn) for k, v in value.items()}
    if isinstance(value, list):
        return [_map_value(v, fn) for v in value]
    return value


def prefixed(graph: Graph, prefix: str) -> Graph:
    """``graph`` with every node id (and every read of a node) prefixed, e.g. ``loop.body.``."""
    rename = _Renamer(
        prefix, {p.name: FromInput(p.name) for p in graph.inputs}, Span(graph.display)
    )
    return replace(
        graph,
        nodes=tuple(rename.node(n) for n in graph.nodes),
        outputs=tuple(Output(o.port, rename.binding(o.binding)) for o in graph.outputs),
    )
