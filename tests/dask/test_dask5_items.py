"""Loop items and parallel branches run as tasks of the cluster, with a local run's semantics."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from distributed import Client, get_task_stream

from atomiton import runtime as rt
from atomiton.errors import CancelledError, NodeError
from dask_flows import Recorder, compiled
from test_dask_cluster import assert_nothing_left, sleeping_children

ROOT = Path(__file__).resolve().parent.parent.parent

PIDS = """
id: pids
variables:
  items: {type: array, defaultValue: [1, 2, 3, 4, 5, 6]}
nodes:
  - id: each
    type: loop
    parameters:
      loopType: forEach
      concurrency: 3
      body:
        nodes:
          - id: where
            type: code
            parameters: {code: "import os, time\\ntime.sleep(0.2)\\nreturn [data * 10, os.getpid()]"}
        edges:
          - {source: input, sourceHandle: item, target: where}
          - {source: where, target: output, targetHandle: where}
  - id: both
    type: parallel
    parameters:
      branches:
        - nodes:
            - {id: a, type: code, parameters: {code: "import os, time\\ntime.sleep(1)\\nreturn [sum(v for v, _ in data), os.getpid()]"}}
          edges:
            - {source: input, target: a}
        - nodes:
            - {id: b, type: code, parameters: {code: "import os, time\\ntime.sleep(1)\\nreturn [max(v for v, _ in data), os.getpid()]"}}
          edges:
            - {source: input, target: b}
edges:
  - {source: input, sourceHandle: items, target: each, targetHandle: array}
  - {source: each, sourceHandle: results, target: both}
  - {source: each, sourceHandle: results, target: output, targetHandle: items}
  - {source: both, sourceHandle: results, target: output, targetHandle: branches}
"""


# The branches read the loop's results, so they run once the loop is done and both workers
# have a free thread.


def split(pairs: list[Any]) -> tuple[list[Any], set[int]]:
    """(the values, the set of process ids) of ``[value, pid]`` pairs."""
    return [value for value, _ in pairs], {pid for _, pid in pairs}


@pytest.mark.slow
def test_items_and_branches_run_in_several_worker_processes(
    process_client: Client, tmp_path: Path
) -> None:
    module = compiled(tmp_path, PIDS)
    local, remote = Recorder(), Recorder()
    here = module.run(hooks=local)
    there = module.run(hooks=remote, executor=process_client)
    values, pids = split(there.items)
    assert values == split(here.items)[0] == [10, 20, 30, 40, 50, 60]
    assert len(pids) > 1 and os.getpid() not in pids
    branch_values, branch_pids = split(there.branches)
    assert branch_values == split(here.branches)[0] == [210, 60]
    assert len(branch_pids) > 1 and os.getpid() not in branch_pids
    assert split(here.items)[1] == split(here.branches)[1] == {os.getpid()}
    assert remote.kinds() == local.kinds()
    progress = [e for e in remote.events if e.kind == "node.progress"]
    assert (
        progress
        and progress[-1].node_id == "each"
        or any(  # type: ignore[attr-defined]
            e.node_id == "each" for e in progress  # type: ignore[attr-defined]
        )
    )


FAILING_ITEM = """
id: failing-item
variables:
  items: {{type: array, defaultValue: [1, 2, 0, 4]}}
nodes:
  - id: each
    type: loop
    parameters:
      concurrency: 2
      continueOnError: {keep_going}
      body:
        nodes:
          - id: invert
            type: code
            parameters:
              code: |
                total = 1
                return total / data
        edges:
          - {{source: input, sourceHandle: item, target: invert}}
          - {{source: invert, target: output, targetHandle: inverse}}
edges:
  - {{source: input, sourceHandle: items, target: each, targetHandle: array}}
  - {{source: each, sourceHandle: results, target: output, targetHandle: results}}
  - {{source: each, sourceHandle: errors, target: output, targetHandle: errors}}
"""


def failure(module: Any, **options: Any) -> NodeError:
    with pytest.raises(NodeError) as caught:
        module.run(**options)
    return caught.value


@pytest.mark.slow
def test_a_failing_item_gives_the_same_node_error_as_locally(
    process_client: Client, tmp_path: Path
) -> None:
    module = compiled(tmp_path, FAILING_ITEM.format(keep_going="false"))
    here = failure(module)
    there = failure(module, executor=process_client, hooks=Recorder())
    assert here.node_id == there.node_id == "each"
    assert str(there) == str(here)
    assert "iteration 2 failed" in str(there) and "ZeroDivisionError" in str(there)
    assert (there.line, there.column) == (here.line, here.column)
    # The inner node at the failing line of its code block, as locally (the message says both).
    assert "flow.yaml:18:17: node 'each.body.invert' (code)" in str(there)


def test_continue_on_error_records_the_failed_items_as_locally(
    client: Client, tmp_path: Path
) -> None:
    module = compiled(tmp_path, FAILING_ITEM.format(keep_going="true"))
    local, remote = Recorder(), Recorder()
    here = module.run(hooks=local)
    with get_task_stream(client) as stream:
        there = module.run(hooks=remote, executor=client)
    assert there == here
    assert here.results == [1.0, 0.5, None, 0.25]
    assert [e["index"] for e in there.errors] == [2]
    assert remote.kinds() == local.kinds()
    assert any("-items-" in str(t["key"]) for t in stream.data), "no item ran as a task"


NESTED = """
id: nested
variables:
  rows: {type: array, defaultValue: [[1, 2], [3, 4, 5], [6]]}
