"""``atomiton cache``: the node cache, the values of nodes that later runs reuse (``run
--cache``, docs/caching.md): a table of entries, clean-up by age and size, clearing.

Not to be confused with the folder of compiled modules (``cli/cache.py``, ``--recompile``):
that one only saves compile time; this one holds node values, in the run history's database.
The commands only render what ``store/cache_store.py`` returns and ask it to delete.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Final, NoReturn

import click

from . import status as exit_status
from .runs_cmd import _age as parse_age

if TYPE_CHECKING:
    from ..store.cache_store import CacheStore

EPILOG: Final = """\b
Examples:
  atomiton cache                         # the cached node values, most recently used first
  atomiton cache ls --blueprint report
  atomiton cache gc --older-than 30d     # or --max-size 500M, or both
  atomiton cache clear --blueprint report --node fetch

\b
The node cache lives in the run history: .atomiton/history.db of the project, or
$ATOMITON_HOME/history.db; --db PATH names another.
"""

_SIZES: Final = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}

db_option = click.option(
    "--db",
    metavar="PATH",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The run history that holds the cache (default: the project's).",
)


def _fail(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    raise click.exceptions.Exit(exit_status.BLUEPRINT_ERROR)


def _open(db: Path | None) -> CacheStore | None:
    """The cache of ``db`` (default: the project's history); None when there is no history."""
    from ..store import StoreError, default_db_path
    from ..store.cache_store import CacheStore

    path = db if db is not None else default_db_path()
    if not path.exists():
        return None
    try:
        return CacheStore.open(path)
    except StoreError as exc:
        _fail(str(exc))


def _size(text: str) -> int:
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmg]?)b?\s*", text.lower())
    if match is None:
        raise click.BadParameter(
            f"{text!r} is not a size such as 500M, 2G or 64k", param_hint="'--max-size'"
        )
    return int(float(match.group(1)) * _SIZES[match.group(2)])


def _show_size(size: int) -> str:
    for unit, factor in (("G", 1 << 30), ("M", 1 << 20), ("k", 1 << 10)):
        if size >= factor:
            return f"{size / factor:.1f}{unit}"
    return f"{size}B"


@click.group("cache", invoke_without_command=True, epilog=EPILOG)
@db_option
@click.pass_context
def cache_command(ctx: click.Context, db: Path | None) -> None:
    """List, clean up or clear the node cache (values of nodes reused by later runs)."""
    ctx.ensure_object(dict)
    ctx.obj["db"] = db
    if ctx.invoked_subcommand is None:
        ctx.invoke(ls_command, blueprint=None, db=db)


@cache_command.command("ls", epilog=EPILOG)
@click.option("--blueprint", metavar="ID", help="Only the entries of this blueprint.")
@db_option
@click.pass_context
def ls_command(ctx: click.Context, blueprint: str | None, db: Path | None) -> None:
    """List cached node values, most recently used first."""
    store = _open(db or (ctx.obj or {}).get("db"))
    if store is None:
        click.echo("the node cache is empty", err=True)
        return
    try:
        entries = store.entries(blueprint_id=blueprint)
    finally:
        store.close()
    if not entries:
        click.echo("the node cache is empty", err=True)
        return
    now = time.time()
    click.echo(f"{'blueprint':<20} {'node':<24} {'size':>8} {'hits':>5} {'last used':>10}  key")
    for entry in entries:
        age = _show_age(now - entry.used)
        click.echo(
            f"{entry.blueprint_id[:20]:<20} {entry.node_id[:24]:<24} "
            f"{_show_size(entry.size):>8} {entry.hits:>5} {age:>10}  {entry.key[:12]}"
        )
    total = sum(entry.size for entry in entries)
    click.echo(f"{len(entries)} entr{'y' if len(entries) == 1 else 'ies'}, {_show_size(total)}")


def _show_age(seconds: float) -> str:
    for unit, factor in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= factor:
            return f"{int(seconds // factor)}{unit} ago"
    return "just now"


@cache_command.command("gc", epilog=EPILOG)
@click.option(
    "--older-than",
    metavar="AGE",
    help="Delete entries not used for AGE (30d, 12h, 45m, 90s, 2w).",
)
@click.option(
    "--max-size",
    metavar="SIZE",
    help="Then delete the least recently used entries until the rest take SIZE (500M, 2G).",
)
@db_option
@click.pass_context
def gc_command(
    ctx: click.Context, older_than: str | None, max_size: str | None, db: Path | None
) -> None:
    """Delete cached values not used for a while, or beyond a total size."""
    if older_than is None and max_size is None:
        raise click.UsageError("give --older-than AGE or --max-size SIZE (or both)")
    age = None if older_than is None else parse_age(older_than)
    budget = None if max_size is None else _size(max_size)
    _delete(ctx, db, lambda store: store.gc(older_than=age, max_bytes=budget))


@cache_command.command("clear", epilog=EPILOG)
@click.option("--blueprint", metavar="ID", help="Only the entries of this blueprint.")
@click.option("--node", "node_id", metavar="ID", help="Only the entries of this node.")
@db_option
@click.pass_context
def clear_command(
    ctx: click.Context, blueprint: str | None, node_id: str | None, db: Path | None
) -> None:
    """Delete cached values: all of them, or a blueprint's, or one node's."""
    _delete(ctx, db, lambda store: store.clear(blueprint_id=blueprint, node_id=node_id))


def _delete(ctx: click.Context, db: Path | None, delete: Callable[[CacheStore], int]) -> None:
    """Open the store, ``delete`` from it and say how many entries went."""
    store = _open(db or (ctx.obj or {}).get("db"))
    deleted = 0
    if store is not None:
        from ..store import StoreError

        try:
            deleted = delete(store)
        except StoreError as exc:
            _fail(str(exc))
        finally:
            store.close()
    click.echo(f"deleted {deleted} entr{'y' if deleted == 1 else 'ies'}", err=True)
