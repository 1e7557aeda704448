"""Benchmark (c): 200 nodes that each block 1 ms, concurrency 8, against a hand-written floor.

* floor: ``ThreadPoolExecutor(8)``, submit the 200 calls, wait for all;
* runtime: a flow in the shape atomiton generates (200 ``thread`` tasks, each one fast-path
  node, then an inline sink), run through ``atomiton.runtime.run`` with ``concurrency=8``;
* runtime + hook: the same with one hook attached (every event built and delivered).

Also: the cost of a flow made of a single inline task over calling the task directly.

Run: ``python benchmarks/runtime_blocking.py [--repeats N]`` (prints a markdown table).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait

from atomiton import runtime as _rt
from atomiton.runtime import Event

N = 200
CONCURRENCY = 8
BLOCK = 0.001


def block(k: int) -> int:
    time.sleep(BLOCK)
    return k


BLUEPRINT = _rt.Blueprint(
    id="blocking",
    name="Blocking",
    version="1",
    source="blocking.yaml",
    sha256="",
    nodes=tuple(
        _rt.NodeInfo(id=f"n{k}", type="python", line=k + 3, column=5, execution="thread")
        for k in range(N)
    )
    + (_rt.NodeInfo(id="sink", type="python", line=N + 3, column=5),),
)


class _State:
    __slots__ = ("inputs", "results", "total")

    def __init__(self, inputs: None) -> None:
        self.inputs = inputs
        self.results = [0] * N


def _make_task(k: int) -> Callable[[_rt.Execution, _State], None]:
    # Written out per node in a generated module; a closure keeps this file short.
    def task(ex: _rt.Execution, s: _State) -> None:
        if ex.slow:
            ex.node_started(k)
        try:
            s.results[k] = block(k)
        except Exception as exc:
            ex.node_failed(k, exc)
        if ex.slow:
            ex.node_completed(k)

    return task


def _sink(ex: _rt.Execution, s: _State) -> None:
    if ex.slow:
        ex.node_started(N)
    try:
        s.total = sum(s.results)
    except Exception as exc:
        ex.node_failed(N, exc)
    if ex.slow:
        ex.node_completed(N)


_TASKS = tuple(_rt.Task(_make_task(k), mode="thread") for k in range(N)) + (
    _rt.Task(_sink, after=tuple(range(N))),
)


def _execute(ex: _rt.Execution, inputs: None) -> int:
    s = _State(inputs)
    ex.run_tasks(_TASKS, s)
    return s.total


def floor() -> int:
    with ThreadPoolExecutor(max_workers=CONCURRENCY) as pool:
        futures = [pool.submit(block, k) for k in range(N)]
        wait(futures)
        return sum(f.result() for f in futures)


def compiled() -> int:
    return _rt.run(BLUEPRINT, _execute, None, concurrency=CONCURRENCY)


class _Counter:
    def __init__(self) -> None:
        self.count = 0

    def on_event(self, *, event: Event) -> None:
        self.count += 1


def compiled_hook() -> int:
    return _rt.run(BLUEPRINT, _execute, None, concurrency=CONCURRENCY, hooks=_Counter())


# -- one inline task --------------------------------------------------------------------------------

ONE = _rt.Blueprint(
    id="one",
    name="One",
    version="1",
    source="one.yaml",
    sha256="",
    nodes=(_rt.NodeInfo(id="a", type="code", line=1, column=1),),
)


class _OneState:
    __slots__ = ("inputs", "a")

    def __init__(self, inputs: int) -> None:
        self.inputs = inputs


def _one_task(ex: _rt.Execution, s: _OneState) -> None:
    if ex.slow:
        ex.node_started(0)
    try:
        s.a = s.inputs + 1
    except Exception as exc:
        ex.node_failed(0, exc)
    if ex.slow:
        ex.node_completed(0)


_ONE_TASKS = (_rt.Task(_one_task),)


def _one_execute(ex: _rt.Execution, inputs: int) -> int:
    s = _OneState(inputs)
    ex.run_tasks(_ONE_TASKS, s)
    return s.a


class _Fast:
    slow = False


def one_direct() -> int:
    s = _OneState(1)
    _one_task(_Fast(), s)  # type: ignore[arg-type]
    return s.a


def one_run() -> int:
    return _rt.run(ONE, _one_execute, 1)


def median_time(fn: Callable[[], object], repeats: int, inner: int = 1) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        times.append((time.perf_counter() - t0) / inner)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=21)
    args = parser.parse_args()
    assert floor() == compiled() == compiled_hook() == sum(range(N))
    for fn in (floor, compiled, compiled_hook):  # warm up
        fn()
    rows = []
    base = median_time(floor, args.repeats)
    for name, fn in (
        ("floor: ThreadPoolExecutor(8)", floor),
        ("runtime", compiled),
        ("runtime + 1 hook", compiled_hook),
    ):
        t = base if fn is floor else median_time(fn, args.repeats)
        rows.append((name, t * 1e3, t / base))
    print(
        f"### (c) {N} nodes blocking {BLOCK * 1e3:g} ms each, concurrency {CONCURRENCY} (median of {args.repeats})\n"
    )
    print("| variant | time (ms) | ratio to floor |")
    print("| --- | ---: | ---: |")
    for name, ms, ratio in rows:
        print(f"| {name} | {ms:.2f} | {ratio:.3f}x |")
    direct = median_time(one_direct, args.repeats, inner=20000)
    via_run = median_time(one_run, args.repeats, inner=20000)
    print("\n### one inline task: run() against calling the task directly\n")
    print("| variant | time (µs) |")
    print("| --- | ---: |")
    print(f"| direct call | {direct * 1e6:.2f} |")
    print(f"| run() | {via_run * 1e6:.2f} |")
    print(f"| overhead | {(via_run - direct) * 1e6:.2f} |")


if __name__ == "__main__":
    main()
