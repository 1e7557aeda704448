"""``atomiton graph``: print a blueprint's inlined graph as Mermaid or Graphviz dot, or (with
``--versions``) each node with its code version.

Sub-blueprints appear as clusters named by the including node's id; the drawing itself is done by
``atomiton.compiler.graph_render``, the versions by ``atomiton.compiler.versions``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Final

import click

from . import status
from .params import compile_options, search_path_option
from .report import Reporter

if TYPE_CHECKING:
    from ..compiler.ir import Graph, Node

EPILOG: Final = """\b
Examples:
  atomiton graph flows/orders.yaml > orders.mmd
  atomiton graph flows/orders.yaml --format dot | dot -Tsvg > orders.svg
  atomiton graph flows/orders.yaml --versions

\b
Exit status: 0 printed, 1 blueprint errors, 2 usage errors.
"""


@click.command("graph", epilog=EPILOG)
@click.argument(
    "file", metavar="FILE", type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(
        ["mermaid", "dot"]
    ),  # graph_render.Format; kept literal: the compiler loads lazily
    default="mermaid",
    show_default=True,
    help="mermaid: a flowchart for Markdown; dot: Graphviz source.",
)
@click.option(
    "--versions",
    "show_versions",
    is_flag=True,
    help="Print each node's id, type and code version, one line each, instead of the picture.",
)
@search_path_option
def graph_command(file: Path, fmt: str, show_versions: bool, search_path: tuple[Path, ...]) -> None:
    """Print the graph of FILE with every sub-blueprint inlined, as the compiled module runs it.

    Sub-blueprints are drawn as clusters; dashed arrows are values that reach a parameter (or a
    loop's results) rather than an input port. With --versions, each node (loop bodies and
    branches after their node) and the code version the compiled module records for it.
    """
    from ..compiler import load_graph
    from ..compiler.graph_render import render_graph
    from ..errors import BlueprintError

    try:
        graph = load_graph(file, options=compile_options(search_path))
    except BlueprintError as exc:
        reporter = Reporter()
        reporter.diagnostics(exc.diagnostics, path=file)
        reporter.print_summary()
        raise click.exceptions.Exit(status.BLUEPRINT_ERROR) from None
    if show_versions:
        from ..compiler.versions import node_versions

        versions = node_versions(graph)
        # W0270 on stderr: a version that cannot see edits to its function is worth knowing.
        Reporter().diagnostics(versions.warnings, path=file)
        click.echo(_versions_table(graph, versions.by_id), nl=False)
        return
    click.echo(render_graph(graph, "dot" if fmt == "dot" else "mermaid"), nl=False)


def _versions_table(graph: Graph, versions: Mapping[str, str]) -> str:
    """One line per node: id, type and version in aligned columns, bodies after their node."""
    rows: list[tuple[str, str, str]] = []

    def add(nodes: tuple[Node, ...]) -> None:
        for node in nodes:
            rows.append((node.id, node.type, versions[node.id]))
            for body in node.bodies:
                add(body.nodes)

    add(graph.nodes)
    id_width = max((len(row[0]) for row in rows), default=0)
    type_width = max((len(row[1]) for row in rows), default=0)
    return "".join(
        f"{node_id:<{id_width}}  {node_type:<{type_width}}  {version}\n"
        for node_id, node_type, version in rows
    )
