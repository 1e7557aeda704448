"""``atomiton graph``: print a blueprint's inlined graph as Mermaid or Graphviz dot.

Sub-blueprints appear as clusters named by the including node's id; the drawing itself is done by
``atomiton.compiler.graph_render``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import click

from . import status
from .params import compile_options, search_path_option
from .report import Reporter

EPILOG: Final = """\b
Examples:
  atomiton graph flows/orders.yaml > orders.mmd
  atomiton graph flows/orders.yaml --format dot | dot -Tsvg > orders.svg

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
@search_path_option
def graph_command(file: Path, fmt: str, search_path: tuple[Path, ...]) -> None:
    """Print the graph of FILE with every sub-blueprint inlined, as the compiled module runs it.

    Sub-blueprints are drawn as clusters; dashed arrows are values that reach a parameter (or a
    loop's results) rather than an input port.
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
    click.echo(render_graph(graph, "dot" if fmt == "dot" else "mermaid"), nl=False)
