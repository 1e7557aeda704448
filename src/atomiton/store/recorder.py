"""Recording runs: ``RunRecorder``, the hook that writes a run's record into the history, and
``run_recorded``, which runs a compiled module with one and records its inputs and outputs too.

The hook does almost nothing on the run's threads: it appends each event to a deque. A writer
thread of the recorder drains the deque every ``flush_interval`` seconds (and at once when a run
ends) and writes each batch in one transaction: the run's row, its nodes' states and its event
stream as JSON lines (the shape ``atomiton run --events`` writes). While a run goes on the writer
also refreshes the run's heartbeat, so that a process killed outright leaves a run that the next
opening of the store marks ``interrupted`` (``runstore.settle_dead_runs``).

The writer is not a daemon: the interpreter waits for it at exit, and it leaves as soon as the
main thread has ended and the deque is drained, so nothing an ended run reported is lost. It also
leaves after ``linger`` idle seconds, and starts again with the next event. A recorder that
cannot open its database never fails a run: it drops the events and keeps the error in ``error``.

The recorder ``wants_values``: each ``NodeCompleted`` carries the node's value, which the writer
stores with the node by the value rules (``values.py``: JSON, blobs, the size cap), never in the
event stream. A node's inputs are the outputs of the nodes upstream of it, so they are not
stored twice. The run's own inputs and outputs are recorded through ``inputs=`` and
``record_outputs``. The rows the events are folded into, and the batch's SQL, are
``record_rows``'s.
"""

from __future__ import annotations

import json
import math
import os
import socket
import sqlite3
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Any, Final

from .. import __version__
from ..runtime.events import (
    Event,
    ExecutionCancelled,
    ExecutionCompleted,
    ExecutionFailed,
    ExecutionStarted,
    NodeCompleted,
    NodeEvent,
)
from ..runtime.execution import active_runs
from ..runtime.model import Blueprint
from .record_rows import BatchWrites, NodeRow, RunRecord, apply_node_event, event_dict
from .records import RunStatus
from .runstore import HEARTBEAT, RunStore, settle_dead_runs
from .schema import StoreError, connect, default_db_path
from .values import INLINE_LIMIT, VALUE_CAP, Encoded, encode

_ENDS: Final = (ExecutionCompleted, ExecutionFailed, ExecutionCancelled)
# A node's text value as ``values.encode`` writes it.
_TEXT_ENCODER: Final = json.JSONEncoder(ensure_ascii=False, allow_nan=False)

_UNSET: Final[Any] = object()


@dataclass
class _Outputs:
    run_id: str
    value: object


