"""Per-node cost of compiled flows against hand-written Python and a naive interpreter.

Rows (issue "The runtime"): (a) a chain of trivial nodes, (b) a fan-out/fan-in of trivial
nodes, each with no hooks and with one hook attached, and (d) the import time of a generated
1,000-node module. Every row is measured in this process, in this run, as the median of repeats:

* floor: the same calls written by hand as straight-line Python;
* naive: graphlib order + a dict of results + a generic call per node;
* compiled: the module atomiton generates, called through ``run()``;
* one hook: the same run with a hook that looks at every event, with a hook that declares it
  wants only ``node.completed`` events (the rest are then never built), and with a hook of run
  events only (``execution.*``: the nodes then run as with no hook).

Run: ``python benchmarks/runtime_overhead.py`` (prints a markdown table). On a busy machine add
``--cpu``: rows (a) and (b), which run in one thread, are then timed with this thread's CPU clock
(``time.thread_time``) instead of the wall clock, so time spent waiting for a core is not counted;
(c) and (d) stay on the wall clock.
"""

from __future__ import annotations

import graphlib
import importlib
import os
import statistics
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from atomiton.compiler import CompileOptions, compile_blueprint
from atomiton.runtime import (
    ExecutionCancelled,
    ExecutionCompleted,
    ExecutionFailed,
    ExecutionStarted,
    NodeCompleted,
)

TRIVIAL = """
import time


def inc(data: int) -> int:
    return data + 1


def block(data: int) -> int:
    time.sleep(0.001)
    return data


def total(items: list[int]) -> int:
    return sum(items)
"""


def chain_yaml(n: int) -> str:
    lines = [
        "id: chain",
        "interface:",
        "  inputs: [{id: x, dataType: integer, default: 0}]",
        "nodes:",
    ]
    lines += [f"  - {{id: n{i}, type: python, function: 'trivial:inc'}}" for i in range(n)]
    lines += ["edges:", "  - {source: input, sourceHandle: x, target: n0}"]
    lines += [f"  - {{source: n{i}, target: n{i + 1}}}" for i in range(n - 1)]
    return "\n".join(lines) + "\n"


def fan_yaml(n: int) -> str:
    lines = [
        "id: fan",
        "interface:",
        "  inputs: [{id: x, dataType: integer, default: 0}]",
        "nodes:",
    ]
    lines += ["  - {id: src, type: python, function: 'trivial:inc'}"]
    lines += [f"  - {{id: n{i}, type: python, function: 'trivial:inc'}}" for i in range(n)]
    lines += [
        "  - id: sink",
        "    type: python",
        "    function: 'trivial:total'",
        "    inputPorts: [{id: items, dataType: 'array<integer>', multiple: true}]",
    ]
    lines += ["edges:", "  - {source: input, sourceHandle: x, target: src}"]
    lines += [f"  - {{source: src, target: n{i}}}" for i in range(n)]
    lines += [f"  - {{source: n{i}, target: sink, targetHandle: items}}" for i in range(n)]
    return "\n".join(lines) + "\n"


def blocking_yaml(n: int) -> str:
    """(c): n independent nodes that each block 1 ms, then a sink that sums them."""
    lines = [
        "id: blocking",
        "interface:",
        "  inputs: [{id: x, dataType: integer, default: 0}]",
        "nodes:",
    ]
    lines += [
        f"  - {{id: b{i}, type: python, function: 'trivial:block', parameters: {{execution: thread}}}}"
        for i in range(n)
    ]
    lines += [
        "  - id: sink",
        "    type: python",
        "    function: 'trivial:total'",
        "    inputPorts: [{id: items, dataType: 'array<integer>', multiple: true}]",
    ]
    lines += ["edges:"]
    lines += [f"  - {{source: input, sourceHandle: x, target: b{i}}}" for i in range(n)]
    lines += [f"  - {{source: b{i}, target: sink, targetHandle: items}}" for i in range(n)]
    return "\n".join(lines) + "\n"


def chain_floor(n: int, inc: Callable[[int], int]) -> Callable[[int], int]:
    body = "\n".join("    v = inc(v)" for _ in range(n))
    namespace: dict[str, Any] = {"inc": inc}
    exec(f"def floor(v):\n{body}\n    return v\n", namespace)
    return namespace["floor"]  # type: ignore[no-any-return]


