"""A recorded run's outputs as pins (``recorded_pins``), against a real SQLite run store:
values come back as they were (bytes from their blobs), and a value the store could not keep
is an error naming the node, never a silent None."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_pins_supply import calls, compiled, counter

from atomiton import recorded_pins
from atomiton.runtime import PinError
from atomiton.store import RunStore, run_recorded

__all__ = ["counter"]  # the fixture, used by name

EXTRA = """

class Opaque:
    pass


def raw(data: int) -> bytes:
    _note("raw")
    return bytes(range(data))


def opaque(data: int) -> object:
    _note("opaque")
    return Opaque()


def size(data: bytes) -> int:
    _note("size")
    return len(data)
"""


def test_recorded_outputs_replay_as_pins(tmp_path: Path, counter: object) -> None:
    name = getattr(counter, "__name__")
    module_file = tmp_path / f"{name}.py"
    module_file.write_text(module_file.read_text() + EXTRA)
    import importlib

    importlib.reload(counter)  # type: ignore[arg-type]
    module = compiled(
        tmp_path,
        f"""
        id: blobs
        variables:
          x: {{type: integer, defaultValue: 4}}
        nodes:
          - {{id: raw, type: python, function: '{name}:raw'}}
          - {{id: size, type: python, function: '{name}:size'}}
          - {{id: opaque, type: python, function: '{name}:opaque'}}
        edges:
          - {{source: input, sourceHandle: x, target: raw}}
          - {{source: input, sourceHandle: x, target: opaque}}
          - {{source: raw, target: size}}
          - {{source: size, target: output, targetHandle: size}}
        """,
    )
    db = tmp_path / "history.db"
    assert run_recorded(module, module.Inputs(), db=db).size == 4
    with RunStore.open(db) as store:
        (run,) = store.list_runs()
    assert calls(tmp_path) == ["raw", "size", "opaque"]

    pins = recorded_pins(run.id, ["raw"], db=db)
    assert pins == {"raw": bytes(range(4))}
    assert module.run(module.Inputs(x=9), pins=pins).size == 4
    assert calls(tmp_path) == ["raw", "size", "opaque", "size", "opaque"]

    with pytest.raises(PinError, match="'opaque'.*not recorded.*not data") as info:
        recorded_pins(run.id, ["opaque"], db=db)
    assert info.value.node_id == "opaque"
    # Every node whose value was kept (opaque's was not: it is left to run).
    assert recorded_pins(run.id, db=db) == {"raw": bytes(range(4)), "size": 4}
