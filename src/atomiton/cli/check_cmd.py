"""``atomiton check``: compile blueprints in memory and report every problem, writing no module.

Besides the compiler's own checks, the generated code is type-checked with mypy (unless
``--no-mypy``), with its findings reported at the blueprint's positions. mypy keeps its
incremental cache in the project's cache folder (``cache.py``), so only the first check pays for
analysing the runtime and its libraries. ``--changed-since RUN`` also lists the nodes whose
code version differs from the versions a recorded run stored, and the nodes downstream of them
(``compiler.versions.changes_since``).
"""

from __future__ import annotations

import json
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
    from ..store import RunDetail

EPILOG: Final = """\b
Examples:
  atomiton check flows/
  atomiton check flows/orders.yaml --no-mypy
  atomiton check flows/ --path shared/blueprints
  atomiton check flows/ --format json     # one JSON object per diagnostic, for editors and CI
  atomiton check flows/ --no-cache        # leave no cache behind (every check is then slow)
  atomiton check flows/orders.yaml --no-mypy --changed-since 019ac9f2   # what computes again

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
@click.option(
    "--changed-since",
    "changed_since",
    metavar="RUN_ID",
    help="Also list the nodes whose code version differs from the one the recorded run "
    "RUN_ID (or a unique prefix) stored, and the nodes downstream of them: what would compute "
    "again. Takes one blueprint FILE.",
)
@click.option(
    "--db",
    metavar="PATH",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The run history --changed-since reads (default: the project's).",
)
@search_path_option
def check_command(
    paths: tuple[Path, ...],
    no_mypy: bool,
    output_format: str,
    no_cache: bool,
    changed_since: str | None,
    db: Path | None,
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
    # The run first: a mistyped id is said before a compilation and mypy are waited for.
    run = None if changed_since is None else _recorded_run(changed_since, files, db)
    # No module-name check: nothing is written, so two blueprints named alike do not clash.
    modules = compile_all(files, compile_options(search_path), reporter)
    if run is not None and modules:
        _print_changes(modules[0], run, as_json=output_format == "json")
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


def _recorded_run(run_id: str, files: list[Path], db: Path | None) -> RunDetail:
    """The run ``--changed-since`` compares with; a usage error or exit 1 when there is none."""
    from ..store import AmbiguousRunId, RunStore, StoreError, default_db_path

    if len(files) != 1:
        raise click.UsageError(
            f"--changed-since compares one blueprint with a run; {len(files)} were given"
        )
    path = db if db is not None else default_db_path()
    if not path.exists():
        _fail(f"no run {run_id!r}: there is no run history at {display_path(path)}")
    try:
        with RunStore.open(path) as store:
            detail = store.get_run(run_id)
    except AmbiguousRunId as exc:
        raise click.UsageError(str(exc)) from None
    except StoreError as exc:
        _fail(str(exc))
    if detail is None:
        _fail(
            f"no run {run_id!r} in the run history {display_path(path)}",
            hint="'atomiton runs' lists the recorded runs and their ids",
        )
    return detail


def _fail(message: str, *, hint: str | None = None) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    if hint is not None:
        click.echo(f"  hint: {hint}", err=True)
    raise click.exceptions.Exit(status.BLUEPRINT_ERROR)


def _print_changes(compiled: CompiledModule, run: RunDetail, *, as_json: bool) -> None:
    """What would compute again compared with ``run``: on stdout, as text or one JSON line."""
    from ..compiler.versions import changes_since, node_versions

    versions = node_versions(compiled.graph).by_id
    recorded = {node.node_id: node.version for node in run.nodes}
    changes = changes_since(compiled.graph, versions, recorded)
    removed = [node_id for node_id in recorded if node_id not in versions]
    if as_json:
        nodes = [
            {
                "node": c.node,
                "kind": c.kind,
                "reason": c.reason,
                "version": c.version,
                "recorded": c.recorded,
            }
            for c in changes
        ]
        line = {"changed_since": run.id, "nodes": nodes, "removed": removed}
        click.echo(json.dumps(line, ensure_ascii=False))
        return
    other = (
        f" (a run of {run.summary.blueprint_id!r})"
        if run.summary.blueprint_id != compiled.graph.id
        else ""
    )
    if not changes:
        click.echo(f"since run {run.id}{other}: no node computes again ({len(versions)} unchanged)")
    else:
        click.echo(
            f"since run {run.id}{other}: {len(changes)} of {len(versions)} nodes compute again"
        )
        id_width = max(len(c.node) for c in changes)
        kind_width = max(len(c.kind) for c in changes)
        for c in changes:
            click.echo(f"  {c.node:<{id_width}}  {c.kind:<{kind_width}}  {c.reason}")
    if removed:
        click.echo(f"  removed since the run: {', '.join(removed)}")


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
