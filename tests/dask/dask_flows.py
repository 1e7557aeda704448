"""Compiled flows and an event recorder shared by the Dask executor tests."""

from __future__ import annotations

import textwrap
from pathlib import Path
from types import ModuleType
from typing import Any

from atomiton.compiler import CompileOptions, compile_blueprint, load_module
from atomiton.runtime.events import Event


def compiled(folder: Path, text: str, name: str = "flow.yaml") -> ModuleType:
    """Compile blueprint ``text`` (written to ``folder/name``) and load it from memory."""
    path = folder / name
    path.write_text(textwrap.dedent(text))
    options = CompileOptions(root=folder, search_path=(), store=folder / "store")
    return load_module(compile_blueprint(path, options=options))


class Recorder:
    """A hook keeping every event (from whichever thread delivers it)."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def on_event(self, *, event: Event) -> None:
        self.events.append(event)

    def kinds(self) -> list[tuple[str, Any]]:
        """(kind, node id) of each event, sorted: the event set, whatever the interleaving.

        Progress events are left out: how many a run emits depends on timing (the tracker
        rate-limits them), locally as much as on a cluster.
        """
        return sorted(
            (e.kind, getattr(e, "node_id", None))
            for e in self.events
            if e.kind != "execution.progress"
        )

    def per_node(self) -> dict[str, list[str]]:
        """Each node's event kinds in the order they arrived."""
        order: dict[str, list[str]] = {}
        for event in self.events:
            node = getattr(event, "node_id", None)
            if node is not None:
                order.setdefault(node, []).append(event.kind)
        return order