nodes:
  - id: outer
    type: loop
    parameters:
      concurrency: 3
      body:
        nodes:
          - id: inner
            type: loop
            parameters:
              concurrency: 2
              body:
                nodes:
                  - {id: square, type: code, parameters: {code: "return data * data"}}
                edges:
                  - {source: input, sourceHandle: item, target: square}
                  - {source: square, target: output, targetHandle: square}
        edges:
          - {source: input, sourceHandle: item, target: inner, targetHandle: array}
          - {source: inner, sourceHandle: results, target: output, targetHandle: squares}
edges:
  - {source: input, sourceHandle: rows, target: outer, targetHandle: array}
  - {source: outer, sourceHandle: results, target: output, targetHandle: squares}
"""


def test_nested_loops_send_their_items_to_the_cluster_too(client: Client, tmp_path: Path) -> None:
    module = compiled(tmp_path, NESTED)
    local, remote = Recorder(), Recorder()
    here = module.run(hooks=local)
    with get_task_stream(client) as stream:
        there = module.run(hooks=remote, executor=client)
    assert there == here
    assert here.squares == [[1, 4], [9, 16, 25], [36]]
    assert remote.kinds() == local.kinds()
    items = [t for t in stream.data if "-items-" in str(t["key"])]
    # 3 outer items, then the inner items of the rows with more than one.
    assert len(items) >= 3 + 2 + 3


def test_pins_fails_and_the_cache_serve_loop_items_on_the_cluster(
    client: Client, tmp_path: Path
) -> None:
    module = compiled(tmp_path, PIDS.replace("time.sleep(0.2)", "time.sleep(0)"))
    pinned = module.run(pins={"each.body.where": [0, 0]}, executor=client)
    assert pinned.items == [[0, 0]] * 6
    with pytest.raises(NodeError, match="injected"):
        module.run(fail={"both.branch1.b": RuntimeError("injected")}, executor=client)
    db = tmp_path / "cache.db"
    first, second, third = Recorder(), Recorder(), Recorder()
    stored = module.run(cache=rt.Cache(db=db, journal=True), executor=client, hooks=first)
    cached = module.run(cache=rt.Cache(db=db), executor=client, hooks=second)
    assert cached == stored  # the pids too: every item's value came from the first run
    served = [e for e in second.events if e.kind == "node.completed"]
    kinds = {e.node_id: e.supplied for e in served}  # type: ignore[attr-defined]
    assert kinds["each"] is None and kinds["each.body.where"] == "cached"
    assert len([e for e in served if e.node_id == "each.body.where"]) == 6  # type: ignore[attr-defined]
    resumed = module.run(
        cache=rt.Cache(db=db, resume=first.events[0].run_id), executor=client, hooks=third
    )
    assert resumed == stored
    assert {
        e.supplied for e in third.events if e.kind == "node.completed"  # type: ignore[attr-defined]
    } == {"resumed"}


def test_many_items_go_in_a_few_batches(client: Client, tmp_path: Path) -> None:
    module = compiled(
        tmp_path,
        PIDS.replace("time.sleep(0.2)", "time.sleep(0)").replace("[1, 2, 3, 4, 5, 6]", "[]"),
    )
    items = list(range(500))
    with get_task_stream(client) as stream:
        there = module.run(module.Inputs(items=items), executor=client)
    assert [value for value, _ in there.items] == [k * 10 for k in items]
    batches = [t for t in stream.data if "-items-" in str(t["key"])]
    threads = sum(client.nthreads().values())
    # concurrency 3, 4 threads: 3 at once, 4 batches each; and the 2 parallel branches.
    assert 1 < len(batches) <= min(3, threads) * 4 + 2


SLEEPY_LOOP = """
id: sleepy-loop
variables:
  items: {type: array, defaultValue: [1, 2, 3, 4]}
nodes:
  - id: each
    type: loop
    parameters:
      concurrency: 2
      body:
        nodes:
          - {id: nap, type: shell-command, parameters: {program: sleep, args: ["30"]}}
        edges:
          - {source: nap, sourceHandle: exitCode, target: output, targetHandle: code}
edges:
  - {source: input, sourceHandle: items, target: each, targetHandle: array}
  - {source: each, sourceHandle: results, target: output, targetHandle: codes}
