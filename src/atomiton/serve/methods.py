"""What each protocol method does: compile, check, run and steer runs, read the history, list
node types, read and write the blueprint store folder, and give the page its view.

``Server`` holds what the methods share (the ``RunBoard``, the history database, the blueprint
folder); ``handlers`` binds them to method names for the ``Dispatcher``. Work that blocks
(compiling, mypy, the disk) runs on a worker thread so the event loop keeps serving other
clients. Message shapes are ``protocol.py``'s.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Final, TypeVar

from ..diagnostics import Diagnostic
from ..errors import BlueprintError
from . import history
from .history import FoundRun
from .protocol import (
    INVALID_PARAMS,
    NOT_FOUND,
    BlueprintItem,
    BlueprintName,
    BlueprintSave,
    BlueprintSaved,
    BlueprintsList,
    BlueprintText,
    CheckParams,
    CheckResult,
    CompileParams,
    CompileResult,
    DiagnosticItem,
    Empty,
    EventsParams,
    EventsResult,
    Message,
    NodesList,
    NodeTypeItem,
    RunAck,
    RunDetailItem,
    RunParams,
    RunRef,
    RunsList,
    RunsListParams,
    RunSummaryItem,
    SubscribeParams,
    Subscribed,
    ViewModel,
    ViewParams,
)
from .rpc import Handler, RpcError, Session
from .runs import RunBoard, compile_graph, graph_or_none
from .view import build_view, fold_events, graph_positions, node_states

T = TypeVar("T")

BLUEPRINT_SUFFIXES: Final = (".yaml", ".yml")


def default_blueprint_folder() -> Path:
    """Where the Atomiton app keeps blueprints: ``~/Atomiton/Blueprints``."""
    return Path.home() / "Atomiton" / "Blueprints"


def diagnostic_items(diagnostics: Iterable[Diagnostic]) -> list[DiagnosticItem]:
    """Diagnostics as protocol objects, with their positions split out."""
    return [
        DiagnosticItem(
            severity=d.severity.value,
            code=d.code,
            message=d.message,
            path=d.span.path if d.span else None,
            line=d.span.line if d.span else 0,
            column=d.span.column if d.span else 0,
            hint=d.hint,
            notes=list(d.notes),
        )
        for d in diagnostics
    ]


@dataclass(frozen=True, slots=True)
class ServeSettings:
    """What a server needs to know: the blueprint folder, the history and the token."""

    blueprints: Path
    db: Path | None = None
    record: bool = True
    token: str | None = None


class Server:
    """The state the methods share: live runs, the history database, the blueprint folder."""

    def __init__(self, board: RunBoard, *, blueprints: Path, db: Path | None) -> None:
        self.board = board
        self.blueprints = blueprints
        self.db = db

    def handlers(self) -> dict[str, Handler]:
        """Method name -> coroutine, one per entry of ``protocol.METHODS``."""
        return {
            "compile": self.compile,
            "check": self.check,
            "run": self.run,
            "cancel": self.cancel,
            "pause": self.pause,
            "resume": self.resume,
            "subscribe": self.subscribe,
            "unsubscribe": self.unsubscribe,
            "runs.list": self.runs_list,
            "runs.get": self.runs_get,
            "runs.events": self.runs_events,
            "nodes.list": self.nodes_list,
            "blueprints.list": self.blueprints_list,
            "blueprints.get": self.blueprints_get,
            "blueprints.save": self.blueprints_save,
            "view.get": self.view_get,
        }

    # --- compile and check ---------------------------------------------------------------

    async def compile(self, session: Session, params: CompileParams) -> Message:
        return await asyncio.to_thread(self._compile, params)

    def _compile(self, params: CompileParams) -> CompileResult:
        from ..cli.params import compile_options
        from ..compiler import compile_blueprint

        path = _existing_file(params.path)
        try:
            compiled = compile_blueprint(path, options=compile_options(_paths(params.searchPath)))
        except BlueprintError as exc:
            return CompileResult(ok=False, diagnostics=diagnostic_items(exc.diagnostics))
        return CompileResult(
            ok=True,
            moduleName=compiled.module_name,
            code=compiled.code,
            diagnostics=diagnostic_items(compiled.warnings),
        )

    async def check(self, session: Session, params: CheckParams) -> Message:
        return await asyncio.to_thread(self._check, params)

    def _check(self, params: CheckParams) -> CheckResult:
        from ..cli.params import compile_options
        from ..compiler import compile_blueprint
        from ..compiler.typecheck import check_types

        path = _existing_file(params.path)
        search_path = _paths(params.searchPath)
        try:
            compiled = compile_blueprint(path, options=compile_options(search_path))
        except BlueprintError as exc:
            return CheckResult(ok=False, diagnostics=diagnostic_items(exc.diagnostics))
        found = list(compiled.warnings)
        if params.types:
            found += check_types([compiled], search_path=search_path)
        return CheckResult(
            ok=not any(d.is_error for d in found), diagnostics=diagnostic_items(found)
        )

    # --- runs ----------------------------------------------------------------------------

    async def run(self, session: Session, params: RunParams) -> Message:
        path = _existing_file(params.path)
        live = await asyncio.to_thread(
            self.board.start,
            path,
            params.inputs,
            concurrency=params.concurrency,
            timeout=params.timeout,
            search_path=_paths(params.searchPath),
        )
        self.board.subscribe(session, live.run_id)
        return RunRef(runId=live.run_id)

    async def cancel(self, session: Session, params: RunRef) -> Message:
        run = self.board.get(params.runId)
        run.control.cancel("cancelled by a client")
        return RunAck(runId=run.run_id, status=run.status)

    async def pause(self, session: Session, params: RunRef) -> Message:
        run = self.board.get(params.runId)
        run.control.pause()
        return RunAck(
            runId=run.run_id, status="paused" if not run.finished.is_set() else run.status
        )

    async def resume(self, session: Session, params: RunRef) -> Message:
        run = self.board.get(params.runId)
        run.control.resume()
        return RunAck(runId=run.run_id, status=run.status)

    async def subscribe(self, session: Session, params: SubscribeParams) -> Message:
        return Subscribed(runIds=self.board.subscribe(session, params.runId))

    async def unsubscribe(self, session: Session, params: SubscribeParams) -> Message:
        return Subscribed(runIds=self.board.unsubscribe(session, params.runId))

    async def runs_list(self, session: Session, params: RunsListParams) -> Message:
        past = await asyncio.to_thread(
            _history,
            history.list_runs,
            self.db,
            blueprint=params.blueprint,
            status=params.status,
            last=params.last,
        )
        merged: dict[str, RunSummaryItem] = {item.runId: item for item in past}
        for run in list(self.board.runs.values()):
            item = run.summary()
            wanted_blueprint = params.blueprint in (None, item.blueprint, run.blueprint_id)
            if wanted_blueprint and params.status in (None, item.status):
                merged[item.runId] = item  # this server's view of its own run is the live one
        runs = sorted(merged.values(), key=lambda i: (i.started or 0.0, i.runId), reverse=True)
        return RunsList(runs=runs[: params.last] if params.last else runs)

    async def runs_get(self, session: Session, params: RunRef) -> Message:
        found = await asyncio.to_thread(self._find_run, params.runId)
        fold = fold_events(found.events)
        graph = found.graph
        positions = graph_positions(graph) if graph is not None else {}
        listed = [(n.id, n.type) for n in graph.nodes] if graph is not None else []
        return RunDetailItem(
            run=found.summary,
            nodes=node_states(fold, listed, positions),
            events=len(found.events),
            progress=fold.progress,
            outputs=found.outputs if isinstance(found.outputs, dict) else None,
        )

    async def runs_events(self, session: Session, params: EventsParams) -> Message:
        found = await asyncio.to_thread(self._find_run, params.runId, False)
        numbered = [
            {"seq": seq, "event": event}
            for seq, event in enumerate(found.events, start=1)
            if seq > params.after
        ]
        return EventsResult(events=numbered)

    def _find_run(self, run_id: str, with_graph: bool = True) -> FoundRun:
        """A run of this server, else of the history."""
        try:
            live = self.board.get(run_id)
        except RpcError:
            live = None
        if live is not None:
            with live.lock:
                events = list(live.events)
                values = dict(live.values)
            return FoundRun(
                live.summary(),
                events,
                live.graph,
                live.inputs,
                live.outputs,
                history.shown(values),
            )
        found = _history(history.get_run, self.db, run_id)
        if found is None:
            raise RpcError(NOT_FOUND, f"no run {run_id!r} on this server or in the history")
        if with_graph:
            found.graph = graph_or_none(found.summary.source)
        return found

    # --- nodes and blueprints ------------------------------------------------------------

    async def nodes_list(self, session: Session, params: Empty) -> Message:
        from ..cli.nodes_cmd import node_summaries

        summaries = await asyncio.to_thread(node_summaries)
        return NodesList(
            nodes=[
                NodeTypeItem(type=name, description=text)
                for name, text in sorted(summaries.items())
            ]
        )

    async def blueprints_list(self, session: Session, params: Empty) -> Message:
        return await asyncio.to_thread(self._blueprints_list)

    def _blueprints_list(self) -> BlueprintsList:
        folder = self.blueprints
        items = []
        if folder.is_dir():
            for path in sorted(folder.rglob("*")):
                if path.suffix in BLUEPRINT_SUFFIXES and path.is_file():
                    stat = path.stat()
                    name = path.relative_to(folder).as_posix()
                    items.append(
                        BlueprintItem(name=name, size=stat.st_size, modified=stat.st_mtime)
                    )
        return BlueprintsList(folder=str(folder), blueprints=items)

    async def blueprints_get(self, session: Session, params: BlueprintName) -> Message:
        path = self._blueprint_path(params.name)
        try:
            text = await asyncio.to_thread(path.read_text, encoding="utf-8")
        except FileNotFoundError:
            raise RpcError(
                NOT_FOUND, f"no blueprint {params.name!r} in {self.blueprints}"
            ) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise RpcError(NOT_FOUND, f"cannot read {params.name!r}: {exc}") from None
        return BlueprintText(name=params.name, text=text)

    async def blueprints_save(self, session: Session, params: BlueprintSave) -> Message:
        from ..runtime.files import atomic_write

        path = self._blueprint_path(params.name)
        try:
            size = await asyncio.to_thread(
                atomic_write, path, params.text.encode("utf-8"), overwrite=params.overwrite
            )
        except FileExistsError:
            raise RpcError(INVALID_PARAMS, f"{params.name!r} exists (overwrite is false)") from None
        except OSError as exc:
            raise RpcError(INVALID_PARAMS, f"cannot write {params.name!r}: {exc}") from None
        return BlueprintSaved(name=params.name, bytes=size)

    def _blueprint_path(self, name: str) -> Path:
        """``name`` inside the blueprint folder; anything that could leave it is refused."""
        relative = PurePosixPath(name)
        if (
            not name
            or "\\" in name
            or "\x00" in name
            or relative.is_absolute()
            or any(part in ("", ".", "..") for part in name.split("/"))
            or relative.suffix not in BLUEPRINT_SUFFIXES
        ):
            raise RpcError(
                INVALID_PARAMS,
                f"invalid blueprint name {name!r}: a relative path inside the blueprint folder "
                "ending in .yaml or .yml, without '..'",
            )
        return self.blueprints.joinpath(*relative.parts)

    # --- the view ------------------------------------------------------------------------

    async def view_get(self, session: Session, params: ViewParams) -> Message:
        return await asyncio.to_thread(self._view, params)

    def _view(self, params: ViewParams) -> ViewModel:
        if params.runId is not None:
            found = self._find_run(params.runId)
            return build_view(
                found.graph,
                found.events,
                found.summary,
                inputs=found.inputs,
                outputs=found.outputs,
                values=found.values,
            )
        if params.path is None:
            raise RpcError(INVALID_PARAMS, "view.get needs a runId or a path")
        graph = compile_graph(_existing_file(params.path))
        return build_view(graph, [], None)


def _history(read: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """A read of the run history, its failures (a newer schema, an ambiguous id) as errors."""
    from ..store import StoreError

    try:
        return read(*args, **kwargs)
    except StoreError as exc:
        raise RpcError(NOT_FOUND, f"the run history cannot answer: {exc}") from None


def _existing_file(name: str) -> Path:
    path = Path(name)
    if not path.is_file():
        raise RpcError(NOT_FOUND, f"no blueprint file {name!r} (from {os.getcwd()})")
    return path


def _paths(names: list[str]) -> tuple[Path, ...]:
    return tuple(Path(name) for name in names)
