"""The Dask executor's cluster behaviour: worker processes, cancel and timeouts, the limit."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import psutil
import pytest
from distributed import Client

from atomiton import runtime as rt
from atomiton.errors import CancelledError, NodeError, RunTimeoutError
from atomiton.runtime.executors.dask_worker import live_tasks
from dask_flows import Recorder, compiled

SLEEPERS = """
id: sleepers
variables:
  seconds: {{type: string, defaultValue: "30"}}
nodes:
{nodes}
edges:
{edges}
"""


def sleepers(count: int) -> str:
    nodes = "\n".join(
        f"  - {{id: s{k}, type: shell-command, parameters: {{program: sleep, args: ['{{{{ inputs.seconds }}}}']}}}}"
        for k in range(count)
    )
    edges = "\n".join(
        f"  - {{source: s{k}, sourceHandle: exitCode, target: output, targetHandle: code{k}}}"
        for k in range(count)
    )
    return SLEEPERS.format(nodes=nodes, edges=edges)


def sleeping_children() -> list[psutil.Process]:
    """``sleep`` programs under this process (worker processes' children included)."""
    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            if child.name() == "sleep" and child.status() != psutil.STATUS_ZOMBIE:
                found.append(child)
        except psutil.NoSuchProcess:
            pass
    return found


def cancel_once_started(module: ModuleType, client: Client, count: int) -> Recorder:
    """Run ``module`` on ``client``, cancel it once ``count`` programs run; return its events."""
    recorder = Recorder()
    token = rt.CancelToken()

    def cancel_when_running() -> None:
        give_up = time.monotonic() + 20
        while time.monotonic() < give_up and len(sleeping_children()) < count:
            time.sleep(0.02)
        token.cancel("stop it")

    canceller = threading.Thread(target=cancel_when_running)
    canceller.start()
    started = time.monotonic()
    with pytest.raises(CancelledError, match="stop it"):
        module.run(hooks=recorder, cancel=token, executor=client)
    canceller.join()
    assert time.monotonic() - started < 15  # the programs were killed, not waited for
    return recorder


def assert_nothing_left(client: Client, recorder: Recorder) -> None:
    run_id = recorder.events[0].run_id
    assert sleeping_children() == []
    assert set(client.run(live_tasks, run_id).values()) == {0}
    processing = client.processing()
    assert all(not keys for keys in processing.values()), processing


def test_cancel_mid_run_kills_the_programs_and_leaves_no_task(
    client: Client, tmp_path: Path
) -> None:
    module = compiled(tmp_path, sleepers(2))
    recorder = cancel_once_started(module, client, 2)
    assert_nothing_left(client, recorder)
    assert recorder.events[-1].kind == "execution.cancelled"
    kinds = recorder.kinds()
    assert ("node.started", "s0") in kinds and ("node.started", "s1") in kinds


def test_the_flow_timeout_stops_the_cluster_work(client: Client, tmp_path: Path) -> None:
    module = compiled(tmp_path, sleepers(2))
    recorder = Recorder()
    started = time.monotonic()
    with pytest.raises(RunTimeoutError):
        module.run(hooks=recorder, timeout=0.5, executor=client)
    assert time.monotonic() - started < 15
    assert_nothing_left(client, recorder)


def intervals(recorder: Recorder) -> list[tuple[float, float]]:
    starts: dict[str, float] = {}
    spans = []
    for event in recorder.events:
        node: Any = getattr(event, "node_id", None)
        if event.kind == "node.started":
            starts[node] = event.timestamp
        elif event.kind == "node.completed":
            spans.append((starts[node], event.timestamp))
    return sorted(spans)


def test_the_concurrency_limit_holds_across_the_cluster(client: Client, tmp_path: Path) -> None:
    module = compiled(tmp_path, sleepers(4))
    fast = module.Inputs(seconds="0.2")
    one_at_a_time = Recorder()
    module.run(fast, hooks=one_at_a_time, concurrency=1, executor=client)
    spans = intervals(one_at_a_time)
    assert len(spans) == 4
    assert all(end <= nxt for (_, end), (nxt, _) in zip(spans, spans[1:])), spans
    together = Recorder()
    module.run(fast, hooks=together, concurrency=4, executor=client)
    spans = intervals(together)
    # The cluster has 4 threads: without the limit the programs overlap.
    assert any(end > nxt for (_, end), (nxt, _) in zip(spans, spans[1:])), spans


FLOW = """
id: crossing
variables:
  numbers: {type: array, defaultValue: [3, 1, 2]}
nodes:
  - id: doubled
    type: code
    parameters: {code: "return [n * 2 for n in data]"}
  - id: each
    type: loop
    parameters:
      body:
        nodes:
          - {id: square, type: code, parameters: {code: "return data * data"}}
        edges:
          - {source: input, target: square}
          - {source: square, target: output}
  - id: note
    type: shell-command
    parameters: {program: echo, args: ["done"]}
  - id: total
    type: code
    parameters: {code: "return sum(data)"}
edges:
  - {source: input, sourceHandle: numbers, target: doubled}
  - {source: doubled, target: each, targetHandle: array}
  - {source: each, sourceHandle: results, target: total}
  - {source: total, target: output, targetHandle: total}
  - {source: note, sourceHandle: stdout, target: output, targetHandle: note}
"""

UNPICKLABLE = """
id: unpicklable
nodes:
  - id: makeNumbers
    type: code
    parameters: {code: "return (n for n in range(3))"}
  - id: note
    type: shell-command
    parameters: {program: echo, args: ["done"]}
edges:
  - {source: makeNumbers, target: output, targetHandle: numbers}
  - {source: note, sourceHandle: stdout, target: output, targetHandle: note}
"""


@pytest.mark.slow
def test_worker_processes_run_a_flow_loaded_from_memory(
    process_client: Client, tmp_path: Path
) -> None:
    module = compiled(tmp_path, FLOW)
    recorder = Recorder()
    here = module.run()
    there = module.run(hooks=recorder, executor=process_client)
    assert there == here
    assert there.total == 56
    local = Recorder()
    module.run(hooks=local)
    assert recorder.kinds() == local.kinds()
    # A value that cannot be pickled is the node's error, not Dask's.
    bad = compiled(tmp_path, UNPICKLABLE, "bad.yaml")
    assert list(bad.run().model_dump())[0] == "numbers"  # runs locally
    with pytest.raises(NodeError) as caught:
        bad.run(executor=process_client)
    assert caught.value.node_id == "makeNumbers"
    assert "cannot be sent to another worker process" in str(caught.value)
    assert "bad.yaml:" in str(caught.value)


@pytest.mark.slow
def test_cancel_on_worker_processes_kills_their_programs(
    process_client: Client, tmp_path: Path
) -> None:
    module = compiled(tmp_path, sleepers(2))
    recorder = cancel_once_started(module, process_client, 2)
    assert_nothing_left(process_client, recorder)


@pytest.mark.slow
def test_the_dask_executor_starts_and_closes_its_own_cluster(tmp_path: Path) -> None:
    module = compiled(tmp_path, FLOW)
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    assert module.run(executor="dask") == module.run()
    assert module.run(executor="dask-threads") == module.run()
    time.sleep(0.5)
    after = {
        p.pid
        for p in psutil.Process().children(recursive=True)
        if p.status() != psutil.STATUS_ZOMBIE
    }
    assert after <= before
