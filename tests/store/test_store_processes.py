"""The history across real processes: twenty recording at once lose nothing, a run whose
process is killed shows as ``interrupted``, and a program that never closes its recorder still
leaves its runs written."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from atomiton.compiler import compile_blueprint
from atomiton.store import RunStore
from atomiton.store.runstore import INTERRUPTED_NODE, LEASE, settle_dead_runs

# Runs ``runs`` runs of module ``flowmod`` (in sys.argv[1]) recorded into sys.argv[2], once the
# file sys.argv[3] exists (so that every process writes at the same time).
RECORD = textwrap.dedent("""\
    import sys, time
    from pathlib import Path
    sys.path.insert(0, sys.argv[1])
    import flowmod
    from atomiton.store import RunRecorder
    go = Path(sys.argv[3])
    recorder = RunRecorder(sys.argv[2], flush_interval=0.01)
    while not go.exists():
        time.sleep(0.005)
    for i in range(int(sys.argv[4])):
        flowmod.run(flowmod.Inputs(n=i), hooks=recorder)
    if sys.argv[5] == "close":
        recorder.close()
    print(",".join(recorder.run_ids))
""")


def _module_file(folder: Path, blueprint: Path) -> None:
    (folder / "flowmod.py").write_text(compile_blueprint(blueprint).code, encoding="utf-8")


def _start(folder: Path, db: Path, go: Path, runs: int, close: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", RECORD, str(folder), str(db), str(go), str(runs), close],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
def test_twenty_processes_recording_at_once_lose_nothing(workdir: Path, two_nodes: object) -> None:
    _module_file(workdir, workdir / "flow.yaml")
    db, go = workdir / "h.db", workdir / "go"
    processes = [_start(workdir, db, go, 10, "close") for _ in range(20)]
    time.sleep(0.5)
    go.touch()
    expected: set[str] = set()
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        expected.update(out.strip().split(","))
    assert len(expected) == 200
    with RunStore.open(db) as store:
        runs = store.list_runs()
        assert {r.id for r in runs} == expected
        assert {r.status for r in runs} == {"completed"}
        for run in runs:
            detail = store.get_run(run.id)
            assert detail is not None and detail.events == 8
            assert [n.state for n in detail.nodes] == ["done", "done"]


def test_a_program_that_never_closes_its_recorder_still_writes_its_runs(
    workdir: Path, two_nodes: object
) -> None:
    _module_file(workdir, workdir / "flow.yaml")
    db, go = workdir / "h.db", workdir / "go"
    go.touch()
    process = _start(workdir, db, go, 3, "leave-open")
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    with RunStore.open(db) as store:
        runs = store.list_runs()
        assert sorted(r.id for r in runs) == sorted(out.strip().split(","))
        assert [r.status for r in runs] == ["completed"] * 3
        assert {store.get_run(r.id).events for r in runs} == {8}  # type: ignore[union-attr]


SLOW_RUN = textwrap.dedent("""\
    import sys
    sys.path.insert(0, sys.argv[1])
    import flowmod
    from atomiton.store import RunRecorder
    flowmod.run(flowmod.Inputs(delay=60.0), hooks=RunRecorder(sys.argv[2]))
""")


def test_a_killed_run_is_interrupted_the_next_time_the_store_is_opened(
    workdir: Path, slow_flow: object
) -> None:
    _module_file(workdir, workdir / "slow.yaml")
    db = workdir / "h.db"
    process = subprocess.Popen([sys.executable, "-c", SLOW_RUN, str(workdir), str(db)])
    try:
        deadline = time.monotonic() + 60
        while True:
            assert time.monotonic() < deadline, "the run never showed as running"
            assert process.poll() is None
            if db.exists():
                with RunStore.open(db) as store:
                    running = store.list_runs(status="running")
                    detail = store.get_run(running[0].id) if running else None
                if detail is not None and detail.nodes[0].state == "running":
                    break
            time.sleep(0.05)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    with RunStore.open(db) as store:
        (run,) = store.list_runs()
        detail = store.get_run(run.id)
    assert run.status == "interrupted" and run.ended is not None
    assert detail is not None
    assert [(n.node_id, n.state) for n in detail.nodes] == [
        ("wait", "failed"),
        ("after", "skipped"),
    ]
    assert detail.nodes[0].error == INTERRUPTED_NODE


def test_a_running_run_whose_heartbeat_stopped_is_interrupted(tmp_path: Path) -> None:
    """Its pid may be alive (reused, or on another host): the lease decides."""
    db = tmp_path / "h.db"
    RunStore.open(db).close()
    conn = sqlite3.connect(db, isolation_level=None)
    now = time.time()
    for run_id, beat in (("stale", now - LEASE - 1), ("fresh", now)):
        conn.execute(
            "INSERT INTO runs (id, blueprint_id, status, started, pid, host, heartbeat)"
            " VALUES (?, 'b', 'running', ?, ?, 'elsewhere', ?)",
            (run_id, now - 100, os.getpid(), beat),
        )
    assert settle_dead_runs(conn, now=now) == 1
    with RunStore.open(db) as store:
        assert {r.id: r.status for r in store.list_runs()} == {
            "stale": "interrupted",
            "fresh": "running",
        }


ABANDONED = textwrap.dedent("""\
    import sys, threading, time
    sys.path.insert(0, sys.argv[1])
    import flowmod
    from atomiton.store import RunRecorder
    recorder = RunRecorder(sys.argv[2])
    run = lambda: flowmod.run(flowmod.Inputs(delay=60.0), hooks=recorder)
    threading.Thread(target=run, daemon=True).start()
    time.sleep(0.5)
    sys.exit("the program ends while its run goes on")
""")


def test_a_program_that_ends_during_a_run_exits_and_records_it_interrupted(
    workdir: Path, slow_flow: object
) -> None:
    _module_file(workdir, workdir / "slow.yaml")
    db = workdir / "h.db"
    started = time.monotonic()
    process = subprocess.run(
        [sys.executable, "-c", ABANDONED, str(workdir), str(db)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert process.returncode == 1 and "ends while its run goes on" in process.stderr
    assert time.monotonic() - started < 30  # the writer did not wait for the 60 s node
    with RunStore.open(db) as store:
        assert [r.status for r in store.list_runs()] == ["interrupted"]
