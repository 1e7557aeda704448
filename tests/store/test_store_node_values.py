"""Per-node output values in the run history: recorded by the value rules (JSON, blobs, the
size cap), returned on ``NodeRecord``, kept out of the event stream, printed by
``runs show --values``."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

from click.testing import CliRunner

from atomiton.cli import main as cli
from atomiton.store import RunRecorder, RunStore
from atomiton.store.schema import SCHEMA_VERSION, connect

from conftest import CompileFlow

VALUES = """\
id: node-values
nodes:
  - id: text
    type: code
    parameters: {code: "return 'hello'"}
  - id: raw
    type: code
    parameters: {code: "return b'\\\\x00\\\\x01' * 10"}
  - id: big
    type: code
    parameters: {code: "return 'x' * 5000"}
  - id: nothing
    type: code
    parameters: {code: "return None"}
"""


def _record(module: ModuleType, db: Path, **options: object) -> str:
    with RunRecorder(db, blueprint=module.BLUEPRINT, **options) as recorder:  # type: ignore[arg-type]
        module.run(module.Inputs(), hooks=recorder)
    return recorder.run_ids[-1]


def test_each_node_output_is_recorded_and_read_back(two_nodes: ModuleType, workdir: Path) -> None:
    db = workdir / "runs.db"
    run_id = _record(two_nodes, db)
    with RunStore.open(db) as store:
        detail = store.get_run(run_id)
        events = store.events(run_id)
    assert detail is not None
    outputs = {node.node_id: node.output for node in detail.nodes}
    assert outputs == {"double": 6, "check": 7}
    assert all(node.has_output for node in detail.nodes)
    assert detail.to_json()["nodes"][0]["output"] == 6  # type: ignore[index]
    # Values are stored with the nodes, never in the event stream.
    completed = [e for e in events if e["event"] == "node.completed"]
    assert len(completed) == 2 and all("value" not in e for e in completed)


def test_values_follow_the_blob_and_cap_rules(compile_flow: CompileFlow, workdir: Path) -> None:
    module = compile_flow(VALUES)
    db = workdir / "runs.db"
    run_id = _record(module, db, inline_limit=1000, value_cap=4000)
    with RunStore.open(db) as store:
        detail = store.get_run(run_id)
        assert detail is not None
        nodes = {node.node_id: node for node in detail.nodes}
        raw = nodes["raw"].output
        assert isinstance(raw, dict) and raw["$atomiton"] == "blob" and raw["kind"] == "bytes"
        assert store.blob(str(raw["sha256"])) == b"\x00\x01" * 10
    assert nodes["text"].output == "hello"
    big = nodes["big"].output
    assert isinstance(big, dict) and big["$atomiton"] == "omitted" and big["size"] == 5000
    assert nodes["nothing"].has_output and nodes["nothing"].output is None


def test_a_node_that_did_not_complete_has_no_output(two_nodes: ModuleType, workdir: Path) -> None:
    db = workdir / "runs.db"
    with RunRecorder(db, blueprint=two_nodes.BLUEPRINT) as recorder:
        try:
            two_nodes.run(two_nodes.Inputs(n=-1), hooks=recorder)
        except Exception:  # noqa: BLE001 - the run is meant to fail
            pass
    with RunStore.open(db) as store:
        detail = store.get_run(recorder.run_ids[-1])
    assert detail is not None
    nodes = {node.node_id: node for node in detail.nodes}
    assert nodes["double"].output == -2
    assert not nodes["check"].has_output and "output" not in nodes["check"].to_json()


def test_a_version_2_database_gains_the_output_column(workdir: Path) -> None:
    db = workdir / "old.db"
    connect(db, target=2).close()
    conn = connect(db)
    columns = [row[1] for row in conn.execute("PRAGMA table_info(nodes)")]
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    conn.close()
    assert "output" in columns and version == SCHEMA_VERSION >= 3


def test_runs_show_values_prints_each_node_output(two_nodes: ModuleType, workdir: Path) -> None:
    db = workdir / "runs.db"
    run_id = _record(two_nodes, db)
    runner = CliRunner()
    plain = runner.invoke(cli, ["runs", "show", run_id, "--db", str(db)])
    shown = runner.invoke(cli, ["runs", "show", run_id, "--values", "--db", str(db)])
    assert plain.exit_code == 0 and shown.exit_code == 0, shown.output
    assert "OUTPUT" not in plain.output
    rows = [line.split() for line in shown.output.splitlines() if line.strip()]
    assert ["NODE", "OUTPUT"] in rows
    assert ["double", "6"] in rows and ["check", "7"] in rows
    as_json = runner.invoke(cli, ["runs", "show", run_id, "--json", "--db", str(db)])
    nodes = json.loads(as_json.output)["nodes"]
    assert [node["output"] for node in nodes] == [6, 7]