def fan_floor(
    n: int, inc: Callable[[int], int], total: Callable[[list[int]], int]
) -> Callable[[int], int]:
    body = "\n".join(f"    v{i} = inc(s)" for i in range(n))
    items = ", ".join(f"v{i}" for i in range(n))
    namespace: dict[str, Any] = {"inc": inc, "total": total}
    exec(f"def floor(x):\n    s = inc(x)\n{body}\n    return total([{items}])\n", namespace)
    return namespace["floor"]  # type: ignore[no-any-return]


def naive(graph: dict[str, list[str]], functions: dict[str, Callable[..., Any]], x: int) -> Any:
    """The interpreter a compiler should beat: topological order, dict of results, generic calls."""
    results: dict[str, Any] = {}
    for node in graphlib.TopologicalSorter(graph).static_order():
        deps = graph[node]
        if not deps:
            results[node] = functions[node](x)
        elif len(deps) == 1 and node != "sink":
            results[node] = functions[node](results[deps[0]])
        else:
            results[node] = functions[node]([results[d] for d in deps])
    return results


def median_seconds(
    fn: Callable[[], object],
    *,
    repeat: int,
    number: int,
    clock: Callable[[], float] = time.perf_counter,
) -> float:
    samples = []
    for _ in range(repeat):
        start = clock()
        for _ in range(number):
            fn()
        samples.append((clock() - start) / number)
    return statistics.median(samples)


class OneHook:
    """A hook that looks at every event, as a progress bar would."""

    def __init__(self) -> None:
        self.count = 0

    def on_event(self, event: object) -> None:
        self.count += 1


class CompletedHook(OneHook):
    """A hook that declares the one event type it wants, as a per-node log line would."""

    event_types = (NodeCompleted,)


