"""Edges into Atomiton's ``trigger`` ports: the triggered node runs after the trigger's source,
through a gate of native nodes in front of its input (native blueprints have no run-after edge)."""

from __future__ import annotations

import textwrap
from pathlib import Path

from dialect_support import compile_flow, run_flow

from atomiton.compiler.dialects.migrate import migrate_file


def _flow(tmp_path: Path, *, with_trigger: bool) -> Path:
    written = tmp_path / "written.txt"
    trigger = (
        "  - {source: {nodeId: first, portId: output}, target: {nodeId: late, portId: trigger}}\n"
        if with_trigger
        else ""
    )
    text = textwrap.dedent(f"""\
        type: composite
        nodes:
          - id: first
            type: file-system
            data: {{operation: write, filePath: {str(written)!r}, content: written first}}
          - {{id: src, type: edit-fields, data: {{values: {{name: Ada}}, keepOnlySet: true}}}}
          - id: late
            type: code
            inputPorts: [{{id: input, type: input}}, {{id: trigger, type: trigger}}]
            data:
              code: |
                import os
                seen = open({str(written)!r}).read() if os.path.exists({str(written)!r}) else None
                return {{"name": data["name"], "seen": seen}}
        edges:
          - {{source: {{nodeId: src, portId: output}}, target: {{nodeId: late, portId: input}}}}
        """)
    path = tmp_path / "flow.yaml"
    path.write_text(text + trigger)
    return path


def test_a_trigger_edge_makes_the_node_run_after_its_source(tmp_path: Path) -> None:
    path = _flow(tmp_path, with_trigger=True)
    compiled = compile_flow(path, tmp_path)
    assert [w.code for w in compiled.warnings if w.code.startswith("W101")] == ["W1014"]
    for _ in range(3):
        (tmp_path / "written.txt").unlink(missing_ok=True)
        outputs = run_flow(path, tmp_path)
        # The data still arrives as it was sent, and the write has happened before.
        assert outputs["late"] == {"name": "Ada", "seen": "written first"}


def test_without_the_trigger_nothing_orders_the_two(tmp_path: Path) -> None:
    """The check above can fail: without the edge, ``late`` runs before the write."""
    outputs = run_flow(_flow(tmp_path, with_trigger=False), tmp_path)
    assert outputs["late"] == {"name": "Ada", "seen": None}


def test_the_migrated_gate_is_native_and_orders_the_same(tmp_path: Path) -> None:
    original = _flow(tmp_path, with_trigger=True)
    native = migrate_file(original, original.name).text
    assert native is not None and "type: merge" in native and "trigger" not in native
    migrated = tmp_path / "migrated.yaml"
    migrated.write_text(native)
    assert compile_flow(migrated, tmp_path).warnings == ()
    (tmp_path / "written.txt").unlink(missing_ok=True)
    assert run_flow(migrated, tmp_path)["late"]["seen"] == "written first"


def test_a_trigger_into_a_node_without_input_is_dropped_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "flow.yaml"
    path.write_text(textwrap.dedent("""\
            type: composite
            nodes:
              - {id: a, type: edit-fields, data: {values: {x: 1}}}
              - id: b
                type: edit-fields
                inputPorts: [{id: go, type: trigger}]
                data: {values: {y: 2}}
            edges:
              - {source: {nodeId: a, portId: output}, target: {nodeId: b, portId: go}}
            """))
    compiled = compile_flow(path, tmp_path)
    dropped = [w for w in compiled.warnings if w.code == "W1015"]
    assert len(dropped) == 1 and dropped[0].span is not None and dropped[0].span.line == 9
    assert run_flow(path, tmp_path)["b"] == {"y": 2}
