"""A 10,000-node flow compiles, loads and runs through the real pipeline with the right result.

Timings are printed (``pytest -s``) so a regression in compile speed is visible; the asserted
bounds are generous, to fail only on a pathological slowdown.
"""

from __future__ import annotations

import time
from pathlib import Path

from conftest import ModFactory, compile_flow
from rel_support import Recorder

from atomiton import runtime as rt

NODES = 10_000


def _chain_yaml(module: str, width: int, length: int, *, threads: bool = False) -> str:
    """``width`` independent chains of ``length`` python nodes, each adding 1 to ``start``.

    With ``threads`` the head of each chain runs on a worker thread, so the chains become tasks
    of the scheduler instead of one fused function.
    """
    lines = ["id: big", "variables:", "  start: {type: integer, defaultValue: 0}", "nodes:"]
    for w in range(width):
        for i in range(length):
            extra = ", parameters: {execution: thread}" if threads and i == 0 else ""
            lines.append(f"  - {{id: c{w}_{i}, type: python, function: '{module}:inc'{extra}}}")
    lines.append("edges:")
    for w in range(width):
        lines.append(f"  - {{source: input, sourceHandle: start, target: c{w}_0}}")
        for i in range(1, length):
            lines.append(f"  - {{source: c{w}_{i - 1}, target: c{w}_{i}}}")
    return "\n".join(lines) + "\n"


INC = """
def inc(data: int) -> int:
    return data + 1
"""


def _build(
    tmp_path: Path, pymod: ModFactory, width: int, length: int, *, threads: bool = False
) -> tuple[object, float]:
    text = _chain_yaml(pymod(INC), width, length, threads=threads)
    started = time.perf_counter()
    module = compile_flow(tmp_path, text, name=f"big_{width}x{length}")
    elapsed = time.perf_counter() - started
    print(f"\n{width}x{length} python nodes: compile+load {elapsed:.2f}s")
    return module, elapsed


def test_ten_thousand_node_chain(tmp_path: Path, pymod: ModFactory) -> None:
    module, elapsed = _build(tmp_path, pymod, 1, NODES)
    assert elapsed < 60
    started = time.perf_counter()
    out = module.run(module.Inputs(start=7))  # type: ignore[attr-defined]
    print(f"run (no hooks) {time.perf_counter() - started:.3f}s")
    assert out.model_dump() == {f"c0_{NODES - 1}": 7 + NODES}
    # The observed path: one started and one completed event per node, progress reaches 100.
    rec = Recorder()
    started = time.perf_counter()
    out = module.run(module.Inputs(start=-NODES), hooks=rec)  # type: ignore[attr-defined]
    print(f"run (hooked) {time.perf_counter() - started:.3f}s")
    assert out.model_dump() == {f"c0_{NODES - 1}": 0}
    assert len(rec.of(rt.NodeStarted)) == NODES
    assert len(rec.of(rt.NodeCompleted)) == NODES
    assert rec.of(rt.ExecutionProgress)[-1].percent == 100.0
    assert rec.kinds()[-1] == "execution.completed"


def test_wide_flow_of_thread_tasks(tmp_path: Path, pymod: ModFactory) -> None:
    # 100 chains of 20 nodes whose heads are thread tasks: 100 tasks under a limit of 4.
    width, length = 100, 20
    module, _ = _build(tmp_path, pymod, width, length, threads=True)
    code_tasks = module._TASKS  # type: ignore[attr-defined]
    assert len(code_tasks) >= width
    out = module.run(module.Inputs(start=1), concurrency=4)  # type: ignore[attr-defined]
    assert out.model_dump() == {f"c{w}_{length - 1}": 1 + length for w in range(width)}
    rec = Recorder()
    out = module.run(module.Inputs(start=2), concurrency=4, hooks=rec)  # type: ignore[attr-defined]
    assert out.model_dump() == {f"c{w}_{length - 1}": 2 + length for w in range(width)}
    assert len(rec.of(rt.NodeCompleted)) == width * length
