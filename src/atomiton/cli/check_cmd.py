"""``atomiton check``: compile blueprints in memory and report every problem, writing no module.

Besides the compiler's own checks, the generated code is type-checked with mypy (unless
``--no-mypy``), with its findings reported at the blueprint's positions. mypy keeps its
incremental cache in the project's cache folder (``cache.py``), so only the first check pays for
analysing the runtime and its libraries.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Final, NoReturn

import click

from ..blueprint_paths import display_path
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

if TYPE_CHECKING:
    from ..compiler import CompiledModule

EPILOG: Final = """\b
Examples:
  atomiton check flows/
  atomiton check flows/orders.yaml --no-mypy
  atomiton check flows/ --path shared/blueprints
  atomiton check flows/ --format json     # one JSON object per diagnostic, for editors and CI
  atomiton check flows/ --no-cache        # leave no cache behind (every check is then slow)

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
@click.option(
    "--no-cache",
    is_flag=True,
    help="Type-check without mypy's cache in .atomiton/cache (or $ATOMITON_CACHE_DIR): nothing "
    "is written, and every check takes as long as the first.",
)
@search_path_option
def check_command(
    paths: tuple[Path, ...],
    no_mypy: bool,
    output_format: str,
    no_cache: bool,
    search_path: tuple[Path, ...],
) -> None:
    """Check blueprints for errors without writing any module.

    PATH is a blueprint file or a folder searched recursively for *.yaml and *.yml. Every
    problem in every file is printed as path:line:col: error[CODE]: message. The first check
    with mypy builds a cache in .atomiton/cache that later checks reuse.
    """
    reporter = Reporter(json_out=sys.stdout if output_format == "json" else None)
    project_settings(reporter)  # a mistake in them is reported in the format asked for
    files = collect_blueprints(paths)
    # No module-name check: nothing is written, so two blueprints named alike do not clash.
    modules = compile_all(files, compile_options(search_path), reporter)
    mypy_ran = False
    if modules and not no_mypy:
        _type_check(modules, search_path, reporter, cached=not no_cache)
        mypy_ran = True
    code = status.BLUEPRINT_ERROR if reporter.has_errors else 0
    if code:
        reporter.print_summary()
    else:
        reporter.info(f"ok: {plural(len(files), 'blueprint')} checked")
    if mypy_ran and _started_as_command():
        _exit_now(code)
    if code:
        raise click.exceptions.Exit(code)


def _type_check(
    modules: list[CompiledModule],
    search_path: tuple[Path, ...],
    reporter: Reporter,
    *,
    cached: bool,
) -> None:
    """mypy over every module in one build, its findings through ``reporter``."""
    from ..compiler import typecheck
    from .cache import cache_root

    cache_dir = cache_root() / "check" if cached else None
    if cache_dir is not None and not typecheck.cache_is_warm(cache_dir):
        # Said once, before the wait: the first check analyses the runtime and its libraries.
        reporter.info(
            f"note: first check builds a cache in {display_path(cache_dir)} (this takes a "
            "while; later checks reuse it)"
        )

    def waiting() -> None:
        reporter.info("note: waiting for another check that is using the cache")

    result = typecheck.run_mypy(
        modules,
        search_path=effective_search_path(search_path),
        cache_dir=cache_dir,
        on_wait=waiting,
    )
    if result.cache_note is not None:
        reporter.info(f"note: {result.cache_note}")
    reporter.diagnostics(result.diagnostics)


def _started_as_command() -> bool:
    """Whether this process is the ``atomiton`` program (the console script or ``python -m
    atomiton``: both run ``cli.main`` from ``__main__``), rather than a test or a program that
    calls the command in-process and goes on afterwards."""
    from . import main

    return getattr(sys.modules.get("__main__"), "main", None) is main


def _exit_now(code: int) -> NoReturn:
    """End the program at once, as mypy's own command does: mypy's analysis is millions of small
    objects, and freeing them one by one at a normal exit takes longer than a warm check (2.5 s
    on a quiet machine after a first check). Nothing else is pending: check has written its
    output, holds no lock (the cache's is released) and starts no threads."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass  # a closed pipe (check ... | head): nothing more can be said there
    os._exit(code)
