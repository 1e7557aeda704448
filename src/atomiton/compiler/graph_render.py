"""Text pictures of a checked graph: Mermaid flowcharts and Graphviz dot.

The graph is the inlined one the generated module runs, so nodes carry their prefixed ids
(``totals.sum``); each prefix becomes a cluster (a ``subgraph``), which shows the sub-blueprints
as the author wrote them. Loop bodies and parallel branches are clusters inside their node's.
Every label from YAML is escaped for the target language; node names in the output are
generated (``n0``, ``n1``, ...), never taken from the file.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from .ir import Binding, FromInput, FromNode, FromTemplate, Graph, Node, Template, TemplateExpr

Format = Literal["mermaid", "dot"]


@dataclass(slots=True)
class _Cluster:
    """A sub-blueprint (or body) and what it holds, in file order."""

    path: str
    label: str
    nodes: list[str] = field(default_factory=list)
    children: dict[str, _Cluster] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Edge:
    source: str
    target: str
    label: str
    dashed: bool = False


@dataclass(slots=True)
class _Picture:
    """The graph reduced to named boxes, clusters and labelled arrows."""

    labels: dict[str, str] = field(default_factory=dict)  # generated name -> label
    root: _Cluster = field(default_factory=lambda: _Cluster("", ""))
    edges: list[_Edge] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)  # node id (or input./output.) -> name

    def name(self, key: str, label: str) -> str:
        if key not in self.names:
            self.names[key] = f"n{len(self.names)}"
            self.labels[self.names[key]] = label
        return self.names[key]


def render_graph(graph: Graph, fmt: Format = "mermaid") -> str:
    """Draw ``graph`` (as ``load_graph`` returns it) in ``fmt``.

    Args:
        graph: the checked, inlined graph.
        fmt: ``mermaid`` (a flowchart for Markdown) or ``dot`` (Graphviz).

    Returns:
        The picture's source text, ending with a newline; the same graph gives the same text.
    """
    picture = _picture(graph)
    return _mermaid(picture) if fmt == "mermaid" else _dot(picture)


def _picture(graph: Graph) -> _Picture:
    picture = _Picture()
    for port in graph.inputs:
        picture.name(f"input.{port.name}", f"input {port.name}: {port.type}")
    _add_nodes(picture, graph.nodes, prefix="")
    for output in graph.outputs:
        name = picture.name(
            f"output.{output.port.name}", f"output {output.port.name}: {output.port.type}"
        )
        for source, source_port in _sources(picture, output.binding):
            picture.edges.append(_Edge(source, name, source_port))
    return picture


def _add_nodes(picture: _Picture, nodes: Iterable[Node], prefix: str) -> None:
    for node in nodes:
        short = node.id[len(prefix) :] if node.id.startswith(prefix) else node.id
        title = (
            node.name
            if node.name and node.name != short.rsplit(".", 1)[-1]
            else short.rsplit(".", 1)[-1]
        )
        label = f"{title}\n{node.type}" + (" (disabled)" if node.skipped else "")
        name = picture.name(node.id, label)
        _cluster_for(picture, node.id).nodes.append(name)
    for node in nodes:
        target = picture.names[node.id]
        for port, bound in node.inputs.items():
            for binding in bound if isinstance(bound, tuple) else (bound,):
                for source, source_port in _sources(picture, binding):
                    picture.edges.append(_Edge(source, target, f"{source_port} → {port}"))
        for param, value in node.params.items():
            for binding in _bindings_in(value):
                for source, source_port in _sources(picture, binding):
                    picture.edges.append(
                        _Edge(source, target, f"{source_port} → {param}", dashed=True)
                    )
        for body in node.bodies:
            _add_nodes(picture, body.nodes, prefix)
            for output in body.outputs:
                for source, _ in _sources(picture, output.binding):
                    picture.edges.append(_Edge(source, target, "result", dashed=True))


def _cluster_for(picture: _Picture, node_id: str) -> _Cluster:
    cluster = picture.root
    parts = node_id.split(".")[:-1]
    for index, part in enumerate(parts):
        path = ".".join(parts[: index + 1])
        cluster = cluster.children.setdefault(part, _Cluster(path, part))
    return cluster


def _sources(picture: _Picture, binding: Binding) -> list[tuple[str, str]]:
    """The boxes a value comes from, with the port it leaves by (templates may read several)."""
    if isinstance(binding, FromNode):
        name = picture.names.get(binding.node)
        return [(name, binding.port)] if name is not None else []
    if isinstance(binding, FromInput):
        name = picture.names.get(f"input.{binding.name}")
        return [(name, binding.name)] if name is not None else []
    if isinstance(binding, FromTemplate):
        return [s for b in _bindings_in(binding.template) for s in _sources(picture, b)]
    return []


def _bindings_in(value: object) -> list[Binding]:
    if isinstance(value, (FromNode, FromInput, FromTemplate)):
        return [value]
    if isinstance(value, Template):
        return [
            p.root
            for p in value.parts
            if isinstance(p, TemplateExpr) and not isinstance(p.root, str)
        ]
    if isinstance(value, dict):
        return [b for v in value.values() for b in _bindings_in(v)]
    if isinstance(value, (list, tuple)):
        return [b for v in value for b in _bindings_in(v)]
    return []


# -- Mermaid --------------------------------------------------------------------------------------


def _mermaid_text(text: str) -> str:
    # Mermaid labels are HTML inside quotes: entity-escape what would end or break them.
    escaped = (
        text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;")
    )
    return escaped.replace("\n", "<br/>")


def _mermaid(picture: _Picture) -> str:
    lines = ["flowchart LR"]
    clusters = iter(range(1_000_000))

    def emit(cluster: _Cluster, indent: str) -> None:
        for name in cluster.nodes:
            lines.append(f'{indent}{name}["{_mermaid_text(picture.labels[name])}"]')
        for child in cluster.children.values():
            lines.append(f'{indent}subgraph c{next(clusters)}["{_mermaid_text(child.path)}"]')
            emit(child, indent + "  ")
            lines.append(f"{indent}end")

    for key, name in picture.names.items():
        if key.startswith("input."):
            lines.append(f'  {name}(["{_mermaid_text(picture.labels[name])}"])')
    emit(picture.root, "  ")
    for key, name in picture.names.items():
        if key.startswith("output."):
            lines.append(f'  {name}(["{_mermaid_text(picture.labels[name])}"])')
    for edge in picture.edges:
        arrow = "-.->" if edge.dashed else "-->"
        lines.append(f'  {edge.source} {arrow}|"{_mermaid_text(edge.label)}"| {edge.target}')
    return "\n".join(lines) + "\n"


# -- Graphviz dot ---------------------------------------------------------------------------------


def _dot_text(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _dot(picture: _Picture) -> str:
    lines = ["digraph blueprint {", "  rankdir=LR;", "  node [shape=box, fontname=Helvetica];"]
    clusters = iter(range(1_000_000))

    def emit(cluster: _Cluster, indent: str) -> None:
        for name in cluster.nodes:
            lines.append(f"{indent}{name} [label={_dot_text(picture.labels[name])}];")
        for child in cluster.children.values():
            lines.append(f"{indent}subgraph cluster_{next(clusters)} {{")
            lines.append(f"{indent}  label={_dot_text(child.path)};")
            emit(child, indent + "  ")
            lines.append(f"{indent}}}")

    for key, name in picture.names.items():
        if key.startswith(("input.", "output.")):
            lines.append(f"  {name} [label={_dot_text(picture.labels[name])}, shape=ellipse];")
    emit(picture.root, "  ")
    for edge in picture.edges:
        style = ", style=dashed" if edge.dashed else ""
        lines.append(f"  {edge.source} -> {edge.target} [label={_dot_text(edge.label)}{style}];")
    lines.append("}")
    return "\n".join(lines) + "\n"
