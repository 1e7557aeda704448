"""The Dask executor: what a cluster buys, what it costs per task, and how few tasks it gets.

Not a test: prints markdown tables of medians over several repetitions. Each figure is measured
against a floor taken in the same run:

(a) a CPU-bound flow (8 branches, each a pure-Python loop of about 0.25 s in a ``python`` node
    with ``execution: thread``): local threads (one GIL) against a LocalCluster of 2 worker
    processes; the speed-up is local / cluster (at most the number of free cores);
(b) per-task overhead: 50 independent trivial ``python`` nodes (50 Dask tasks) through
    ``run(executor=client)``, against the floor of ``client.submit``-ing the same 50 functions
    and gathering their results (goal: within 1.5x), on an in-process cluster and on the
    2-process one;
(c) 1,000 trivial nodes (10 chains of 100 ``code`` nodes): local threads against the
    in-process cluster, with the number of Dask tasks the plan's fusing leaves;
(d) a loop whose items are CPU-bound (8 items of about 0.25 s, ``concurrency: 8``): local
    threads against the 2-process cluster, where the items run as tasks of their own; and a
    loop of 2,000 trivial items on the in-process cluster, with the number of batch tasks.

In (b) the floor and the executor are timed in turns, one pair per repetition, and the ratio
is the median of the pairs' ratios: on a machine whose load changes, two medians taken one
after the other compare different loads.

Cluster start-up is not in these figures (it is printed once: the ``dask`` executor pays it on
every run, a ``Client`` given to ``run`` pays it never).

    python benchmarks/dask_executor.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any, Final

from distributed import Client, LocalCluster, get_task_stream

from atomiton.compiler import CompileOptions, compile_blueprint, load_module

OVERHEAD_GOAL: Final = 1.5
BRANCHES: Final = 8
TRIVIAL: Final = 50

WORK = '''
def spin(n: int) -> int:
    """A pure-Python loop: holds the GIL all the way."""
    total = 0
    for k in range(n):
        total += k * k % 7
    return total


def trivial(n: int) -> int:
    return n + 1
'''


def median(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def compiled(folder: Path, name: str, text: str) -> ModuleType:
    path = folder / f"{name}.yaml"
    path.write_text(textwrap.dedent(text))
    options = CompileOptions(root=folder, search_path=(), store=folder / "store")
    return load_module(compile_blueprint(path, options=options))


def fan(function: str, count: int) -> str:
    nodes = "\n".join(
        f"  - {{id: b{k}, type: python, function: 'bench_work:{function}',"
        " inputPorts: [{id: n, dataType: integer}], outputPorts: [{id: r, dataType: integer}],"
        " parameters: {execution: thread}}"
        for k in range(count)
    )
    edges = "\n".join(
        f"  - {{source: input, sourceHandle: n, target: b{k}, targetHandle: n}}\n"
        f"  - {{source: b{k}, target: output, targetHandle: r{k}}}"
        for k in range(count)
    )
    return f"id: fan\nvariables:\n  n: {{type: integer, defaultValue: 0}}\nnodes:\n{nodes}\nedges:\n{edges}\n"


def chains(count: int, length: int) -> str:
    nodes, edges = [], []
    for c in range(count):
        for k in range(length):
            nodes.append(
                f"  - {{id: c{c}n{k}, type: code, parameters: {{code: 'return data + 1'}}}}"
            )
            source = "input" if k == 0 else f"c{c}n{k - 1}"
            handle = ", sourceHandle: start" if k == 0 else ""
            edges.append(f"  - {{source: {source}{handle}, target: c{c}n{k}}}")
        edges.append(f"  - {{source: c{c}n{length - 1}, target: output, targetHandle: end{c}}}")
    return (
        "id: chains\nvariables:\n  start: {type: integer, defaultValue: 0}\n"
        f"nodes:\n{chr(10).join(nodes)}\nedges:\n{chr(10).join(edges)}\n"
    )


def cpu_bound(folder: Path, processes: Client, repeat: int) -> list[str]:
    module = compiled(folder, "cpu", fan("spin", BRANCHES))
    # About 0.25 s per branch on an idle core.
    n = 1
    while median(lambda: __import__("bench_work").spin(n), 1) < 0.25:
        n *= 2
    inputs = module.Inputs(n=n)
    assert module.run(inputs) == module.run(inputs, executor=processes)
    local = median(lambda: module.run(inputs), repeat)
    cluster = median(lambda: module.run(inputs, executor=processes), repeat)
    return [
        "| (a) CPU-bound, 8 branches | local threads | 2-process cluster | speed-up |",
        "|---|---|---|---|",
        f"| {n:,} loop steps each | {local:.2f} s | {cluster:.2f} s | {local / cluster:.2f}x |",
    ]


def overhead(folder: Path, clients: dict[str, Client], repeat: int) -> list[str]:
    module = compiled(folder, "trivial", fan("trivial", TRIVIAL))
    work = __import__("bench_work")
    rows = [
        f"| (b) {TRIVIAL} trivial tasks | client.submit floor | run(executor=client) | per task"
        " (executor) | ratio | goal |",
        "|---|---|---|---|---|---|",
    ]
    for name, client in clients.items():

        def floor() -> None:
            futures = [client.submit(work.trivial, k, pure=False) for k in range(TRIVIAL)]
            client.gather(futures)

        floor()
        module.run(executor=client)  # the module is shipped to the workers once, not timed
        pairs = [
            (median(floor, 1), median(lambda: module.run(executor=client), 1))
            for _ in range(repeat)
        ]
        base = statistics.median(b for b, _ in pairs)
        ours = statistics.median(o for _, o in pairs)
        ratio = statistics.median(o / b for b, o in pairs)
        verdict = "met" if ratio <= OVERHEAD_GOAL else "missed"
        rows.append(
            f"| {name} | {base * 1000:.1f} ms | {ours * 1000:.1f} ms |"
            f" {ours / TRIVIAL * 1000:.2f} ms | {ratio:.2f}x | {OVERHEAD_GOAL}x {verdict} |"
        )
    return rows


def fused(folder: Path, client: Client, repeat: int) -> list[str]:
    module = compiled(folder, "chains", chains(10, 100))
    tasks = len(module._TASKS)
    assert module.run() == module.run(executor=client)
    local = median(lambda: module.run(), repeat)
    cluster = median(lambda: module.run(executor=client), repeat)
    return [
        "| (c) 1,000 trivial nodes | Dask tasks | local threads | in-process cluster |",
        "|---|---|---|---|",
        f"| 10 chains x 100 code nodes | {tasks} | {local * 1000:.1f} ms |"
        f" {cluster * 1000:.1f} ms |",
    ]


def loop(function: str, concurrency: int) -> str:
    return textwrap.dedent(f"""\
        id: items
        variables:
          items: {{type: array, defaultValue: []}}
        nodes:
          - id: each
            type: loop
            parameters:
              concurrency: {concurrency}
              maxIterations: 100000
              body:
                nodes:
                  - id: work
                    type: python
                    function: 'bench_work:{function}'
                    inputPorts: [{{id: n, dataType: integer}}]
                    outputPorts: [{{id: r, dataType: integer}}]
                edges:
                  - {{source: input, sourceHandle: item, target: work, targetHandle: n}}
                  - {{source: work, target: output, targetHandle: r}}
        edges:
          - {{source: input, sourceHandle: items, target: each, targetHandle: array}}
          - {{source: each, sourceHandle: results, target: output, targetHandle: results}}
        """)


def loop_items(folder: Path, processes: Client, in_process: Client, repeat: int) -> list[str]:
    module = compiled(folder, "items", loop("spin", BRANCHES))
    n = 1
    while median(lambda: __import__("bench_work").spin(n), 1) < 0.25:
        n *= 2
    inputs = module.Inputs(items=[n] * BRANCHES)
    assert module.run(inputs) == module.run(inputs, executor=processes)
    local = median(lambda: module.run(inputs), repeat)
    cluster = median(lambda: module.run(inputs, executor=processes), repeat)
    many = compiled(folder, "many", loop("trivial", 4))
    trivial = many.Inputs(items=list(range(2000)))
    with get_task_stream(in_process) as stream:
        assert many.run(trivial) == many.run(trivial, executor=in_process)
    batches = sum("-items-" in str(task["key"]) for task in stream.data)
    small_local = median(lambda: many.run(trivial), repeat)
    small_cluster = median(lambda: many.run(trivial, executor=in_process), repeat)
    return [
        "| (d) loop items | local threads | cluster | speed-up |",
        "|---|---|---|---|",
        f"| 8 CPU-bound items ({n:,} steps), 2 processes | {local:.2f} s | {cluster:.2f} s |"
        f" {local / cluster:.2f}x |",
        f"| 2,000 trivial items, in-process ({batches} batch tasks) | {small_local * 1000:.1f} ms"
        f" | {small_cluster * 1000:.1f} ms | {small_local / small_cluster:.2f}x |",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "bench_work.py").write_text(WORK)
        sys.path.insert(0, str(folder))  # worker processes inherit it when they start
        started = time.perf_counter()
        threads_cluster = LocalCluster(
            n_workers=2, threads_per_worker=2, processes=False, dashboard_address=":0"
        )
        in_process = Client(threads_cluster)
        in_process_start = time.perf_counter() - started
        started = time.perf_counter()
        process_cluster = LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        )
        processes = Client(process_cluster)
        process_start = time.perf_counter() - started
        try:
            print(
                f"cluster start: in-process {in_process_start:.2f} s,"
                f" 2 worker processes {process_start:.2f} s\n"
            )
            for table in (
                cpu_bound(folder, processes, args.repeat),
                overhead(folder, {"in-process": in_process, "2 processes": processes}, args.repeat),
                fused(folder, in_process, args.repeat),
                loop_items(folder, processes, in_process, args.repeat),
            ):
                print("\n".join(table) + "\n")
        finally:
            processes.close()
            process_cluster.close()
            in_process.close()
            threads_cluster.close()


if __name__ == "__main__":
    main()


__all__: list[Any] = []
