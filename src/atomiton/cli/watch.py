"""Watching a run from the command line: the live progress bar, the JSON event log and the list of
nodes that never ran.

``RunWatcher`` is the run's hook: it turns the runtime's typed events into those three things. The
runtime calls hooks from its own threads, so state is guarded by a lock; rich's progress display
refreshes from a thread of its own and only on a terminal.
"""

from __future__ import annotations

import json
import threading
from types import TracebackType
from typing import IO, TYPE_CHECKING

from ..runtime import (
    Event,
    ExecutionProgress,
    NodeCompleted,
    NodeFailed,
    NodeSkipped,
    NodeStarted,
    event_to_dict,
)
from ..errors import CancelledError
from .report import Reporter

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID


class RunWatcher:
    """The CLI's hook: a progress bar on a terminal, JSON lines to ``events``, skipped nodes.

    Use it as a context manager around the run, so the progress display is started and stopped
    in the main thread.
    """

    def __init__(self, title: str, *, console: Console, events: IO[str] | None = None) -> None:
        self.title = title
        self.console = console
        self.events = events
        self.skipped: list[str] = []
        self.stopped: list[str] = []  # running when the run was cancelled
        self._running: dict[str, None] = {}  # insertion-ordered set of running node ids
        self._lock = threading.Lock()
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def __enter__(self) -> RunWatcher:
        if self.console.is_terminal:
            # Imported here: a run whose stderr is not a terminal never draws a bar.
            from rich.progress import (
                BarColumn,
                Progress,
                SpinnerColumn,
                TaskProgressColumn,
                TextColumn,
                TimeElapsedColumn,
            )

            self._progress = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}", markup=False),
                BarColumn(),
                TaskProgressColumn(),
                TimeElapsedColumn(),
                console=self.console,
                transient=True,
            )
            self._task = self._progress.add_task(self.title, total=100.0)
            self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
        if self.events is not None:
            self.events.flush()

    def on_event(self, *, event: Event) -> None:
        """Receive one event of the run (the runtime's ``Hooks`` protocol)."""
        with self._lock:
            if self.events is not None:
                line = json.dumps(event_to_dict(event), ensure_ascii=False, default=str)
                self.events.write(line + "\n")
                self.events.flush()
            if isinstance(event, NodeStarted):
                self._running[event.node_id] = None
            elif isinstance(event, NodeCompleted):
                self._running.pop(event.node_id, None)
            elif isinstance(event, NodeFailed):
                self._running.pop(event.node_id, None)
                if event.error_type == CancelledError.__name__:
                    self.stopped.append(event.node_id)
            elif isinstance(event, NodeSkipped):
                self._running.pop(event.node_id, None)
                if event.node_id not in self.skipped:
                    self.skipped.append(event.node_id)
            self._show(event)

    def _show(self, event: Event) -> None:
        if self._progress is None or self._task is None:
            return
        running = ", ".join(self._running)
        description = f"{self.title} [{running}]" if running else self.title
        if isinstance(event, ExecutionProgress):
            self._progress.update(self._task, completed=event.percent, description=description)
        else:
            self._progress.update(self._task, description=description)

    def report_skipped(self, reporter: Reporter) -> None:
        """Say which nodes were stopped and which did not run (after a failure or a cancel)."""
        with self._lock:
            stopped = [*self.stopped, *self._running]
        if stopped:
            noun = "node" if len(stopped) == 1 else "nodes"
            reporter.info(f"stopped {len(stopped)} running {noun}: {', '.join(stopped)}")
        if self.skipped:
            count = len(self.skipped)
            noun = "node" if count == 1 else "nodes"
            reporter.info(f"skipped {count} {noun} that had not run: {', '.join(self.skipped)}")
