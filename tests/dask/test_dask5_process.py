"""``execution: process`` nodes on a Dask worker process run in that process, with a note."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from distributed import Client

from dask_flows import Recorder, compiled

PROCESS = """
id: in-worker
nodes:
  - id: where
    type: python
    function: "dask5_where:pid"
    parameters: {execution: process}
    inputPorts: [{id: text, dataType: string}]
    outputPorts: [{id: pid, dataType: integer}]
  - id: dedent
    type: python
    function: "textwrap:dedent"
    parameters: {execution: process}
    inputPorts: [{id: text, dataType: string}]
    outputPorts: [{id: result, dataType: string}]
edges:
  - {source: input, sourceHandle: text, target: where, targetHandle: text}
  - {source: input, sourceHandle: text, target: dedent, targetHandle: text}
  - {source: where, target: output, targetHandle: pid}
  - {source: dedent, target: output, targetHandle: text}
variables:
  text: {type: string, defaultValue: "  a\\n  b"}
"""


WHERE = """\
import os


def pid(text: str) -> int:
    return os.getpid()
"""


def where_module(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, client: Client | None = None
) -> None:
    """``dask5_where`` importable here, in process pools and on ``client``'s worker processes."""
    (tmp_path / "dask5_where.py").write_text(WHERE)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    if client is not None:
        client.upload_file(str(tmp_path / "dask5_where.py"))


def test_process_nodes_run_in_the_worker_process_with_a_note(
    process_client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    where_module(tmp_path, monkeypatch, process_client)
    module = compiled(tmp_path, PROCESS)
    local = module.run()
    recorder = Recorder()
    there = module.run(executor=process_client, hooks=recorder)
    assert there.text == local.text == "a\nb"
    workers = set(process_client.run(_pid).values())
    assert there.pid in workers  # the worker process itself, not a child of it
    notes = [e for e in recorder.events if e.kind == "log" and "Dask worker" in e.message]  # type: ignore[attr-defined]
    assert notes and all(e.level == "info" for e in notes)  # type: ignore[attr-defined]


def test_process_nodes_on_an_in_process_cluster_still_get_a_process(
    client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    where_module(tmp_path, monkeypatch)  # the workers share this process
    module = compiled(tmp_path, PROCESS)
    recorder = Recorder()
    there = module.run(executor=client, hooks=recorder)
    assert there.pid != os.getpid()  # this process may start workers: a real pool runs it
    assert not [e for e in recorder.events if e.kind == "log"]


def _pid() -> int:
    return os.getpid()
