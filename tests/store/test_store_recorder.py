"""RunRecorder on real runs: what a completed, failed, cancelled and retried run leaves in the
history, that recording never fails a run, and that it leaves no thread behind."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from types import ModuleType

import pytest

from atomiton import NodeError
from atomiton.errors import CancelledError
from atomiton.runtime import CancelToken, Event, event_to_dict
from atomiton.store import RunRecorder, RunStore
from atomiton.store import run_recorded

RETRIED = """\
id: retried
interface:
  outputs:
    - {id: out, dataType: integer}
nodes:
  - id: flaky
    type: code
    parameters:
      retries: 2
      retryDelay: 0.01
      code: |
        import os
        if not os.path.exists("tried"):
            open("tried", "w").close()
            raise RuntimeError("first attempt fails")
        return 7
edges:
  - {source: flaky, target: output, targetHandle: out}
"""


class Lines:
    """A hook that keeps each event's JSON line, as ``atomiton run --events`` writes it."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def on_event(self, *, event: Event) -> None:
        self.lines.append(json.dumps(event_to_dict(event), ensure_ascii=False, default=str))


def _no_writer_left() -> bool:
    return not any(t.name == "atomiton-recorder" for t in threading.enumerate())


def test_a_completed_run_is_recorded_whole(tmp_path: Path, two_nodes: ModuleType) -> None:
    db = tmp_path / "h.db"
    lines = Lines()
    outputs = run_recorded(two_nodes, two_nodes.Inputs(n=4), db=db, hooks=lines)
    assert outputs.total == 9
    assert _no_writer_left()
    with RunStore.open(db) as store:
        (summary,) = store.list_runs()
        run = store.get_run(summary.id)
        events = store.events(summary.id)
    assert run is not None
    blueprint = two_nodes.BLUEPRINT
    assert (run.summary.blueprint_id, run.summary.name, run.summary.version) == (
        blueprint.id,
        blueprint.name,
        blueprint.version,
    )
    assert (run.source, run.sha256) == (blueprint.source, blueprint.sha256)
    assert run.status == "completed" and run.summary.error is None
    assert run.summary.duration is not None and run.summary.duration >= 0
    assert run.inputs == {"n": 4} and run.outputs == {"total": 9}
    assert run.atomiton_version and run.pid and run.host
    assert [(n.node_id, n.state, n.attempts, n.position) for n in run.nodes] == [
        ("double", "done", 1, "flow.yaml:10:5"),
        ("check", "done", 1, "flow.yaml:15:5"),
    ]
    for node in run.nodes:
        assert node.started is not None and node.ended is not None
        assert summary.started <= node.started <= node.ended
    # The stream is exactly what --events writes, numbered from 1.
    assert [e.pop("seq") for e in events] == list(range(1, len(lines.lines) + 1))
    assert [json.dumps(e, ensure_ascii=False, default=str) for e in events] == lines.lines
    assert run.events == len(events)


def test_a_failed_run_keeps_the_error_at_its_yaml_position(
    tmp_path: Path, two_nodes: ModuleType
) -> None:
    db = tmp_path / "h.db"
    with pytest.raises(NodeError):
        run_recorded(two_nodes, two_nodes.Inputs(n=-1), db=db)
    with RunStore.open(db) as store:
        (summary,) = store.list_runs(status="failed")
        run = store.get_run(summary.id)
    assert run is not None and run.outputs is None
    assert run.error_type == "NodeError" and run.error_node == "check"
    assert "negative input" in (summary.error or "")
    check = run.nodes[1]
    assert (check.state, check.error, check.error_type) == (
        "failed",
        "ValueError: negative input",
        "ValueError",
    )
    assert (check.source, check.line, check.column) == ("flow.yaml", 15, 5)


def test_a_cancelled_run_is_recorded_as_cancelled(tmp_path: Path, slow_flow: ModuleType) -> None:
    db = tmp_path / "h.db"
    token = CancelToken()
    threading.Timer(0.3, token.cancel).start()
    with pytest.raises(CancelledError):
        run_recorded(slow_flow, slow_flow.Inputs(delay=1.0), db=db, cancel=token)
    with RunStore.open(db) as store:
        (summary,) = store.list_runs()
        run = store.get_run(summary.id)
    assert run is not None and run.status == "cancelled"
    states = {n.node_id: n.state for n in run.nodes}
    assert states["after"] == "skipped"
    assert states["wait"] in ("done", "failed")  # a sleeping code node finishes its sleep


