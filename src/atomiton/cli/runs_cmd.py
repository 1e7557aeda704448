"""``atomiton runs``: the run history: a table of runs, one run in detail, its events, clean-up.

The commands only read and render what ``atomiton.store`` returns (``gc`` asks it to delete).
Errors are plain messages: an unknown run id or an unreadable history exits 1, an ambiguous id
prefix or a bad argument 2. Reading commands never create a history that does not exist.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Final, NoReturn

import click

from . import status as exit_status

if TYPE_CHECKING:
    from ..store import RunDetail, RunStore, RunSummary

EPILOG: Final = """\b
Examples:
  atomiton runs                          # the recorded runs, newest first
  atomiton runs --blueprint hello-world --status failed --last 5
  atomiton runs show 01a2f3              # one run: nodes, timing, errors (an id prefix will do)
  atomiton runs events 01a2f3 > run.jsonl
  atomiton runs report 01a2f3 -o report.html   # one self-contained page to attach to CI
  atomiton runs gc --keep 100            # or --older-than 30d

\b
The history is .atomiton/history.db of the project (the nearest folder with a pyproject.toml
or .atomiton/), or $ATOMITON_HOME/history.db; --db PATH names another.
"""

_STATUSES: Final = ("running", "completed", "failed", "cancelled", "interrupted")
_UNITS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}

db_option = click.option(
    "--db",
    metavar="PATH",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The run history to read (default: the project's).",
)


def _fail(message: str, code: int = exit_status.BLUEPRINT_ERROR) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    raise click.exceptions.Exit(code)


def _open(db: Path | None, *, create: bool = False) -> RunStore | None:
    """The store at ``db`` (default: the project's); None when it does not exist and reading
    should not create it."""
    from ..store import RunStore, StoreError, default_db_path

    path = db if db is not None else default_db_path()
    if not create and not path.exists():
        return None
    try:
        return RunStore.open(path)
    except StoreError as exc:
        _fail(str(exc))


def _find(store: RunStore, run_id: str) -> RunDetail:
    from ..store import AmbiguousRunId

    try:
        detail = store.get_run(run_id)
    except AmbiguousRunId as exc:
        _fail(str(exc), exit_status.USAGE_ERROR)
    if detail is None:
        _fail(f"no run {run_id!r} in {store.path}")
    return detail


@click.group("runs", invoke_without_command=True, epilog=EPILOG)
@click.option("--json", "as_json", is_flag=True, help="Print the runs as one JSON array.")
@click.option("--blueprint", metavar="ID", help="Only runs of this blueprint (id or name).")
@click.option("--status", type=click.Choice(_STATUSES), help="Only runs that ended so.")
@click.option("--last", metavar="N", type=click.IntRange(min=1), help="Only the N newest runs.")
@db_option
@click.pass_context
def runs_command(
    ctx: click.Context,
    as_json: bool,
    blueprint: str | None,
    status: str | None,
    last: int | None,
    db: Path | None,
) -> None:
    """List recorded runs, or show one run, its events, or clean up old ones.

    Without a subcommand: a table of runs, newest first (id, blueprint, status, started,
    duration). Every 'atomiton run' is recorded unless it was given --no-record.
    """
    ctx.ensure_object(dict)
    ctx.obj["db"] = db
    if ctx.invoked_subcommand is not None:
        return
    store = _open(db)
    if store is None:
        runs: list[RunSummary] = []
    else:
        with store:
            runs = store.list_runs(
                blueprint=blueprint,
                status=status,  # type: ignore[arg-type]  # click.Choice checked it
                last=last,
            )
    if as_json:
        click.echo(json.dumps([run.to_json() for run in runs], indent=2, ensure_ascii=False))
        return
    if not runs:
        click.echo("no runs recorded", err=True)
        return
    rows = [("ID", "BLUEPRINT", "STATUS", "STARTED", "DURATION")]
    for run in runs:
        rows.append((run.id, run.blueprint_id, run.status, _when(run.started), _took(run)))
    click.echo(_table(rows))


@runs_command.command("show", epilog=EPILOG)
@click.argument("run_id", metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="Print the run as one JSON object.")
@click.option("--values", is_flag=True, help="Also print the value each node produced.")
@db_option
@click.pass_context
def show_command(
    ctx: click.Context, run_id: str, as_json: bool, values: bool, db: Path | None
) -> None:
    """Show one run: its blueprint, inputs, outputs, and each node's state, timing and error.

    ID is a run id or a prefix of one that no other run shares. With --values, each node's
    output follows (shortened; --json has them in full).
    """
    store = _open(db or ctx.obj["db"])
    if store is None:
        _fail(f"no run {run_id!r}: nothing is recorded yet")
    with store:
        detail = _find(store, run_id)
    if as_json:
        click.echo(json.dumps(detail.to_json(), indent=2, ensure_ascii=False))
        return
    click.echo(_describe(detail, values=values))


@runs_command.command("events", epilog=EPILOG)
@click.argument("run_id", metavar="ID")
@click.option(
    "--after", metavar="SEQ", type=click.IntRange(min=0), default=0, help="Skip the first SEQ."
)
@db_option
@click.pass_context
def events_command(ctx: click.Context, run_id: str, after: int, db: Path | None) -> None:
    """Print the events of one run as JSON lines, as 'atomiton run --events' wrote them."""
    store = _open(db or ctx.obj["db"])
    if store is None:
        _fail(f"no run {run_id!r}: nothing is recorded yet")
    with store:
        detail = _find(store, run_id)
        events = store.events(detail.id, after=after)
    for event in events:
        event.pop("seq", None)
        click.echo(json.dumps(event, ensure_ascii=False, default=str))


@runs_command.command("report", epilog=EPILOG)
@click.argument("run_id", metavar="ID")
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The HTML file to write.",
)
@db_option
@click.pass_context
def report_command(ctx: click.Context, run_id: str, output: Path, db: Path | None) -> None:
    """Write one run as a self-contained HTML page: graph, states, timeline, failures."""
    from ..runtime.files import atomic_write
    from ..serve.page import ReportError, report_html
    from ..store import StoreError, default_db_path

    where = db or ctx.obj["db"]
    if not (where or default_db_path()).exists():
        _fail(f"no run {run_id!r}: nothing is recorded yet")
    try:
        page = report_html(run_id, db=where)
    except (ReportError, StoreError) as exc:
        _fail(str(exc))
    try:
        atomic_write(output, page.encode("utf-8"))
    except OSError as exc:
        _fail(f"cannot write {output}: {exc.strerror or exc}", exit_status.USAGE_ERROR)
    click.echo(f"wrote {output}", err=True)


@runs_command.command("gc", epilog=EPILOG)
@click.option("--keep", metavar="N", type=click.IntRange(min=0), help="Keep the N newest runs.")
@click.option(
    "--older-than",
    metavar="AGE",
    help="Delete runs that ended longer ago than AGE (30d, 12h, 45m, 90s, 2w).",
)
@db_option
@click.pass_context
def gc_command(
    ctx: click.Context, keep: int | None, older_than: str | None, db: Path | None
) -> None:
    """Delete old runs (finished ones only) with their nodes, events and unused blobs."""
    if keep is None and older_than is None:
        raise click.UsageError("give --keep N or --older-than AGE (or both)")
    age = None if older_than is None else _age(older_than)
    store = _open(db or ctx.obj["db"])
    if store is None:
        click.echo("deleted 0 runs", err=True)
        return
    with store:
        from ..store import StoreError

        try:
            deleted = store.gc(keep=keep, older_than=age)
        except StoreError as exc:
            _fail(str(exc))
    click.echo(f"deleted {deleted} run{'' if deleted == 1 else 's'}", err=True)


def _age(text: str) -> float:
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", text)
    if match is None:
        raise click.BadParameter(
            f"{text!r} is not an age such as 30d, 12h, 45m, 90s or 2w", param_hint="'--older-than'"
        )
    return float(match.group(1)) * _UNITS[match.group(2)]


def _describe(run: RunDetail, *, values: bool = False) -> str:
    """The text of ``runs show``."""
    summary = run.summary
    lines = [
        f"run {run.id}: {summary.name or summary.blueprint_id} ({summary.blueprint_id}"
        f"{' ' + summary.version if summary.version else ''}) {summary.status}",
        f"  blueprint  {run.path or run.source}  sha256 {run.sha256[:12] or '?'}",
        f"  started    {_when(summary.started)}, took {_took(summary)}"
        f"  (atomiton {run.atomiton_version or '?'}, pid {run.pid} on {run.host})",
    ]
    if run.inputs is not None:
        lines.append(f"  inputs     {_short(run.inputs)}")
    if run.outputs is not None:
        lines.append(f"  outputs    {_short(run.outputs)}")
    if summary.error:
        lines.append(f"  error      {summary.error}")
    if run.resumed_from:
        lines.append(f"  resumed    run {run.resumed_from}")
    if run.nodes:
        lines.append("")
        rows = [("NODE", "TYPE", "STATE", "START", "DURATION", "ATTEMPTS")]
        for node in run.nodes:
            start = "" if node.started is None else f"+{node.started - summary.started:.3f}s"
            took = "" if node.duration is None else _seconds(node.duration)
            rows.append(
                (node.node_id, node.type, node.state, start, took, str(node.attempts or ""))
            )
        lines.append(_table(rows, indent="  "))
        for node in run.nodes:
            if node.state == "failed" and node.error:
                lines.append(
                    f"  {_position(run, node.source)}:{node.line}:{node.column}: "
                    f"node {node.node_id!r} ({node.type}) failed: {node.error}"
                )
        if values:
            lines.append("")
            lines.append(_table(_value_rows(run), indent="  "))
    lines.append(f"\n  {run.events} events: atomiton runs events {run.id}")
    return "\n".join(lines)


def _value_rows(run: RunDetail) -> list[tuple[str, str]]:
    """``runs show --values``: each node's output, or why there is none."""
    rows = [("NODE", "OUTPUT")]
    for node in run.nodes:
        rows.append((node.node_id, _short(node.output) if node.has_output else "-"))
    return rows


def _position(run: RunDetail, source: str) -> str:
    """A node's file as seen from here: sources are relative to the blueprint's folder."""
    from ..blueprint_paths import display_path

    if run.path is None or not source or Path(source).is_absolute():
        return source
    return display_path(Path(run.path).parent / source)


def _short(value: object, limit: int = 100) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _when(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch))


def _took(run: RunSummary) -> str:
    duration = run.duration
    return run.status if duration is None else _seconds(duration)


def _seconds(value: float) -> str:
    if value < 0.001:
        return f"{value * 1e6:.0f}µs"
    if value < 1:
        return f"{value * 1000:.1f}ms"
    if value < 60:
        return f"{value:.2f}s"
    minutes, seconds = divmod(int(value), 60)
    return f"{minutes}m{seconds:02d}s" if minutes < 60 else f"{minutes // 60}h{minutes % 60:02d}m"


def _table(rows: Sequence[Sequence[str]], indent: str = "") -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        indent + "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()
        for row in rows
    )
