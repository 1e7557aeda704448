"""JavaScript node code against the same work in Python, over a 10,000-item array.

Rows are ``{"id", "amount", "active"}`` objects. Each row of the table is one compiled flow run
(or, for the floors, one plain call), timed as the median of several runs in this process:

* Python floor: the list comprehension by hand; Python transform: the compiled flow.
* JavaScript transform: the compiled flow with ``runtime: javascript`` (the engine is made on the
  run's first JavaScript node and closed at its end, so each run pays for one engine).
* JavaScript, one call per item: what passing items one at a time would cost (the run's engine
  reused), the reason the node passes the whole array in one call.
* Engine start: making and closing one engine with the runner installed.

Run: ``python benchmarks/javascript.py [--items 10000] [--repeat 7]`` (prints a markdown table).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from atomiton.compiler import compile_blueprint, load_module
from atomiton.nodes.javascript_engine import EnginePool, run_javascript
from atomiton.nodes.javascript_source import function_of
from atomiton.runtime.context import NodeContext
from atomiton.runtime.resources import RunResources

FLOW = """\
id: bench-{runtime}
interface:
  inputs: [{{id: rows, type: array}}]
nodes:
  - id: active
    type: transform
    parameters: {{runtime: {runtime}, operation: filter, transformFunction: "{filter}"}}
  - id: doubled
    type: transform
    parameters: {{runtime: {runtime}, operation: map, transformFunction: "{map}"}}
edges:
  - {{source: input.rows, target: active}}
  - {{source: active, target: doubled}}
"""

PYTHON = {"filter": "item['active']", "map": "item['amount'] * 2"}
JAVASCRIPT = {"filter": "item => item.active", "map": "item => item.amount * 2"}


def rows(n: int) -> list[dict[str, Any]]:
    return [{"id": i, "amount": i % 97, "active": i % 3 != 0} for i in range(n)]


def median_seconds(fn: Callable[[], object], repeat: int) -> float:
    fn()  # warm up (imports, the engine library's first load)
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def flow(folder: Path, runtime: str, code: dict[str, str]) -> Any:
    path = folder / f"{runtime}.yaml"
    path.write_text(FLOW.format(runtime=runtime, **code))
    return load_module(compile_blueprint(path))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    data = rows(args.items)
    expected = [r["amount"] * 2 for r in data if r["active"]]

    with tempfile.TemporaryDirectory() as folder:
        python_flow = flow(Path(folder), "python", PYTHON)
        js_flow = flow(Path(folder), "javascript", JAVASCRIPT)
    assert python_flow.run(python_flow.Inputs(rows=data)).doubled == expected
    assert js_flow.run(js_flow.Inputs(rows=data)).doubled == expected

    per_item = function_of("item => item.amount * 2", ("item", "index"))
    context = NodeContext("bench")
    context.resources = RunResources()
    sample = data[: max(1, args.items // 10)]  # one call per item is slow: time a tenth, scale

    def one_call_per_item() -> None:
        for row in sample:
            run_javascript(per_item, "map", [row], {}, context=context)

    def engine_start() -> None:
        pool = EnginePool()
        with pool.engine():
            pass
        pool.close()

    timings = [
        (
            "Python floor (list comprehension)",
            lambda: [r["amount"] * 2 for r in data if r["active"]],
        ),
        (
            "Python transform (compiled flow)",
            lambda: python_flow.run(python_flow.Inputs(rows=data)),
        ),
        ("JavaScript transform (compiled flow)", lambda: js_flow.run(js_flow.Inputs(rows=data))),
    ]
    results = [(name, median_seconds(fn, args.repeat)) for name, fn in timings]
    scale = len(data) / len(sample)
    results.append(
        (
            "JavaScript, one call per item (scaled)",
            median_seconds(one_call_per_item, max(3, args.repeat // 2)) * scale,
        )
    )
    context.resources.close()
    start = median_seconds(engine_start, args.repeat)

    floor = results[0][1]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{args.items:,} items: filter then map; median of {args.repeat} runs; load {load:.1f}")
    print()
    print("| run | median ms | x floor |")
    print("| --- | ---: | ---: |")
    for name, seconds in results:
        print(f"| {name} | {seconds * 1000:.2f} | {seconds / floor:.1f} |")
    print(f"| engine start (make and close one) | {start * 1000:.2f} | |")


if __name__ == "__main__":
    main()
