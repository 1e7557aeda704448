"""Helpers of the reliability tests: an event recorder, and counting threads and child processes."""

from __future__ import annotations

import os
import threading
import time
from typing import TypeVar

from atomiton import runtime as rt

E = TypeVar("E", bound=rt.Event)


class Recorder:
    """A thread-safe hook that keeps every event it receives."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.events: list[rt.Event] = []

    def on_event(self, *, event: rt.Event) -> None:
        with self._lock:
            self.events.append(event)

    def of(self, kind: type[E]) -> list[E]:
        with self._lock:
            return [e for e in self.events if isinstance(e, kind)]

    def kinds(self) -> list[str]:
        with self._lock:
            return [e.kind for e in self.events]


def leftover_threads(before: set[threading.Thread], settle: float = 2.0) -> set[threading.Thread]:
    """Threads not in ``before`` still alive after up to ``settle`` seconds (by identity)."""
    deadline = time.monotonic() + settle
    while True:
        extra = {t for t in threading.enumerate() if t not in before and t.is_alive()}
        if not extra or time.monotonic() >= deadline:
            return extra
        time.sleep(0.01)


def child_pids() -> set[int]:
    """Live (not zombie) processes whose parent is this process, read from /proc."""
    me = str(os.getpid())
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[1] == me and fields[0] != "Z":
            found.add(int(entry))
    return found


def leftover_children(before: set[int], settle: float = 2.0) -> set[int]:
    """Child processes not in ``before`` still alive after up to ``settle`` seconds."""
    deadline = time.monotonic() + settle
    while True:
        extra = child_pids() - before
        if not extra or time.monotonic() >= deadline:
            return extra
        time.sleep(0.01)


def wait_for(predicate, timeout: float = 5.0, step: float = 0.01) -> bool:  # type: ignore[no-untyped-def]
    """Poll ``predicate()`` until true or ``timeout`` seconds passed; return its last value."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(step)
