"""``atomiton run --pin/--pins-from/--fail``: test doubles from the command line, against a
real run history (SQLite) recorded by a real run; ``runs show`` names supplied nodes."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from conftest import Invoke, WriteBlueprint

import atomiton
from atomiton.runtime import PinError

FLOW = """\
id: orders
interface:
  inputs:
    - {id: n, dataType: integer, default: 3}
  outputs:
    - {id: total, dataType: integer}
    - {id: note, dataType: string}
nodes:
  - id: fetch
    type: code
    parameters:
      code: |
        with open("fetch.log", "a") as f:
            f.write("called\\n")
        return [{"amount": i} for i in range(data)]
  - id: total
    type: transform
    parameters:
      operation: reduce
      transformFunction: "acc + item['amount']"
      reduceInitial: 0
  - id: upload
    type: code
    parameters:
      onError: branch
      code: return "uploaded"
  - id: fallback
    type: code
    parameters:
      code: return "fallback " + data["type"] + " " + data["message"]
edges:
  - {source: input, sourceHandle: n, target: fetch}
  - {source: fetch, target: total}
  - {source: total, sourceHandle: result, target: output, targetHandle: total}
  - {source: total, sourceHandle: result, target: upload}
  - {source: upload, sourceHandle: error, target: fallback}
  - {source: fallback, target: output, targetHandle: note}
"""


def fetch_calls(workdir: Path) -> int:
    log = workdir / "fetch.log"
    return len(log.read_text().splitlines()) if log.exists() else 0


def test_pin_from_a_file_and_inline_json(cli: Invoke, write: WriteBlueprint, workdir: Path) -> None:
    flow = write("flow.yaml", FLOW)
    result = cli("run", str(flow), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["total"] == 3 and fetch_calls(workdir) == 1

    (workdir / "fetch.json").write_text(json.dumps([{"amount": 40}, {"amount": 2}]))
    result = cli("run", str(flow), "--json", "--pin", "fetch=@fetch.json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["total"] == 42
    assert fetch_calls(workdir) == 1  # pinned: not called

    result = cli("run", str(flow), "--json", "--pin", 'fetch=[{"amount": 5}]')
    assert json.loads(result.stdout)["total"] == 5 and fetch_calls(workdir) == 1


def test_bad_pins_are_usage_errors_before_the_run(
    cli: Invoke, write: WriteBlueprint, workdir: Path
) -> None:
    flow = write("flow.yaml", FLOW)
    result = cli("run", str(flow), "--pin", "fetchh=[]")
    assert result.exit_code == 2
    assert "fetchh" in result.stderr and "--pin" in result.stderr
    result = cli("run", str(flow), "--pin", "fetch=@missing.json")
    assert result.exit_code == 2 and "missing.json" in result.stderr
    result = cli("run", str(flow), "--pin", "fetch")
    assert result.exit_code == 2 and "NODE=" in result.stderr
    result = cli("run", str(flow), "--fail", "upload=NoSuchError:x")
    assert result.exit_code == 2 and "'NoSuchError'" in result.stderr
    result = cli("run", str(flow), "--pin-nodes", "fetch")
    assert result.exit_code == 2 and "--pins-from" in result.stderr
    assert fetch_calls(workdir) == 0


def test_fail_drives_the_on_error_branch(cli: Invoke, write: WriteBlueprint) -> None:
    flow = write("flow.yaml", FLOW)
    result = cli("run", str(flow), "--json", "--fail", "upload=TimeoutError:too slow")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["note"] == "fallback TimeoutError too slow"
    result = cli("run", str(flow), "--fail", "fetch=ConnectionError:refused")
    assert result.exit_code == 3
    assert "node 'fetch'" in result.stderr and "refused" in result.stderr


def test_pins_from_a_recorded_run(cli: Invoke, write: WriteBlueprint, workdir: Path) -> None:
    flow = write("flow.yaml", FLOW)
    db = workdir / "history.db"
    assert cli("run", str(flow), "--db", str(db), "--input", "n=5").exit_code == 0
    run_id = str(sqlite3.connect(db).execute("SELECT id FROM runs").fetchone()[0])
    assert fetch_calls(workdir) == 1

    # Replayed: fetch gives what it gave then, though the input now says 1.
    result = cli(
        "run", str(flow), "--json", "--db", str(db), "--input", "n=1",
        "--pins-from", run_id[:12], "--pin-nodes", "fetch",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["total"] == 10 and fetch_calls(workdir) == 1

    # The replaying run is recorded with fetch pinned; ``runs show`` says so.
    conn = sqlite3.connect(db)
    newest = conn.execute("SELECT id FROM runs ORDER BY started DESC LIMIT 1").fetchone()[0]
    state = conn.execute(
        "SELECT state FROM nodes WHERE run_id = ? AND node_id = 'fetch'", (newest,)
    ).fetchone()[0]
    assert state == "pinned"
    shown = cli("runs", "show", newest, "--db", str(db))
    assert shown.exit_code == 0, shown.output
    assert any("fetch" in line and "pinned" in line for line in shown.stdout.splitlines())

    # The Python API gives the same pins (a recorded run as a test fixture).
    assert atomiton.recorded_pins(run_id, ["fetch"], db=db) == {
        "fetch": [{"amount": i} for i in range(5)]
    }
    with pytest.raises(PinError, match="no node 'nope'"):
        atomiton.recorded_pins(run_id, ["nope"], db=db)
    result = cli("run", str(flow), "--db", str(db), "--pins-from", "zzzz")
    assert result.exit_code == 2 and "no run 'zzzz'" in result.stderr


def test_pins_from_a_run_whose_node_failed_is_refused(
    cli: Invoke, write: WriteBlueprint, workdir: Path
) -> None:
    flow = write("flow.yaml", FLOW)
    db = workdir / "history.db"
    assert cli("run", str(flow), "--db", str(db), "--fail", "fetch=ValueError:x").exit_code == 3
    run_id = str(sqlite3.connect(db).execute("SELECT id FROM runs").fetchone()[0])
    result = cli("run", str(flow), "--db", str(db), "--pins-from", run_id, "--pin-nodes", "fetch")
    assert result.exit_code == 2
    assert "node 'fetch'" in result.stderr and "failed" in result.stderr
