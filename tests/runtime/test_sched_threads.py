"""The run's concurrency limit bounds the threads that run its nodes: tasks, parallel branches,
loop items and calls under a node timeout, through compiled flows.

Each sleeping node records, from inside, how many such nodes run at that instant and which
threads the run has started (``threading.enumerate()`` against the threads alive before it).
"""

from __future__ import annotations

import sys
import textwrap
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from atomiton.compiler import CompileOptions, compile_blueprint, load_module

SAMPLER = """
import threading
import time

LOCK = threading.Lock()
RUNNING = [0]
PEAK = [0]
TARGET = [0]  # how many nodes should overlap: each waits (a while) until that many did
STARTED: list[int] = []
BEFORE: set[threading.Thread] = set()


def nap(data: int) -> int:
    with LOCK:
        RUNNING[0] += 1
        PEAK[0] = max(PEAK[0], RUNNING[0])
        STARTED.append(len(set(threading.enumerate()) - BEFORE))
    # Wait until the expected number overlapped, so a busy machine cannot hide parallelism.
    give_up = time.monotonic() + 2.0
    while PEAK[0] < TARGET[0] and time.monotonic() < give_up:
        time.sleep(0.002)
    time.sleep(0.01)
    with LOCK:
        STARTED.append(len(set(threading.enumerate()) - BEFORE))
        RUNNING[0] -= 1
    return data
"""


@pytest.fixture
def sampler(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    name = f"schedsampler_{uuid.uuid4().hex[:10]}"
    (tmp_path / f"{name}.py").write_text(SAMPLER)
    monkeypatch.syspath_prepend(str(tmp_path))
    module = __import__(name)
    yield module
    sys.modules.pop(name, None)


def compiled(tmp_path: Path, text: str) -> ModuleType:
    path = tmp_path / "flow.yaml"
    path.write_text(textwrap.dedent(text))
    options = CompileOptions(root=tmp_path, search_path=(), store=tmp_path / "store")
    return load_module(compile_blueprint(path, options=options))


def branches(sampler: str, count: int, extra: str = "") -> str:
    lines = []
    for b in range(count):
        lines += [
            "        - nodes:",
            f"            - {{id: s{b}, type: python, function: '{sampler}:nap'{extra}}}",
            "          edges:",
            f"            - {{source: input, target: s{b}}}",
            f"            - {{source: s{b}, target: output, targetHandle: value}}",
        ]
    return "\n".join(lines)


def run_sampled(module: ModuleType, sampler: ModuleType, concurrency: int) -> object:
    # Threads alive before the run (the test runner's own) are not the run's.
    sampler.BEFORE.update(threading.enumerate())
    sampler.TARGET[0] = concurrency
    return module.run(module.Inputs(), concurrency=concurrency)


def parallel_flow(sampler: str, extra: str = "") -> str:
    return f"""
id: twenty
nodes:
  - id: fan
    type: parallel
    parameters:
      concurrency: 20
      branches:
{branches(sampler, 20, extra)}
"""


def test_twenty_sleeping_branches_at_concurrency_4_use_at_most_4_threads(
    tmp_path: Path, sampler: ModuleType
) -> None:
    module = compiled(tmp_path, parallel_flow(sampler.__name__))
    out = run_sampled(module, sampler, 4)
    assert out.model_dump() == {"fan": [None] * 20}  # type: ignore[attr-defined]
    assert sampler.PEAK[0] == 4  # the limit, and parallelism up to it
    assert len(sampler.STARTED) == 40 and max(sampler.STARTED) <= 4


def test_branches_with_a_node_timeout_still_run_at_most_4_at_once(
    tmp_path: Path, sampler: ModuleType
) -> None:
    # A node timeout calls the node on a helper thread; the limit still bounds the calls.
    module = compiled(tmp_path, parallel_flow(sampler.__name__, ", parameters: {timeout: 5000}"))
    run_sampled(module, sampler, 4)
    assert sampler.PEAK[0] == 4


def test_loop_items_at_concurrency_10_run_at_most_3_at_once_under_a_limit_of_3(
    tmp_path: Path, sampler: ModuleType
) -> None:
    module = compiled(
        tmp_path,
        f"""
        id: items
        variables:
          items: {{type: array, defaultValue: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]}}
        nodes:
          - id: each
            type: loop
            parameters:
              concurrency: 10
              body:
                nodes:
                  - {{id: step, type: python, function: '{sampler.__name__}:nap'}}
                edges:
                  - {{source: input, sourceHandle: item, target: step}}
                  - {{source: step, target: output, targetHandle: value}}
        edges:
          - {{source: input, sourceHandle: items, target: each, targetHandle: array}}
        """,
    )
    run_sampled(module, sampler, 3)
    assert sampler.PEAK[0] == 3
    assert max(sampler.STARTED) <= 3


def test_thread_tasks_never_outnumber_the_limit(tmp_path: Path, sampler: ModuleType) -> None:
    nodes = "\n".join(
        f"  - {{id: t{k}, type: python, function: '{sampler.__name__}:nap', "
        "parameters: {execution: thread}}"
        for k in range(12)
    )
    edges = "\n".join(f"  - {{source: input, sourceHandle: x, target: t{k}}}" for k in range(12))
    module = compiled(
        tmp_path,
        f"id: tasks\nvariables:\n  x: {{type: integer, defaultValue: 1}}\nnodes:\n{nodes}\n"
        f"edges:\n{edges}\n",
    )
    run_sampled(module, sampler, 3)
    assert sampler.PEAK[0] == 3
    assert max(sampler.STARTED) <= 3