"""


@pytest.mark.slow
def test_cancel_mid_loop_leaves_no_item_task_or_program(
    process_client: Client, tmp_path: Path
) -> None:
    module = compiled(tmp_path, SLEEPY_LOOP)
    recorder = Recorder()
    token = rt.CancelToken()

    def cancel_when_running() -> None:
        give_up = time.monotonic() + 30
        while time.monotonic() < give_up and len(sleeping_children()) < 2:
            time.sleep(0.02)
        token.cancel("stop the loop")

    canceller = threading.Thread(target=cancel_when_running)
    canceller.start()
    started = time.monotonic()
    with pytest.raises(CancelledError, match="stop the loop"):
        module.run(hooks=recorder, cancel=token, executor=process_client)
    canceller.join()
    assert time.monotonic() - started < 25
    assert_nothing_left(process_client, recorder)
    assert recorder.events[-1].kind == "execution.cancelled"
    assert ("node.started", "each.body.nap") in recorder.kinds()


RACE = """
id: race
nodes:
  - id: first
    type: parallel
    parameters:
      strategy: race
      branches:
        - nodes:
            - {id: slow, type: shell-command, parameters: {program: sleep, args: ["30"]}}
          edges:
            - {source: slow, sourceHandle: exitCode, target: output, targetHandle: code}
        - nodes:
            - {id: fast, type: code, parameters: {code: "import time\\ntime.sleep(0.5)\\nreturn 'fast'"}}
          edges:
            - {source: fast, target: output, targetHandle: code}
edges:
  - {source: first, sourceHandle: results, target: output, targetHandle: winner}
"""


def test_a_lost_race_stops_its_branch_on_the_cluster(client: Client, tmp_path: Path) -> None:
    module = compiled(tmp_path, RACE)
    started = time.monotonic()
    recorder = Recorder()
    there = module.run(executor=client, hooks=recorder)
    assert there.winner == ["fast"]
    assert time.monotonic() - started < 20  # the sleeping branch was cancelled, not awaited
    assert sleeping_children() == []
    assert_nothing_left(client, recorder)


def test_a_local_loop_or_parallel_run_imports_no_cluster_library(tmp_path: Path) -> None:
    (tmp_path / "flow.yaml").write_text(
        textwrap.dedent(PIDS).replace("0.2", "0").replace("0.3", "0")
    )
    script = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        from atomiton.compiler import CompileOptions, compile_blueprint, load_module
        folder = Path({str(tmp_path)!r})
        options = CompileOptions(root=folder, search_path=(), store=folder / "store")
        module = load_module(compile_blueprint(folder / "flow.yaml", options=options))
        print(len(module.run().items), len(module.run(concurrency=2).branches))
        print(sorted(m for m in sys.modules if m.split(".")[0] in ("distributed", "dask")))
        """)
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )
    assert result.stdout.split("\n")[:2] == ["6 2", "[]"]


RETRIED = """
id: retried
variables:
  items: {type: array, defaultValue: [1, 2, 3]}
  marks: {type: string, defaultValue: ""}
nodes:
  - id: each
    type: loop
    parameters:
      concurrency: 3
      body:
        nodes:
          - id: flaky
            type: code
            parameters:
              retries: 1
              retryDelay: 0.01
              code: |
                import pathlib
                mark = pathlib.Path(inputs.marks) / str(data)
                if not mark.exists():
                    mark.write_text("once")
                    raise RuntimeError("first attempt")
                return data
        edges:
          - {source: input, sourceHandle: item, target: flaky}
          - {source: flaky, target: output, targetHandle: value}
edges:
  - {source: input, sourceHandle: items, target: each, targetHandle: array}
  - {source: each, sourceHandle: results, target: output, targetHandle: values}
"""


def test_retries_of_items_run_on_the_workers_and_report_back(
    client: Client, tmp_path: Path
) -> None:
    module = compiled(tmp_path, RETRIED)
    results = []
    for name in ("here", "there"):
        marks = tmp_path / name
        marks.mkdir()
        recorder = Recorder()
        options: dict[str, Any] = {"executor": client} if name == "there" else {}
        outputs = module.run(module.Inputs(marks=str(marks)), hooks=recorder, **options)
        results.append((outputs, recorder.kinds()))
    (here, local), (there, remote) = results
    assert there == here and here.values == [1, 2, 3]
    assert remote == local
    assert local.count(("node.retrying", "each.body.flaky")) == 3


TIMED_OUT = """
id: timed-out
nodes:
  - id: both
    type: parallel
    parameters:
      operationTimeout: 400
      branches:
        - nodes:
            - {id: slow, type: shell-command, parameters: {program: sleep, args: ["30"]}}
          edges:
            - {source: slow, sourceHandle: exitCode, target: output, targetHandle: code}
        - nodes:
            - {id: fast, type: code, parameters: {code: "return 'fast'"}}
          edges:
            - {source: fast, target: output, targetHandle: code}
edges:
  - {source: both, sourceHandle: results, target: output, targetHandle: codes}
"""


def test_a_branch_timeout_fails_as_locally_and_kills_the_program(
    client: Client, tmp_path: Path
) -> None:
    module = compiled(tmp_path, TIMED_OUT)
    here = failure(module)
    started = time.monotonic()
    recorder = Recorder()
    there = failure(module, executor=client, hooks=recorder)
    assert time.monotonic() - started < 20
    assert str(there) == str(here)
    assert "operationTimeout (400 ms)" in str(there) and there.node_id == "both"
    assert sleeping_children() == []
    assert_nothing_left(client, recorder)
