"""Runs a server starts are recorded in the run history: a later server (and ``atomiton runs``)
lists them, and a run cancelled by SIGTERM is recorded as cancelled."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from atomiton.client import Client
from atomiton.store import RunStore

from conftest import BOOM_AT, ServerFactory


def test_runs_are_recorded_and_read_back_by_a_later_server(
    flows: Path, server_factory: ServerFactory
) -> None:
    db = flows / "history.db"
    first = server_factory("--db", str(db))
    with Client.connect(first.rpc) as client:
        done = client.run("steps.yaml")
        failed = client.run("fails.yaml")
        client.wait(done)
        client.wait(failed)
    first.process.send_signal(signal.SIGTERM)
    first.process.wait(timeout=30)
    with RunStore.open(db) as store:
        assert {r.id: r.status for r in store.list_runs()} == {done: "completed", failed: "failed"}
    listed = subprocess.run(
        [sys.executable, "-m", "atomiton", "runs", "--db", str(db), "--json"],
        capture_output=True,
        text=True,
        cwd=flows,
    )
    assert done in listed.stdout and failed in listed.stdout

    second = server_factory("--db", str(db))
    with Client.connect(second.rpc) as client:
        runs = {r.runId: r.status for r in client.runs_list().runs}
        assert runs == {done: "completed", failed: "failed"}
        assert [r.runId for r in client.runs_list(status="failed").runs] == [failed]
        detail = client.runs_get(failed)
        boom = next(n for n in detail.nodes if n.id == "boom")
        assert boom.state == "failed" and (boom.position or "").endswith(BOOM_AT)
        view = client.view(run_id=failed)
        assert [f.node for f in view.failures] == ["boom"]
        assert {n.id for n in view.nodes} == {"start", "boom"}
        events = client.call("runs.events", {"runId": done, "after": 2})["events"]
        assert events[0]["seq"] == 3 and events[-1]["event"]["event"] == "execution.completed"


def test_sigterm_records_the_cancelled_runs(flows: Path, server_factory: ServerFactory) -> None:
    (flows / "long.yaml").write_text(
        "id: long\nnodes:\n"
        "  - {id: args, type: code, parameters: {code: \"return ['60']\"}}\n"
        "  - {id: wait, type: shell-command, parameters: {program: sleep}}\n"
        "edges:\n  - {source: args, target: wait, targetHandle: args}\n"
    )
    db = flows / "history.db"
    served = server_factory("--db", str(db))
    with Client.connect(served.rpc) as client:
        run_id = client.run("long.yaml")
        time.sleep(0.3)
        served.process.send_signal(signal.SIGTERM)
        # uvicorn re-raises the signal once it has shut down gracefully
        assert served.process.wait(timeout=30) in (0, -signal.SIGTERM)
    with RunStore.open(db) as store:
        detail = store.get_run(run_id)
        assert detail is not None and detail.status == "cancelled"
        assert json.dumps(store.events(run_id)[-1]).count("execution.cancelled") == 1