class RunRecorder:
    """A hook that records every run it sees into the run history at ``db``.

    Args:
        db: the database file, or an open ``RunStore`` (its file is used); None: the project's
            default (``schema.default_db_path``).
        blueprint: the module's ``BLUEPRINT``; without it the recorder finds the blueprint of
            each run among the running flows and loaded modules.
        inputs: the run's inputs, recorded with every run this recorder sees (meant for a
            recorder made for one run, as ``atomiton run`` and ``run_recorded`` do).
        path: the blueprint file the run comes from, to show errors at ``file:line:col``.
        inline_limit: values whose JSON is longer go to a blob.
        value_cap: values larger than this are not stored (a marker with type and size).
        flush_interval: the most seconds an event waits before it is written.
        linger: idle seconds before the writer thread leaves (it starts again when needed).

    Use it as a context manager (or call ``close``) to wait until everything is written.
    """

    # Each node's value rides on its NodeCompleted, to be stored with the node.
    wants_values = True

    def __init__(
        self,
        db: str | os.PathLike[str] | RunStore | None = None,
        *,
        blueprint: Blueprint | None = None,
        inputs: object = _UNSET,
        path: str | os.PathLike[str] | None = None,
        inline_limit: int = INLINE_LIMIT,
        value_cap: int = VALUE_CAP,
        flush_interval: float = 0.05,
        linger: float = 1.0,
    ) -> None:
        if isinstance(db, RunStore):
            self.db_path = db.path
        else:
            self.db_path = Path(db) if db is not None else default_db_path()
        self.blueprint = blueprint
        self.inputs = inputs
        self.source_path = None if path is None else str(Path(path).absolute())
        self.inline_limit = inline_limit
        self.value_cap = value_cap
        self.flush_interval = flush_interval
        self.linger = linger
        self.run_ids: list[str] = []  # every run seen, in the order they started
        self.error: StoreError | None = None  # why records were lost, if they were
        self._pending: deque[object] = deque()
        self._guard = threading.Lock()
        self._wake = threading.Event()
        self._writer: threading.Thread | None = None
        self._conn: sqlite3.Connection | None = None
        self._runs: dict[str, RunRecord] = {}  # writer thread only
        self._abandoned: set[str] = set()  # runs recorded as interrupted while still going
        self._host = socket.gethostname()
        self._closing = False

    # -- the hook, on the run's threads -------------------------------------------------------

    def on_event(self, *, event: Event) -> None:
        """Queue one event of a run for the writer (the ``Hooks`` protocol)."""
        self._pending.append(event)
        if type(event) is ExecutionStarted:
            self.run_ids.append(event.run_id)  # the writer needs no wake-up: it polls
        elif type(event) in _ENDS:
            self._wake.set()
        if self._writer is None:
            self._start_writer()

    def record_outputs(self, run_id: str, outputs: object) -> None:
        """Record the outputs of run ``run_id`` (a pydantic model or any value)."""
        self._pending.append(_Outputs(run_id, outputs))
        self._wake.set()
        if self._writer is None:
            self._start_writer()

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every event queued so far is written; False if ``timeout`` ran out."""
        done = threading.Event()
        self._pending.append(done)
        self._wake.set()
        if self._writer is None:
            self._start_writer()
        return done.wait(timeout)

    def close(self) -> None:
        """Write everything queued, stop the writer and close the database connection."""
        self.flush()
        with self._guard:
            writer = self._writer
        if writer is not None:
            self._closing = True
            self._wake.set()
            writer.join()
        self._closing = False
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> RunRecorder:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- the writer thread --------------------------------------------------------------------

    def _lost(self, error: StoreError) -> None:
        """Keep the first reason records were lost (later ones are mostly its consequences)."""
        if self.error is None:
            self.error = error

    def _start_writer(self) -> None:
        with self._guard:
            if self._writer is not None:
                return
            self._writer = threading.Thread(
                target=self._work, name="atomiton-recorder", daemon=False
            )
            self._writer.start()

    def _work(self) -> None:
        try:
            self._loop()
        except Exception as exc:  # a bug here must lose records, never hang a flush or a run
            self._lost(StoreError(f"recording stopped: {type(exc).__name__}: {exc}"))
            with self._guard:
                self._writer = None
            while self._pending:
                item = self._pending.popleft()
                if isinstance(item, threading.Event):
                    item.set()

    def _loop(self) -> None:
        idle_since = time.monotonic()
        beat = time.monotonic()
        main = threading.main_thread()
        while True:
            self._wake.wait(self.flush_interval)
            self._wake.clear()
            if self._pending:
                self._write_batch()
                idle_since = time.monotonic()
            now = time.monotonic()
            if self._runs and now - beat >= HEARTBEAT:
                beat = now
                self._heartbeat()
            if self._pending:
                continue
            leaving = self._closing or not main.is_alive()
            if leaving and self._runs:
                # Closed, or the program ended, while a run went on (in a daemon thread, say):
                # its record ends here rather than stay ``running``.
                self._abandon("interrupted")
            if self._runs:
                continue
            if leaving or now - idle_since >= self.linger:
                with self._guard:
                    if self._pending:
                        continue  # an event arrived after the check above: not idle after all
                    self._writer = None
                # An event queued between that check and this thread's leaving saw a writer
                # and started none: start one for it.
                if self._pending and not self._closing:
                    self._start_writer()
                return

    def _connection(self) -> sqlite3.Connection | None:
        if self._conn is None and self.error is None:
            try:
                self._conn = connect(self.db_path)
                settle_dead_runs(self._conn)
            except StoreError as exc:
                self._lost(exc)
            except sqlite3.Error as exc:
                self._lost(StoreError(f"cannot use the run history {self.db_path}: {exc}"))
        return self._conn

    def _write_batch(self) -> None:
        batch: list[object] = []
        pending = self._pending
        while pending and len(batch) < 20_000:
            batch.append(pending.popleft())
        waiting = [item for item in batch if isinstance(item, threading.Event)]
        try:
            conn = self._connection()
            if conn is not None:
                self._write(conn, batch)
        finally:  # whatever happened, a flush waiting for this batch is answered
            for done in waiting:
                done.set()

    def _write(self, conn: sqlite3.Connection, batch: list[object]) -> None:
        writes = BatchWrites()
        try:
            for item in batch:
                if isinstance(item, Event):
                    self._note(item, writes)
                elif isinstance(item, _Outputs):
                    writes.outputs.append((item.run_id, self._encode(item.value)))
            conn.execute("BEGIN IMMEDIATE")
            writes.apply(conn, self._runs, time.time())
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            self._lost(StoreError(f"cannot write the run history {self.db_path}: {exc}"))
        finally:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            for run_id in writes.ended:
                self._runs.pop(run_id, None)

    def _encode(self, value: object) -> Encoded:
        # Most nodes produce a number, a flag or a short text: its JSON is written here straight
        # away, the same text ``encode`` gives after its walk (measure, convert, a new encoder).
        kind = type(value)
        text: str | None = None
        if kind is str:
            if len(value) + 2 <= self.value_cap:  # type: ignore[arg-type]
                text = _TEXT_ENCODER.encode(value)
        elif self.value_cap >= 8:  # what ``encode`` counts for a scalar
            if value is None:
                text = "null"
            elif kind is bool:
                text = "true" if value else "false"
            elif kind is int:
                text = int.__repr__(value)
            elif kind is float and math.isfinite(value):  # type: ignore[arg-type]
                text = float.__repr__(value)
        if text is not None and len(text) <= self.inline_limit:
            return Encoded(text, ())
        return encode(value, inline_limit=self.inline_limit, cap=self.value_cap)

    def _note(self, event: Event, writes: BatchWrites) -> None:
        """Fold one event into the run's state and the batch's writes."""
        run = self._runs.get(event.run_id)
        if run is None:
            if event.run_id in self._abandoned:
                return  # its record ended already; a late event must not reopen it
            run = self._begin(event, writes)
        run.seq += 1
        chunk = writes.events.get(event.run_id)
        if chunk is None:
            chunk = writes.events[event.run_id] = (run.seq, [])
        chunk[1].append(event_dict(event))
        if isinstance(event, NodeEvent):
            node = run.nodes.get(event.node_id)
            if node is None:
                node = run.nodes[event.node_id] = NodeRow(event.index, event.node_type)
            apply_node_event(node, event)
            if type(event) is NodeCompleted:
                # Encoded here, on the writer thread: the run's threads only queue the event.
                encoded = self._encode(event.value)
                node.output = encoded.text
                if encoded.blobs:
                    writes.values.append((event.run_id, encoded))
            run.dirty.add(event.node_id)
            writes.touched.add(event.run_id)
        elif isinstance(event, _ENDS):
            run.ended = event.timestamp
            if isinstance(event, ExecutionCompleted):
                run.status = "completed"
            elif isinstance(event, ExecutionCancelled):
                run.status, run.error = "cancelled", event.reason
            else:
                run.status, run.error = "failed", event.error
                run.error_type, run.error_node = event.error_type, event.node_id
            writes.touched.add(event.run_id)
            writes.ended.append(event.run_id)

    def _begin(self, event: Event, writes: BatchWrites) -> RunRecord:
        """Start the record of a run: its row, and its nodes as pending."""
        blueprint = self._find_blueprint(event)
        run = self._runs[event.run_id] = RunRecord(event.run_id, blueprint)
        if blueprint is not None:
            for index, info in enumerate(blueprint.nodes):
                run.nodes[info.id] = NodeRow(
                    index,
                    info.type,
                    state="pending" if info.enabled else "skipped",
                    source=blueprint.where(info),
                    line=info.line,
                    column=info.column,
                    version=info.version or None,
                )
            run.dirty.update(run.nodes)
        inputs = None if self.inputs is _UNSET else self._encode(self.inputs)
        blueprint_id = getattr(event, "blueprint_id", "") or ""
        writes.started.append(
            (
                event.run_id,
                blueprint.id if blueprint is not None else blueprint_id,
                blueprint.name if blueprint is not None else getattr(event, "name", ""),
                blueprint.version if blueprint is not None else "",
                blueprint.source if blueprint is not None else "",
                blueprint.sha256 if blueprint is not None else "",
                self.source_path,
                __version__,
                event.timestamp,
                inputs,
                os.getpid(),
                self._host,
            )
        )
        return run

    def _find_blueprint(self, event: Event) -> Blueprint | None:
        """The blueprint of ``event``'s run: the one given, a running flow's, a loaded module's."""
        blueprint_id = getattr(event, "blueprint_id", None)
        given = self.blueprint
        if given is not None and given.id == blueprint_id:
            return given
        for execution in active_runs():
            if execution.run_id == event.run_id:
                return execution.blueprint
        name = getattr(event, "name", None)
        for module in list(sys.modules.values()):
            found = getattr(module, "__dict__", {}).get("BLUEPRINT")
            if isinstance(found, Blueprint) and found.id == blueprint_id and found.name == name:
                return found
        return None

    def _heartbeat(self) -> None:
        conn = self._connection()
        if conn is None:
            return
        try:
            conn.executemany(
                "UPDATE runs SET heartbeat = ? WHERE id = ? AND status = 'running'",
                [(time.time(), run_id) for run_id in self._runs],
            )
        except sqlite3.Error as exc:
            self._lost(StoreError(f"cannot write the run history {self.db_path}: {exc}"))

    def _abandon(self, status: RunStatus) -> None:
        """End the record of every run still going on (the program is leaving without them)."""
        writes = BatchWrites()
        for run in self._runs.values():
            run.status, run.ended = status, time.time()
            self._abandoned.add(run.run_id)
            writes.touched.add(run.run_id)
            writes.ended.append(run.run_id)
        conn = self._connection()
        if conn is not None:
            try:
                conn.execute("BEGIN IMMEDIATE")
                writes.apply(conn, self._runs, time.time())
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                self._lost(StoreError(f"cannot write the run history {self.db_path}: {exc}"))
        self._runs.clear()


def run_recorded(
    module: ModuleType,
    inputs: object = None,
    *,
    db: str | os.PathLike[str] | RunStore | None = None,
    hooks: object = None,
    **options: Any,
) -> Any:
    """Run a compiled flow module with a ``RunRecorder``, recording its inputs and outputs too.

    ``options`` are ``run``'s own (``concurrency``, ``timeout``, ``cancel``, ...); ``hooks``
    are called besides the recorder. Returns the flow's outputs; the record is written before
    this returns, whether the run succeeded or not.
    """
    run: Callable[..., Any] = module.run
    recorder = RunRecorder(db, blueprint=module.BLUEPRINT, inputs=inputs)
    extra: list[object] = []
    if hooks is not None:
        extra = [hooks] if hasattr(hooks, "on_event") else list(_items(hooks))
    try:
        outputs = run(inputs, hooks=[recorder, *extra], **options)
        if recorder.run_ids:
            recorder.record_outputs(recorder.run_ids[-1], outputs)
        return outputs
    finally:
        recorder.close()


def _items(hooks: object) -> Iterable[object]:
    if isinstance(hooks, Iterable):
        return hooks
    raise TypeError(f"hooks must be a hook or an iterable of hooks, got {hooks!r}")
