"""What each node of a graph reads, and what follows from it: dependencies, a stable
topological order, which nodes a disabled node takes down with it, and the values a node's
call depends on as generated code spells them (the key ``Execution.serve`` is asked with).

Plain functions over ``ir`` data, shared by ``validate`` (the one sort), ``bind``, the planner and
code generation.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Mapping
from dataclasses import replace

from .. import codes
from ..diagnostics import DiagnosticSink
from .ir import (
    Binding,
    Constant,
    FromInput,
    FromNode,
    FromTemplate,
    Graph,
    Node,
    Template,
    TemplateExpr,
)
from .literals import literal


def stable_topological(nodes: list[Node], position: Mapping[str, int]) -> list[Node]:
    """``nodes`` in dependency order; among ready nodes, file order (``position``) first."""
    deps = {n.id: dependencies(n) for n in nodes}
    dependants: dict[str, list[str]] = {n.id: [] for n in nodes}
    for node_id, required in deps.items():
        for dep in required:
            dependants[dep].append(node_id)
    remaining = {node_id: len(required) for node_id, required in deps.items()}
    ready = [position[n] for n, count in remaining.items() if count == 0]
    heapq.heapify(ready)
    ordered = []
    while ready:
        node = nodes[heapq.heappop(ready)]
        ordered.append(node)
        for dependant in dependants[node.id]:
            remaining[dependant] -= 1
            if remaining[dependant] == 0:
                heapq.heappush(ready, position[dependant])
    return ordered


def bindings_of(node: Node) -> list[Binding]:
    """Every binding a node reads: its inputs, its parameters' templates, its code's inputs."""
    found: list[Binding] = []
    for value in node.inputs.values():
        found.extend(value if isinstance(value, tuple) else (value,))
    _collect(node.params, found)
    for function in node.code:
        for _, binding in function.reads:
            _collect(binding, found)
    return found


def _collect(value: object, found: list[Binding]) -> None:
    if isinstance(value, (FromNode, FromInput, Constant)):
        found.append(value)
    elif isinstance(value, FromTemplate):
        _collect(value.template, found)
    elif isinstance(value, Template):
        for part in value.parts:
            if isinstance(part, TemplateExpr) and not isinstance(part.root, str):
                _collect(part.root, found)
    elif isinstance(value, dict):
        for item in value.values():
            _collect(item, found)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _collect(item, found)


def dependencies(node: Node) -> set[str]:
    """Ids of the nodes whose outputs ``node`` reads."""
    return {b.node for b in bindings_of(node) if isinstance(b, FromNode)}


def key_values(node: Node, spell: Callable[[object], str]) -> str:
    """The tuple of every value the node's call depends on, for ``Execution.serve``, each
    value spelled by ``spell`` (code generation's expression for a binding in scope).

    Its inputs, then the values its parameters' templates read, then what its code reads
    (``inputs.<name>``), each once, in that order; constants are left out (they are part
    of the node's code, not of its input).
    """
    found: list[str] = []

    def add(expression: str) -> None:
        if expression not in found:
            found.append(expression)

    def walk(value: object) -> None:
        if isinstance(value, (FromNode, FromInput)):
            add(spell(value))
        elif isinstance(value, FromTemplate):
            walk(value.template)
        elif isinstance(value, Template):
            for part in value.parts:
                if isinstance(part, TemplateExpr):
                    if part.root == "env":
                        add(f"_rt.env({literal(part.path[0])})")
                    elif part.root == "now":
                        add("_rt.now()")
                    else:
                        walk(part.root)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, (list, tuple)):
            for item in value:
                walk(item)

    for bound in node.inputs.values():
        walk(bound)
    compiled = {function.param for function in node.code}
    for name, value in node.params.items():
        if name not in compiled:
            walk(value)
    for function in node.code:
        for _, binding in function.reads:
            walk(binding)
    return f"({', '.join(found)}{',' if len(found) == 1 else ''})"


def mark_skipped(graph: Graph, sink: DiagnosticSink) -> Graph:
    """Disabled nodes, and every node that needs a value from a skipped one, are skipped."""
    if all(node.settings.enabled for node in graph.nodes):
        return graph  # the usual case: nothing to skip, no reads to walk
    skipped: set[str] = set()
    # Enabled nodes skipped because of each node they read (counted once, for the warning).
    followers: dict[str, int] = {}
    for node in graph.nodes:  # topological order: dependencies are decided first
        if not node.settings.enabled:
            skipped.add(node.id)
            continue
        required = dependencies(node)
        if required & skipped:
            skipped.add(node.id)
            for dep in required:
                followers[dep] = followers.get(dep, 0) + 1
    if not skipped:
        return graph
    for node in graph.nodes:
        if not node.settings.enabled:
            count = followers.get(node.id, 0)
            if count:
                sink.warning(codes.DISABLED_NODE, node.span, node=node.id, count=count)
    nodes = tuple(replace(n, skipped=n.id in skipped) for n in graph.nodes)
    outputs = tuple(
        (
            replace(o, binding=Constant(None))
            if isinstance(o.binding, FromNode) and o.binding.node in skipped
            else o
        )
        for o in graph.outputs
    )
    return replace(graph, nodes=nodes, outputs=outputs)
