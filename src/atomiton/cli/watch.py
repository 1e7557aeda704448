"""Watching a run from the command line: the live progress bar, the JSON event log and the list of
nodes that never ran.

``RunWatcher`` turns the runtime's typed events into those three things. Hooks are called from
worker threads, so everything here is guarded by a lock; rich's progress display is refreshed
from its own thread.
"""

from __future__ import annotations

import json
import threading
from types import TracebackType
from typing import IO, Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)

from .report import Reporter


class RunWatcher:
    """Receives a run's events; shows progress on a terminal and logs events as JSON lines."""

    def __init__(self, blueprint: Any, *, console: Console, events: IO[str] | None) -> None:
        self.blueprint = blueprint
        self.console = console
        self.events = events
        self.skipped: list[str] = []
        self._running: list[str] = []
        self._lock = threading.Lock()
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self.hooks: Any = None

    def __enter__(self) -> RunWatcher:
        if self.console.is_terminal:
            self._progress = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                BarColumn(),
                TaskProgressColumn(),
                TimeElapsedColumn(),
                console=self.console,
                transient=True,
            )
            self._task = self._progress.add_task(str(self.blueprint.name), total=1.0)
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
        if self.events is not None:
            self.events.flush()

    def handle(self, event: object) -> None:
        from ..runtime import event_to_dict

        with self._lock:
            if self.events is not None:
                line = json.dumps(event_to_dict(event), ensure_ascii=False, default=str)
                self.events.write(line + "\n")
                self.events.flush()

    def report_skipped(self, reporter: Reporter) -> None:
        """Say which nodes did not run (after a failure or a cancellation)."""
        if self.skipped:
            names = ", ".join(self.skipped)
            reporter.info(f"skipped {len(self.skipped)} node(s) that had not started: {names}")
