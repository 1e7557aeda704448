"""Traces of runs: per-node start, end, duration and attempts, plus the critical path.

``TraceBuilder`` collects timings while a run goes on (only when a trace was asked for);
``Trace`` is the frozen result, delivered on the run's final event and kept by ``TraceRecorder``
(a hook) or ``RunControl.last_trace``. Times are seconds since the run started.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from .events import Event, ExecutionCancelled, ExecutionCompleted, ExecutionFailed
from .model import Blueprint


@dataclass(frozen=True, slots=True)
class NodeTrace:
    """What one node did during a run.

    Attributes:
        index: the node's index in ``Blueprint.nodes``.
        node_id: its id.
        status: ``completed``, ``failed``, ``skipped`` or ``running`` (it never finished).
        start: seconds after the run started when it first started (None: never started).
        end: seconds after the run started when it last finished (None: never finished).
        attempts: how many attempts its calls took in total.
        runs: how many times it ran (more than one inside a loop body).
        task: index of the task it ran in, when known.
    """

    index: int
    node_id: str
    status: str
    start: float | None
    end: float | None
    attempts: int = 0
    runs: int = 0
    task: int | None = None

    @property
    def duration(self) -> float | None:
        """``end - start``, or None when it did not both start and end."""
        if self.start is None or self.end is None:
            return None
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class Trace:
    """The timings of one run.

    Attributes:
        blueprint_id: the blueprint run.
        run_id: the run's id (as on its events).
        started_at: when the run started, seconds since the epoch.
        duration: how long the run took, in seconds.
        nodes: one entry per node of the blueprint, in blueprint order.
        critical_path: node ids of the chain of dependent nodes that ended last, first to last:
            the nodes whose speed decided the run's duration.
    """

    blueprint_id: str
    run_id: str
    started_at: float
    duration: float
    nodes: tuple[NodeTrace, ...]
    critical_path: tuple[str, ...]

    def node(self, node_id: str) -> NodeTrace:
        """The entry of ``node_id``.

        Raises:
            KeyError: no such node.
        """
        for entry in self.nodes:
            if entry.node_id == node_id:
                return entry
        raise KeyError(node_id)

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dict of the trace."""
        return {
            "blueprint_id": self.blueprint_id,
            "run_id": self.run_id,
            "started_at": self.started_at,
            "duration": self.duration,
            "critical_path": list(self.critical_path),
            "nodes": [
                {
                    "index": n.index,
                    "node_id": n.node_id,
                    "status": n.status,
                    "start": n.start,
                    "end": n.end,
                    "duration": n.duration,
                    "attempts": n.attempts,
                    "runs": n.runs,
                    "task": n.task,
                }
                for n in self.nodes
            ],
        }


class TraceBuilder:
    """Collects node timings of one run; every method is thread-safe."""

    __slots__ = (
        "_lock",
        "_t0",
        "_wall0",
        "_start",
        "_end",
        "_attempts",
        "_runs",
        "_status",
        "_task",
        "task_after",
        "local",
    )

    def __init__(self, size: int) -> None:
        self._lock = threading.Lock()
        self._t0 = time.perf_counter()
        self._wall0 = time.time()
        self._start: list[float | None] = [None] * size
        self._end: list[float | None] = [None] * size
        self._attempts = [0] * size
        self._runs = [0] * size
        self._status = ["skipped"] * size
        self._task: list[int | None] = [None] * size
        # Task dependencies of the last ``run_tasks``, and the thread's current task index.
        self.task_after: Sequence[tuple[int, ...]] = ()
        self.local = threading.local()

    def started(self, i: int) -> None:
        """Node ``i`` began (its first attempt)."""
        now = time.perf_counter() - self._t0
        task = getattr(self.local, "task", None)
        with self._lock:
            if self._start[i] is None:
                self._start[i] = now
                self._task[i] = task
            self._status[i] = "running"
            self._runs[i] += 1

    def attempt(self, i: int) -> None:
        """Node ``i`` made one more attempt."""
        with self._lock:
            self._attempts[i] += 1

    def ended(self, i: int, status: str) -> None:
        """Node ``i`` finished with ``status`` (completed, failed, skipped)."""
        now = time.perf_counter() - self._t0
        with self._lock:
            self._end[i] = now
            self._status[i] = status
            if self._attempts[i] == 0 and status != "skipped":
                self._attempts[i] = 1

    def build(self, blueprint: Blueprint, run_id: str) -> Trace:
        """The finished trace, with its critical path."""
        duration = time.perf_counter() - self._t0
        with self._lock:
            nodes = tuple(
                NodeTrace(
                    index=i,
                    node_id=info.id,
                    status=self._status[i],
                    start=self._start[i],
                    end=self._end[i],
                    attempts=self._attempts[i],
                    runs=self._runs[i],
                    task=self._task[i],
                )
                for i, info in enumerate(blueprint.nodes)
            )
        path = critical_path(nodes, self.task_after)
        return Trace(blueprint.id, run_id, self._wall0, duration, nodes, path)


def critical_path(
    nodes: Sequence[NodeTrace], task_after: Sequence[tuple[int, ...]] = ()
) -> tuple[str, ...]:
    """The chain of nodes that ended last, following each node back to what held it up.

    The path ends at the node that finished last. A node's predecessor is the node that ended
    last before it started, among the nodes of its own task and of the tasks it waited for (all
    nodes when its task is unknown). This reads the real schedule, so it also shows when a node
    waited for a free worker rather than for data.

    Args:
        nodes: the node entries of a trace.
        task_after: each task's dependencies, by task index.

    Returns:
        Node ids, first to last.
    """
    done = [n for n in nodes if n.start is not None and n.end is not None]
    if not done:
        return ()
    current = max(done, key=lambda n: (n.end, n.index))
    path = [current]
    seen = {current.index}
    while True:
        assert current.start is not None
        allowed: set[int | None] | None = None
        if current.task is not None and current.task < len(task_after):
            allowed = {current.task, *task_after[current.task]}
        candidates = [
            n
            for n in done
            if n.index not in seen
            and n.end is not None
            and n.end <= current.start
            and (allowed is None or n.task in allowed)
        ]
        if not candidates:
            break
        current = max(candidates, key=lambda n: (n.end or 0.0, n.index))
        seen.add(current.index)
        path.append(current)
    return tuple(n.node_id for n in reversed(path))


class TraceRecorder:
    """A hook that asks for a trace and keeps the last one (``recorder.trace``).

    Example::

        recorder = TraceRecorder()
        flow.run(inputs, hooks=recorder)
        print(recorder.trace.critical_path)
    """

    wants_trace = True
    # Only the final events carry the trace: a traced run builds no per-node event for this hook.
    event_types = (ExecutionCompleted, ExecutionFailed, ExecutionCancelled)

    def __init__(self) -> None:
        self.trace: Trace | None = None
        self.traces: list[Trace] = []
        self._lock = threading.Lock()

    def on_event(self, *, event: Event) -> None:
        """Keep the trace carried by a run's final event."""
        if isinstance(event, (ExecutionCompleted, ExecutionFailed, ExecutionCancelled)):
            if event.trace is not None:
                with self._lock:
                    self.trace = event.trace
                    self.traces.append(event.trace)
