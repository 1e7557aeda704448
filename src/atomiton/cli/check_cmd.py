"""``atomiton check``: compile blueprints in memory and report every problem, writing nothing.

Besides the compiler's own checks, the generated code is type-checked with mypy (unless
``--no-mypy``), with its findings reported at the blueprint's positions.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Final

import click

from . import status
from .batch import collect_blueprints, compile_all
from .params import (
    blueprint_paths_argument,
    compile_options,
    effective_search_path,
    search_path_option,
)
from .report import Reporter, plural
from .settings import project_settings

EPILOG: Final = """\b
Examples:
  atomiton check flows/
  atomiton check flows/orders.yaml --no-mypy
  atomiton check flows/ --path shared/blueprints
  atomiton check flows/ --format json     # one JSON object per diagnostic, for editors and CI

\b
Exit status: 0 no errors, 1 blueprint errors, 2 usage errors.
"""


@click.command("check", epilog=EPILOG)
@blueprint_paths_argument
@click.option(
    "--no-mypy",
    is_flag=True,
    help="Skip type-checking the generated code with mypy (faster; the compiler's own checks "
    "of edges, ports and parameters still run).",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text: path:line:col: error[CODE]: message on stderr. json: one JSON object per "
    "diagnostic and line on stdout (path, line, column, end_line, end_column, severity, code, "
    "message, hint, notes); the summary stays on stderr.",
)
@search_path_option
def check_command(
    paths: tuple[Path, ...], no_mypy: bool, output_format: str, search_path: tuple[Path, ...]
) -> None:
    """Check blueprints for errors without writing anything.

    PATH is a blueprint file or a folder searched recursively for *.yaml and *.yml. Every
    problem in every file is printed as path:line:col: error[CODE]: message.
    """
    reporter = Reporter(json_out=sys.stdout if output_format == "json" else None)
    project_settings(reporter)  # a mistake in them is reported in the format asked for
    files = collect_blueprints(paths)
    # No module-name check: nothing is written, so two blueprints named alike do not clash.
    modules = compile_all(files, compile_options(search_path), reporter)
    if modules and not no_mypy:
        from ..compiler import typecheck

        folders = effective_search_path(search_path)
        reporter.diagnostics(typecheck.check_types(modules, search_path=folders))
    if reporter.has_errors:
        reporter.print_summary()
        raise click.exceptions.Exit(status.BLUEPRINT_ERROR)
    reporter.info(f"ok: {plural(len(files), 'blueprint')} checked")
