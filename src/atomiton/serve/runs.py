"""The runs a server started: compile, start on a worker thread, fan events out to sessions.

``RunBoard`` owns the live runs of one server: each runs on its own thread with a ``RunControl``
(cancel, pause, resume) and a hook that numbers its events, keeps them, and hands each to the
event loop, which sends it to the sessions following that run. A session that subscribes late
gets the events so far, then the live ones, each once and in order (``Session.sent`` remembers
the last number sent per run). A session going away changes nothing for the run. Recording into
the run history is the store's ``RunRecorder`` (``history.py``); what a run's events mean for the
page is ``view.py``'s.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Final

from pydantic import BaseModel, ValidationError

from ..compiler.ir import Graph
from ..errors import AtomitonError, BlueprintError
from ..runtime import RunControl
from ..runtime.events import Event, NodeCompleted, event_to_dict
from . import history
from .protocol import NOT_FOUND, RUN_REFUSED, RunEventNote, RunSummaryItem
from .rpc import RpcError, Session

# How long ``start`` waits for a run's first event before calling the start a failure.
_START_TIMEOUT: Final = 30.0

# How long shutdown waits for cancelled runs to wind down (running programs are killed sooner).
SHUTDOWN_GRACE: Final = 20.0

_FINAL_STATUS: Final = {
    "execution.completed": "completed",
    "execution.failed": "failed",
    "execution.cancelled": "cancelled",
}


@dataclass(eq=False)
class LiveRun:
    """One run of this server: its events so far and how to steer it."""

    path: Path
    module: ModuleType
    graph: Graph
    control: RunControl
    run_id: str = ""
    status: str = "starting"
    started: float = 0.0
    ended: float | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    inputs: dict[str, Any] | None = None
    outputs: dict[str, Any] | None = None
    # Node id -> the value it produced (kept as it is; encoded only when a client asks).
    values: dict[str, object] = field(default_factory=dict)
    error: str | None = None
    # The final event (number, JSON), held back until the run's thread has finished.
    final: tuple[int, dict[str, Any]] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    first_event: threading.Event = field(default_factory=threading.Event)
    finished: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    @property
    def blueprint_id(self) -> str:
        return str(self.module.BLUEPRINT.id)

    @property
    def blueprint_name(self) -> str:
        blueprint = self.module.BLUEPRINT
        return str(blueprint.name or blueprint.id)

    def summary(self) -> RunSummaryItem:
        end = self.ended
        return RunSummaryItem(
            runId=self.run_id,
            blueprint=self.blueprint_name,
            status=self.status,
            started=self.started,
            ended=end,
            duration=None if end is None else end - self.started,
            source=str(self.path),
        )


class _BoardHook:
    """The hook a server attaches to each of its runs (called from the run's threads)."""

    wants_trace = False
    # Each NodeCompleted carries the node's value, for the page's node details.
    wants_values = True

    def __init__(self, board: RunBoard, run: LiveRun) -> None:
        self.board = board
        self.run = run

    def on_event(self, *, event: Event) -> None:
        run = self.run
        data = event_to_dict(event)
        with run.lock:
            if type(event) is NodeCompleted:
                # Kept as it is (not JSON in general): encoded only when a client asks.
                run.values[event.node_id] = event.value
            if not run.run_id:
                run.run_id = event.run_id
                run.started = event.timestamp
                run.status = "running"
            run.events.append(data)
            seq = len(run.events)
            final = _FINAL_STATUS.get(event.kind)
            if final is not None:
                run.status = final
                run.ended = event.timestamp
                # Sent once the outputs are kept and the history written (see ``start``), so a
                # client that sees the run end can read all of it at once.
                run.final = (seq, data)
            else:
                # Scheduled under the lock, so the loop sends a run's events in order.
                self.board.post(self.board.deliver, run, seq, data)
        if seq == 1:
            self.board.register(run)
            run.first_event.set()


class RunBoard:
    """The live runs of one server and the sessions that follow them."""

    def __init__(self, *, db: Path | None = None, record: bool = True) -> None:
        self.loop = asyncio.get_running_loop()
        self.runs: dict[str, LiveRun] = {}
        self.sessions: set[Session] = set()
        self.db = db
        self.record = record
        self._lock = threading.Lock()

    # --- starting and steering -----------------------------------------------------------

    def start(
        self,
        path: Path,
        inputs: Mapping[str, Any],
        *,
        concurrency: int | None,
        timeout: float | None,
        search_path: tuple[Path, ...] = (),
    ) -> LiveRun:
        """Compile ``path``, start it on a thread, return once its first event is out.

        Blocking: call it from a worker thread, not the event loop.

        Raises:
            RpcError: the blueprint has errors, the inputs do not fit, or the run failed to start.
        """
        module, graph = compile_module(path, search_path)
        try:
            model = module.Inputs.model_validate(dict(inputs))
        except ValidationError as exc:
            problems = [
                {"loc": ".".join(str(p) for p in e["loc"]), "msg": e["msg"]} for e in exc.errors()
            ]
            raise RpcError(RUN_REFUSED, "the inputs do not fit the flow", problems) from None
        run = LiveRun(path=path, module=module, graph=graph, control=RunControl())
        run.inputs = model.model_dump(mode="json")
        hooks: list[object] = [_BoardHook(self, run)]
        recorder = history.recorder(self.db, module.BLUEPRINT, model, path) if self.record else None
        if recorder is not None:
            hooks.append(recorder)

        def body() -> None:
            outputs: BaseModel | None = None
            try:
                outputs = module.run(
                    model,
                    hooks=hooks,
                    concurrency=concurrency,
                    timeout=timeout,
                    cancel=run.control,
                )
                run.outputs = outputs.model_dump(mode="json")
            except (AtomitonError, BaseExceptionGroup) as exc:
                run.error = str(exc)
            except Exception as exc:  # the run's own report (execution.failed) says the rest
                run.error = f"{type(exc).__name__}: {exc}"
            finally:
                try:
                    history.finish(recorder, outputs)
                finally:
                    run.finished.set()
                    run.first_event.set()
                    if run.final is not None:
                        self.post(self.deliver, run, *run.final)
                    self.post(self._finished, run)

        run.thread = threading.Thread(target=body, name=f"atomiton-serve-{path.stem}", daemon=True)
        run.thread.start()
        if not run.first_event.wait(_START_TIMEOUT) or not run.run_id:
            raise RpcError(RUN_REFUSED, f"the run did not start: {run.error or 'no event'}")
        return run

    def post(self, callback: Callable[..., None], *args: object) -> None:
        """Call ``callback(*args)`` on the event loop's thread (dropped once the loop closed)."""
        try:
            self.loop.call_soon_threadsafe(callback, *args)
        except RuntimeError:
            pass  # the server is gone; the run still ends and its recorder still writes

    def get(self, run_id: str) -> LiveRun:
        """The live run ``run_id`` (a unique prefix will do).

        Raises:
            RpcError: no run of this server has that id.
        """
        with self._lock:
            run = self.runs.get(run_id)
            if run is None:
                matches = [r for key, r in self.runs.items() if key.startswith(run_id)]
                run = matches[0] if len(matches) == 1 and run_id else None
        if run is None:
            raise RpcError(NOT_FOUND, f"no run {run_id!r} on this server")
        return run

    def register(self, run: LiveRun) -> None:
        with self._lock:
            self.runs[run.run_id] = run

    def cancel_all(self, reason: str) -> list[LiveRun]:
        """Cancel every unfinished run; return them (the caller waits on ``finished``)."""
        with self._lock:
            pending = [run for run in self.runs.values() if not run.finished.is_set()]
        for run in pending:
            run.control.cancel(reason)
        return pending

    def wait_all(self, timeout: float | None) -> bool:
        """Wait until every run finished; False if some still run after ``timeout`` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            runs = list(self.runs.values())
        for run in runs:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not run.finished.wait(left):
                return False
        return True

    async def shut_down(self, grace: float) -> None:
        """Cancel every unfinished run and wait (up to ``grace`` seconds) for each to end, so
        the history records it as cancelled."""
        pending = self.cancel_all("the server is shutting down")
        if pending:
            print(f"cancelling {len(pending)} run(s)", file=sys.stderr, flush=True)
            await asyncio.to_thread(self.wait_all, grace)

    async def drain(self, timeout: float) -> None:
        """Give the sessions up to ``timeout`` seconds to send what they have queued."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and any(s.outbox.qsize() for s in self.sessions):
            await asyncio.sleep(0.01)

    # --- events to sessions (on the loop's thread) ---------------------------------------

    def attach(self, session: Session) -> None:
        self.sessions.add(session)

    def detach(self, session: Session) -> None:
        self.sessions.discard(session)
        session.close()

    def subscribe(self, session: Session, run_id: str | None) -> list[str]:
        """Follow one run or all; send the events so far first. Returns the runs replayed."""
        if run_id is None:
            session.follows_all = True
            with self._lock:
                runs = list(self.runs.values())
        else:
            runs = [self.get(run_id)]
            session.follows.add(runs[0].run_id)
        for run in runs:
            with run.lock:
                backlog = list(run.events)
            if run.final is not None and not run.finished.is_set():
                backlog.pop()  # the final event goes out when the run's thread is done
            self._replay(session, run, backlog)
        return [run.run_id for run in runs]

    def unsubscribe(self, session: Session, run_id: str | None) -> list[str]:
        if run_id is None:
            session.follows_all = False
            gone = sorted(session.follows)
            session.follows.clear()
            return gone
        run = self.get(run_id)
        session.follows.discard(run.run_id)
        return [run.run_id]

    def _replay(self, session: Session, run: LiveRun, backlog: list[dict[str, Any]]) -> None:
        sent = session.sent.get(run.run_id, 0)
        for seq, data in enumerate(backlog[sent:], start=sent + 1):
            session.notify("run.event", RunEventNote(runId=run.run_id, seq=seq, event=data))
        session.sent[run.run_id] = max(sent, len(backlog))

    def deliver(self, run: LiveRun, seq: int, data: dict[str, Any]) -> None:
        """Send event ``seq`` of ``run`` to each session following it that lacks it."""
        note: RunEventNote | None = None
        for session in self.sessions:
            if not (session.follows_all or run.run_id in session.follows):
                continue
            if session.sent.get(run.run_id, 0) >= seq:
                continue  # already sent in a late subscriber's backlog
            note = note or RunEventNote(runId=run.run_id, seq=seq, event=data)
            session.notify("run.event", note)
            session.sent[run.run_id] = seq

    def _finished(self, run: LiveRun) -> None:
        if run.run_id and run.status in ("starting", "running"):
            run.status = "failed"  # ended without a final event (a crash in the runtime)


def compile_module(path: Path, search_path: tuple[Path, ...] = ()) -> tuple[ModuleType, Graph]:
    """Compile ``path``; the module loaded in memory, and the graph it was made from.

    Raises:
        RpcError: the file is missing (NOT_FOUND) or the blueprint has errors (RUN_REFUSED,
            with ``data.diagnostics``).
    """
    from ..cli.params import compile_options
    from ..compiler import compile_blueprint, load_module

    if not path.is_file():
        raise RpcError(NOT_FOUND, f"no blueprint file {str(path)!r}")
    # python nodes import their functions from the working folder, as ``atomiton run`` does.
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        compiled = compile_blueprint(path, options=compile_options(search_path))
    except BlueprintError as exc:
        raise _refused(exc) from None
    return load_module(compiled), compiled.graph


def compile_graph(path: Path, search_path: tuple[Path, ...] = ()) -> Graph:
    """The checked graph of ``path`` (no code generated), for the view.

    Raises:
        RpcError: as ``compile_module``.
    """
    from ..cli.params import compile_options
    from ..compiler import load_graph

    try:
        return load_graph(path, options=compile_options(search_path))
    except BlueprintError as exc:
        raise _refused(exc) from None


def graph_or_none(source: str | None) -> Graph | None:
    """The graph of a recorded run's blueprint if its file is still there and compiles."""
    if not source or not Path(source).is_file():
        return None
    try:
        return compile_graph(Path(source))
    except RpcError:
        return None


def _refused(exc: BlueprintError) -> RpcError:
    from .methods import diagnostic_items

    items = [d.model_dump(mode="json") for d in diagnostic_items(exc.diagnostics)]
    return RpcError(RUN_REFUSED, "the blueprint has errors", {"diagnostics": items})
