"""``atomiton run``'s node cache options (``--cache``, ``--refresh``, ``--resume RUN_ID``,
``--from NODE``): the run's ``cache=`` argument, what to force and the plan printed before a
resumed run.

The run itself reuses values through the node cache's resume mode (``runtime/cache.py``): a node
call is reused when that run wrote or reused a value under the same key (same code version, same
input values), so only the judgement "reused" can be final before the run; this module says,
per node, what is known beforehand: reused if its inputs are unchanged, or runs and why (its
code changed, it did not finish in that run, ``--from``). ``--from NODE`` forces the node and
everything downstream of it, found on the blueprint's inlined graph.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from ..compiler.ir import Graph, Node
    from ..runtime.cache import Cache
    from ..runtime.model import Blueprint
    from ..store.cache_store import CacheStore
    from .report import Reporter


@dataclass(frozen=True, slots=True)
class Step:
    """One node in a resume plan."""

    node_id: str
    action: Literal["reuse", "run"]
    why: str


def downstream(graph: Graph, start: str) -> set[str]:
    """``start`` and every node that depends on it, directly or not; a node inside a loop or
    parallel body also takes its containers (which then run again) and what follows them.

    Raises:
        KeyError: no node of the graph is called ``start``.
    """
    nodes = dict(_all_nodes(graph))
    if start not in nodes:
        raise KeyError(start)
    users: dict[str, set[str]] = {}
    from ..compiler.cache_policy import references

    for node_id, (node, container) in nodes.items():
        for used in references(node):
            users.setdefault(used, set()).add(node_id)
        if container is not None:
            # A container's value is its body's: it depends on every node inside it.
            users.setdefault(node_id, set()).add(container)
    found: set[str] = set()
    pending = [start]
    while pending:
        node_id = pending.pop()
        if node_id in found:
            continue
        found.add(node_id)
        pending.extend(users.get(node_id, ()))
    return found


def _all_nodes(
    graph: Graph, container: str | None = None
) -> Iterator[tuple[str, tuple[Node, str | None]]]:
    for node in graph.nodes:
        yield node.id, (node, container)
        for body in node.bodies:
            yield from _all_nodes(body, node.id)


def plan(
    blueprint: Blueprint, store: CacheStore, run_id: str, forced: Iterable[str] = ()
) -> list[Step]:
    """What a resume of ``run_id`` will do with each node of ``blueprint``, as known before."""
    versions = store.run_versions(run_id)
    forced_ids = set(forced)
    steps = []
    for node in blueprint.nodes:
        seen = versions.get(node.id)
        if node.id in forced_ids:
            steps.append(Step(node.id, "run", "forced by --from"))
        elif not node.enabled:
            continue
        elif seen is None:
            steps.append(Step(node.id, "run", f"it did not finish in run {run_id}"))
        elif node.version and node.version not in seen:
            steps.append(Step(node.id, "run", "its code changed"))
        else:
            steps.append(Step(node.id, "reuse", "if its inputs are unchanged"))
    return steps


def describe(steps: list[Step], run_id: str) -> str:
    """The plan as the lines ``run --resume`` prints."""
    reused = sum(step.action == "reuse" for step in steps)
    lines = [f"resuming run {run_id}: {reused} node(s) reused, {len(steps) - reused} run again"]
    width = max((len(step.node_id) for step in steps), default=0)
    for step in steps:
        verb = "reuse" if step.action == "reuse" else "run  "
        lines.append(f"  {verb} {step.node_id:<{width}}  {step.why}")
    return "\n".join(lines)


def cache_options(
    blueprint: Blueprint,
    file: Path,
    search_path: tuple[Path, ...],
    *,
    use_cache: bool | None,
    refresh: tuple[str, ...],
    files: str,
    resume: str | None,
    from_node: str | None,
    journal: bool,
    db: Path | None,
) -> Cache | bool:
    """The ``cache=`` argument of a run for ``atomiton run``'s options; prints the resume plan.

    A recorded run journals every node's value (``journal``) so that it can be resumed.

    Raises:
        click.UsageError: options that do not fit together, or name unknown nodes.
        click.exceptions.Exit: the run to resume is not in the history.
    """
    import click

    from ..runtime.cache import Cache

    if from_node is not None and resume is None:
        raise click.UsageError("--from NODE needs --resume RUN_ID")
    if refresh and use_cache is False:
        raise click.UsageError(
            "--refresh runs a node again in the cache; it cannot go with --no-cache"
        )
    known = {node.id for node in blueprint.nodes}
    unknown = sorted(set(refresh) - known)
    if unknown:
        raise click.UsageError(f"--refresh: no node {', '.join(map(repr, unknown))} in {file.name}")
    serve = bool(refresh) or (blueprint.cache if use_cache is None else use_cache)
    run_id = None
    forced: set[str] = set()
    if resume is not None:
        run_id = _resolve_run(resume, db)
        if from_node is not None:
            forced = _forced(file, search_path, from_node)
        _print_plan(blueprint, run_id, forced, db)
    if not (serve or run_id or journal):
        return False
    return Cache(
        db=db,
        files="content" if files == "content" else "stat",
        refresh=refresh,
        serve=serve,
        resume=run_id,
        force=tuple(sorted(forced)),
        journal=journal,
    )


def _resolve_run(run_id: str, db: Path | None) -> str:
    """The full id of the recorded run ``run_id`` (a prefix will do)."""
    import click

    from ..store import AmbiguousRunId, RunStore, StoreError, default_db_path

    path = db if db is not None else default_db_path()
    full = None
    if path.exists():
        try:
            with RunStore.open(path) as store:
                full = store.resolve(run_id)
        except AmbiguousRunId as exc:
            raise click.UsageError(f"--resume: {exc}") from None
        except StoreError as exc:
            click.echo(f"error: {exc}", err=True)
            raise click.exceptions.Exit(1) from None
    if full is None:
        click.echo(f"error: --resume: no run {run_id!r} in {path}", err=True)
        raise click.exceptions.Exit(1)
    return full


def _forced(file: Path, search_path: tuple[Path, ...], from_node: str) -> set[str]:
    """``--from NODE``: the node and everything downstream of it."""
    import click

    from ..compiler import load_graph
    from ..errors import BlueprintError
    from .params import compile_options

    try:
        graph = load_graph(file, options=compile_options(search_path))
    except BlueprintError:  # the run's own compile reported it already; cannot happen here
        raise click.exceptions.Exit(1) from None
    try:
        return downstream(graph, from_node)
    except KeyError:
        raise click.UsageError(f"--from: no node {from_node!r} in {file.name}") from None


def _print_plan(blueprint: Blueprint, run_id: str, forced: set[str], db: Path | None) -> None:
    import click

    from ..store.cache_store import CacheStore

    store = CacheStore.open(db)
    try:
        steps = plan(blueprint, store, run_id, forced)
    finally:
        store.close()
    click.echo(describe(steps, run_id), err=True)


def note_resumed(db: Path, run_id: str, resumed: str, reporter: Reporter) -> None:
    """Write on run ``run_id``'s record that it resumed run ``resumed``."""
    from ..store import RunStore, StoreError

    try:
        with RunStore.open(db) as store:
            store.mark_resumed(run_id, resumed)
    except StoreError as exc:
        reporter.warning(f"the run's record does not say which run it resumed: {exc}")
