"""The server's side of the run history: record its runs, read past runs for the page.

The history itself (SQLite, schema, recorder) is ``atomiton.store``'s; this module only opens it
for the server and turns its records into protocol items. When the store is not available the
server still works with the runs it started itself.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from .protocol import RunSummaryItem


def _store_module() -> Any:
    try:
        return importlib.import_module("atomiton.store")
    except ImportError:
        return None


def recorder(db: Path | None) -> object | None:
    """A ``RunRecorder`` hook writing into ``db`` (the project's default when None), or None."""
    store = _store_module()
    if store is None:
        return None
    target = db if db is not None else store.default_db_path()
    return store.RunRecorder(target)  # type: ignore[no-any-return]


def close(hook: object | None) -> None:
    """Flush and close a recorder made by ``recorder`` (nothing for None)."""
    closer = getattr(hook, "close", None)
    if callable(closer):
        closer()


def list_runs(
    db: Path | None, *, blueprint: str | None, status: str | None, last: int | None
) -> list[RunSummaryItem]:
    """Past runs of the history, newest first (empty when there is no store or database)."""
    store = _store_module()
    if store is None:
        return []
    path = db if db is not None else store.default_db_path()
    if not Path(path).exists():
        return []
    with store.RunStore.open(path) as runs:
        found = runs.list_runs(blueprint=blueprint, status=status, last=last)
    return [summary_item(item.to_json()) for item in found]


def get_run(db: Path | None, run_id: str) -> tuple[RunSummaryItem, list[dict[str, Any]]] | None:
    """A past run's summary and its events in order, or None when the history lacks it."""
    store = _store_module()
    if store is None:
        return None
    path = db if db is not None else store.default_db_path()
    if not Path(path).exists():
        return None
    with store.RunStore.open(path) as runs:
        detail = runs.get_run(run_id)
        if detail is None:
            return None
        data = detail.to_json()
        events = runs.events(data.get("run_id", run_id))
    return summary_item(data), [strip_seq(e) for e in events]


def summary_item(data: dict[str, Any]) -> RunSummaryItem:
    """A store record's JSON as the protocol's summary."""
    started = data.get("started")
    ended = data.get("ended")
    duration = data.get("duration")
    if duration is None and isinstance(started, (int, float)) and isinstance(ended, (int, float)):
        duration = ended - started
    return RunSummaryItem(
        runId=str(data.get("run_id", "")),
        blueprint=str(data.get("blueprint_name") or data.get("blueprint_id") or ""),
        status=str(data.get("status", "")),
        started=started,
        ended=ended,
        duration=duration,
        source=data.get("source"),
    )


def strip_seq(event: dict[str, Any]) -> dict[str, Any]:
    """An event as ``event_to_dict`` made it (the store may add its sequence number)."""
    inner = event.get("event")
    if isinstance(inner, dict):
        return inner
    return {key: value for key, value in event.items() if key != "seq"}
