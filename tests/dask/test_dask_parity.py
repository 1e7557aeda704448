"""The golden flows and the examples give the same outputs and events on a cluster as locally."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from distributed import Client, get_task_stream

from atomiton import runtime as rt
from atomiton.errors import NodeError
from dask_flows import Recorder, compiled

ROOT = Path(__file__).resolve().parent.parent.parent
GOLDEN = ROOT / "tests" / "golden"
EXAMPLES = ROOT / "examples"
CASES = sorted(p for p in GOLDEN.iterdir() if (p / "blueprint.yaml").is_file())

sys.path.insert(0, str(GOLDEN))
from test_golden import case_inputs, load_expected  # noqa: E402


def both_ways(
    module: ModuleType, inputs: Any, client: Client, **options: Any
) -> tuple[Any, Recorder, Any, Recorder]:
    """Run ``module`` locally, then on ``client``: (local outputs, events, dask outputs, events)."""
    local, remote = Recorder(), Recorder()
    here = module.run(inputs, hooks=local, **options)
    with get_task_stream(client) as stream:
        there = module.run(inputs, hooks=remote, executor=client, **options)
    run_id = remote.events[0].run_id
    ran = [t["key"] for t in stream.data if str(t["key"]).startswith(f"atomiton-{run_id}-")]
    assert ran, "no task of the run ran on the cluster"
    return here, local, there, remote


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_golden_flow_on_a_cluster_matches_a_local_run(
    case: Path, client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the in-process workers share this working directory
    module = load_expected(case)
    inputs = module.Inputs(**case_inputs(case))
    here, local, there, remote = both_ways(module, inputs, client)
    assert there == here
    assert there.model_dump(mode="json") == json.loads((case / "outputs.json").read_text())
    assert remote.kinds() == local.kinds()
    for node, kinds in remote.per_node().items():
        # In order per node: nothing ends before it started (a loop body's node runs once per
        # item, concurrently, so only this prefix rule holds for it, locally as well).
        for end in range(len(kinds)):
            prefix = kinds[: end + 1]
            assert prefix.count("node.completed") <= prefix.count("node.started"), node
    progress = [e for e in remote.events if e.kind == "execution.progress"]
    assert progress and progress[-1].percent == 100.0  # type: ignore[attr-defined]


def example(name: str, folder: Path) -> ModuleType:
    return compiled(folder, (EXAMPLES / name).read_text(), name)


@pytest.mark.parametrize(
    ("name", "inputs"),
    [
        ("hello_world.yaml", {"name": "Ada", "outPath": "greetings/hello.txt"}),
        ("data_transform.yaml", {"ordersPath": str(EXAMPLES / "data" / "orders.csv")}),
        ("fan_in.yaml", {"ordersPath": str(EXAMPLES / "data" / "orders.csv")}),
        ("shell_report.yaml", {"folder": str(EXAMPLES / "data"), "outPath": "du.csv"}),
    ],
)
def test_example_on_a_cluster_matches_a_local_run(
    name: str,
    inputs: dict[str, str],
    client: Client,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    module = example(name, tmp_path)
    known = {k: v for k, v in inputs.items() if k in module.Inputs.model_fields}
    here, local, there, remote = both_ways(module, module.Inputs(**known), client)
    assert there == here
    assert remote.kinds() == local.kinds()


FAILING = """
id: failing
variables:
  numbers: {type: array, defaultValue: [1, 2, 0]}
nodes:
  - id: first
    type: code
    parameters: {code: "return [n * 2 for n in data]"}
  - id: divide
    type: code
    parameters:
      code: |
        total = 0
        for n in data:
            total += 10 / n
        return total
edges:
  - {source: input, sourceHandle: numbers, target: first}
  - {source: first, target: divide}
"""


def test_a_node_failing_on_a_worker_raises_the_same_node_error(
    client: Client, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    module = compiled(tmp_path, FAILING)
    with pytest.raises(NodeError) as local:
        module.run()
    recorder = Recorder()
    with pytest.raises(NodeError) as remote:
        module.run(hooks=recorder, executor=client)
    for field in ("node_id", "node_type", "source", "line", "column", "statement", "message"):
        assert getattr(remote.value, field) == getattr(local.value, field), field
    assert str(remote.value) == str(local.value)
    assert remote.value.__notes__ == local.value.__notes__
    assert remote.value.node_id == "divide" and "ZeroDivisionError" in str(remote.value)
    failed = [e for e in recorder.events if e.kind == "node.failed"]
    assert [e.node_id for e in failed] == ["divide"]  # type: ignore[attr-defined]
    assert failed[0].error_type == "ZeroDivisionError"  # type: ignore[attr-defined]
    assert recorder.events[-1].kind == "execution.failed"
    # The failure is the run's error, not a Dask "Compute Failed" log with a traceback.
    assert not [r for r in caplog.records if "Compute Failed" in r.getMessage()]


RETRIED = """
id: retried
variables:
  marker: {type: string, defaultValue: ""}
nodes:
  - id: flaky
    type: code
    parameters:
      retries: 2
      retryDelay: 0.01
      code: |
        import os
        if not os.path.exists(data):
            open(data, "w").close()
            raise ValueError("first attempt fails")
        return "second attempt"
edges:
  - {source: input, sourceHandle: marker, target: flaky}
"""


def test_retries_run_on_the_worker_and_report_back(client: Client, tmp_path: Path) -> None:
    module = compiled(tmp_path, RETRIED)
    recorder = Recorder()
    marker = str(tmp_path / "marker")
    out = module.run(module.Inputs(marker=marker), hooks=recorder, executor=client)
    assert list(out.model_dump().values()) == ["second attempt"]
    assert recorder.per_node()["flaky"] == [
        "node.started",
        "node.retrying",
        "node.started",
        "node.completed",
    ]


def test_threads_and_unknown_executors(tmp_path: Path) -> None:
    module = compiled(tmp_path, FAILING.replace("0]", "5]"))
    assert module.run(executor="threads") == module.run()
    with pytest.raises(ValueError, match="unknown executor"):
        module.run(executor="spark")


def test_a_local_run_does_not_import_distributed(tmp_path: Path) -> None:
    (tmp_path / "flow.yaml").write_text(textwrap.dedent(FAILING.replace("0]", "5]")))
    script = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        from atomiton.compiler import CompileOptions, compile_blueprint, load_module
        folder = Path({str(tmp_path)!r})
        options = CompileOptions(root=folder, search_path=(), store=folder / "store")
        module = load_module(compile_blueprint(folder / "flow.yaml", options=options))
        module.run(executor="threads")
        module.run()
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
    assert result.stdout.strip() == "[]"


WHERE = """
id: where
nodes:
  - id: thread
    type: code
    parameters: {code: "import threading\\nreturn threading.current_thread().name"}
edges:
  - {source: thread, target: output, targetHandle: thread}
"""


def test_the_blueprint_default_and_arun_run_on_dask(client: Client, tmp_path: Path) -> None:
    module = compiled(tmp_path, WHERE)
    assert "Dask-" not in module.run().thread
    on_cluster = asyncio.run(module.arun(executor=client))
    assert "Dask-" in on_cluster.thread
    # ``settings.runtime.executor`` reaches the runtime as BLUEPRINT.executor.
    blueprint = dataclasses.replace(module.BLUEPRINT, executor="dask-threads")
    by_default = rt.run(blueprint, module._execute, module.Inputs())
    assert "Dask-" in by_default.thread
    assert rt.run(blueprint, module._execute, module.Inputs(), executor="threads") == module.run()