class RunEventsHook(OneHook):
    """A hook of how runs start and end only, as a notifier would."""

    event_types = (ExecutionStarted, ExecutionCompleted, ExecutionFailed, ExecutionCancelled)


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    # (a) and (b) run in this thread alone, so its CPU clock measures them fully.
    clock = time.thread_time if "--cpu" in sys.argv[1:] else time.perf_counter
    work = Path(tempfile.mkdtemp(prefix="atomiton-bench-"))
    (work / "trivial.py").write_text(TRIVIAL)
    sys.path.insert(0, str(work))
    import trivial  # type: ignore[import-not-found]

    options = CompileOptions(root=work)
    load_at_start = load()
    rows: list[tuple[str, float, float, float, float, float, float]] = []
    for label, make_yaml, n in (
        ("(a) chain", chain_yaml, 100),
        ("(a) chain", chain_yaml, 1000),
        ("(b) fan-out/fan-in", fan_yaml, 100),
        ("(b) fan-out/fan-in", fan_yaml, 1000),
    ):
        name = f"{make_yaml.__name__[:-5]}_{n}"
        path = work / f"{name}.yaml"
        path.write_text(make_yaml(n))
        compiled = compile_blueprint(path, options=options)
        (work / f"{name}.py").write_text(compiled.code)
        module = importlib.import_module(name)
        inputs = module.Inputs(x=0)
        if make_yaml is chain_yaml:
            floor = chain_floor(n, trivial.inc)
            graph = {"n0": [], **{f"n{i}": [f"n{i - 1}"] for i in range(1, n)}}
            functions = {f"n{i}": trivial.inc for i in range(n)}
            nodes = n
        else:
            floor = fan_floor(n, trivial.inc, trivial.total)
            graph = {
                "src": [],
                **{f"n{i}": ["src"] for i in range(n)},
                "sink": [f"n{i}" for i in range(n)],
            }
            functions = {
                "src": trivial.inc,
                **{f"n{i}": trivial.inc for i in range(n)},
                "sink": trivial.total,
            }
            nodes = n + 2
        assert module.run(inputs).model_dump() != {}
        number = max(1, 20000 // nodes)
        t_floor = median_seconds(lambda: floor(0), repeat=15, number=number, clock=clock)
        t_naive = median_seconds(
            lambda: naive(graph, functions, 0), repeat=15, number=number, clock=clock
        )
        t_run = median_seconds(lambda: module.run(inputs), repeat=15, number=number, clock=clock)
        hook = OneHook()
        t_hook = median_seconds(
            lambda: module.run(inputs, hooks=hook), repeat=15, number=number, clock=clock
        )
        declared = CompletedHook()
        t_declared = median_seconds(
            lambda: module.run(inputs, hooks=declared), repeat=15, number=number, clock=clock
        )
        assert declared.count > 0
        ends = RunEventsHook()
        t_ends = median_seconds(
            lambda: module.run(inputs, hooks=ends), repeat=15, number=number, clock=clock
        )
        assert ends.count > 0
        rows.append(
            (
                f"{label}, {n} nodes",
                t_floor / nodes,
                t_naive / nodes,
                t_run / nodes,
                t_hook / nodes,
                t_declared / nodes,
                t_ends / nodes,
            )
        )

    which = "this thread's CPU clock (--cpu)" if clock is time.thread_time else "wall clock"
    print(f"(a)/(b): medians of 15 repeats, {which}; load average {load_at_start} -> {load()}\n")
    print(
        "| benchmark | floor µs/node | naive µs/node | compiled µs/node | over floor µs/node | ratio to floor | one hook µs/node | hook over floor µs/node | node.completed hook over floor µs/node | run-events hook over floor µs/node |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for label, floor_t, naive_t, run_t, hook_t, declared_t, ends_t in rows:
        us = 1e6
        print(
            f"| {label} | {floor_t * us:.3f} | {naive_t * us:.3f} | {run_t * us:.3f} | "
            f"{(run_t - floor_t) * us:.3f} | {run_t / floor_t:.2f}x | {hook_t * us:.3f} | {(hook_t - floor_t) * us:.3f} | "
            f"{(declared_t - floor_t) * us:.3f} | {(ends_t - floor_t) * us:.3f} |"
        )

    # (c) 200 nodes that each block 1 ms at concurrency 8, against a ThreadPoolExecutor.
    from concurrent.futures import ThreadPoolExecutor

    path = work / "blocking_200.yaml"
    path.write_text(blocking_yaml(200))
    (work / "blocking_200.py").write_text(compile_blueprint(path, options=options).code)
    blocking = importlib.import_module("blocking_200")
    blocking_inputs = blocking.Inputs(x=1)
    assert blocking.run(blocking_inputs, concurrency=8).model_dump() != {}

    def pool_floor() -> int:
        with ThreadPoolExecutor(max_workers=8) as pool:
            return trivial.total(list(pool.map(trivial.block, [1] * 200)))

    t_pool = median_seconds(pool_floor, repeat=15, number=1)
    t_blocking = median_seconds(
        lambda: blocking.run(blocking_inputs, concurrency=8), repeat=15, number=1
    )
    t_blocking_hook = median_seconds(
        lambda: blocking.run(blocking_inputs, concurrency=8, hooks=OneHook()), repeat=15, number=1
    )
    print()
    print("| (c) 200 nodes blocking 1 ms, concurrency 8 | median ms | ratio to floor |")
    print("|---|---|---|")
    print(f"| floor: ThreadPoolExecutor(8) | {t_pool * 1e3:.1f} | 1.00x |")
    print(f"| compiled flow | {t_blocking * 1e3:.1f} | {t_blocking / t_pool:.2f}x |")
    print(
        f"| compiled flow, one hook | {t_blocking_hook * 1e3:.1f} | {t_blocking_hook / t_pool:.2f}x |"
    )

    # (d) import time of a generated 1,000-node module: cold (compiling bytecode) and warm.
    path = work / "import_1000.yaml"
    path.write_text(chain_yaml(1000).replace("id: chain", "id: import-1000"))
    code = compile_blueprint(path, options=options).code
    cold, warm = [], []
    for i in range(5):
        name = f"import_1000_{i}"
        (work / f"{name}.py").write_text(code)
        importlib.invalidate_caches()
        start = time.perf_counter()
        importlib.import_module(name)
        cold.append(time.perf_counter() - start)
        del sys.modules[name]
        start = time.perf_counter()
        importlib.import_module(name)
        warm.append(time.perf_counter() - start)
        del sys.modules[name]
    print()
    print("| (d) import of a generated 1,000-node module | median ms |")
    print("|---|---|")
    print(f"| cold (source -> bytecode) | {statistics.median(cold) * 1e3:.1f} |")
    print(f"| warm (cached bytecode) | {statistics.median(warm) * 1e3:.1f} |")
    print(textwrap.dedent("""
        Goals: (a)/(b) at most 0.25 µs per node over the floor with no hooks, at most 2 µs with one hook
        that looks at every event;
        (c) within 1.10x of the floor."""))


if __name__ == "__main__":
    main()