def test_retries_are_counted(tmp_path: Path, compile_flow: object) -> None:
    module = compile_flow(RETRIED, "retried.yaml")  # type: ignore[operator]
    db = tmp_path / "h.db"
    assert run_recorded(module, db=db).out == 7
    with RunStore.open(db) as store:
        run = store.get_run(store.list_runs()[0].id)
        assert run is not None
        kinds = [e["event"] for e in store.events(run.id)]
    assert [(n.state, n.attempts) for n in run.nodes] == [("done", 2)]
    assert kinds.count("node.retrying") == 1 and kinds.count("node.started") == 2


def test_a_library_hook_finds_the_blueprint_by_itself(
    tmp_path: Path, two_nodes: ModuleType
) -> None:
    db = tmp_path / "h.db"
    with RunRecorder(db) as recorder:
        two_nodes.run(two_nodes.Inputs(n=1), hooks=recorder)
        two_nodes.run(two_nodes.Inputs(n=2), hooks=recorder)
    with RunStore.open(db) as store:
        runs = store.list_runs()
        assert [r.id for r in runs] == recorder.run_ids[::-1]  # newest first
        run = store.get_run(runs[0].id)
    assert run is not None and run.summary.version == "1.2.0"
    assert run.sha256 == two_nodes.BLUEPRINT.sha256
    assert run.inputs is None  # not given: hooks see events, not values


def test_events_after_a_sequence_number(tmp_path: Path, two_nodes: ModuleType) -> None:
    db = tmp_path / "h.db"
    run_recorded(two_nodes, two_nodes.Inputs(n=1), db=db)
    with RunStore.open(db) as store:
        run_id = store.list_runs()[0].id
        every = store.events(run_id)
        assert store.events(run_id, after=3) == every[3:]
        assert store.events(run_id, after=len(every)) == []


def test_importing_and_running_a_module_writes_no_history(
    workdir: Path, two_nodes: ModuleType
) -> None:
    two_nodes.run(two_nodes.Inputs(n=1))
    assert not list(workdir.rglob("history.db*"))
    assert _no_writer_left()


def test_a_history_that_cannot_be_written_never_fails_the_run(
    tmp_path: Path, two_nodes: ModuleType
) -> None:
    blocked = tmp_path / "a-folder.db"
    blocked.mkdir()
    recorder = RunRecorder(blocked)
    outputs = two_nodes.run(two_nodes.Inputs(n=2), hooks=recorder)
    recorder.close()
    assert outputs.total == 5
    assert recorder.error is not None and "a-folder.db" in str(recorder.error)
    assert _no_writer_left()


def test_one_recorder_shared_by_concurrent_runs_loses_nothing(
    tmp_path: Path, two_nodes: ModuleType
) -> None:
    db = tmp_path / "h.db"
    recorder = RunRecorder(db, flush_interval=0.01)

    def runs(count: int) -> None:
        for i in range(count):
            two_nodes.run(two_nodes.Inputs(n=i), hooks=recorder)

    threads = [threading.Thread(target=runs, args=(10,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    recorder.close()
    with RunStore.open(db) as store:
        found = store.list_runs()
        assert sorted(r.id for r in found) == sorted(recorder.run_ids)
        assert len(found) == 40 and {r.status for r in found} == {"completed"}
        assert {store.get_run(r.id).events for r in found} == {8}  # type: ignore[union-attr]


def test_the_writer_leaves_when_idle_and_comes_back(tmp_path: Path, two_nodes: ModuleType) -> None:
    recorder = RunRecorder(tmp_path / "h.db", linger=0.05)
    two_nodes.run(two_nodes.Inputs(n=1), hooks=recorder)
    deadline = time.monotonic() + 5
    while not _no_writer_left() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert _no_writer_left()
    two_nodes.run(two_nodes.Inputs(n=2), hooks=recorder)
    recorder.close()
    with RunStore.open(tmp_path / "h.db") as store:
        assert [r.status for r in store.list_runs()] == ["completed", "completed"]


def test_a_recorder_that_breaks_loses_records_but_never_hangs(
    tmp_path: Path, two_nodes: ModuleType
) -> None:
    recorder = RunRecorder(tmp_path / "h.db", inputs={"n": 1}, value_cap=None)  # type: ignore[arg-type]
    outputs = two_nodes.run(two_nodes.Inputs(n=1), hooks=recorder)
    assert recorder.flush(timeout=30)
    recorder.close()
    assert outputs.total == 3
    assert recorder.error is not None and "recording stopped: TypeError" in str(recorder.error)
    assert _no_writer_left()
