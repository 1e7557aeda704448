"""Benchmark (issue 12, row 8): ``python`` nodes doing pure-Python CPU work, on 2 cores.

A flow of ``--nodes`` independent ``python`` nodes, each summing squares in a Python loop (about
``--seconds`` per call, calibrated at start), run with ``concurrency`` = ``--workers``:

* sequential: the calls one after another in this process, written by hand (the 1x reference);
* atomiton, ``execution: thread``: the nodes share the GIL, so no faster than sequential;
* atomiton, ``execution: process``: the run's process pool (made by the run, ended with it);
* floor: a hand-written ``ProcessPoolExecutor(workers)`` made and shut down for each round, as
  the run does with its pool (Linux's default ``fork`` workers, which start in milliseconds);
* the same with ``forkserver`` workers, which the run uses because forking a process that runs
  threads can deadlock the child: the part of the gap that is the start method's.

Every variant is measured in the same run, interleaved, and the median of ``--repeats`` rounds
is printed with its speedup over sequential and its ratio to the floor.

Run: ``python benchmarks/python_process.py [--nodes 8] [--seconds 0.3] [--workers 2]``.
"""

from __future__ import annotations

import argparse
import importlib
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from types import ModuleType

WORK = '''
def burn(data: int) -> int:
    """Sum of squares below ``data``, in a pure-Python loop (holds the GIL throughout)."""
    total = 0
    for i in range(data):
        total += i * i
    return total
'''


def _flow(nodes: int, execution: str) -> str:
    lines = [
        f"id: cpu-{execution}",
        "interface:",
        "  inputs: [{id: n, dataType: integer}]",
        "nodes:",
    ]
    for k in range(nodes):
        lines.append(
            f'  - {{id: burn{k}, type: python, function: "cpuwork:burn", '
            f"parameters: {{execution: {execution}}}}}"
        )
    lines.append("edges:")
    for k in range(nodes):
        lines.append(f"  - {{source: input, sourceHandle: n, target: burn{k}}}")
    return "\n".join(lines) + "\n"


def _compile(folder: Path, name: str, text: str) -> ModuleType:
    # Imported here, not at the top: each worker re-runs this script's top level (as
    # multiprocessing does with ``__main__``), and ``atomiton run``'s own main is light.
    from atomiton.compiler import CompileOptions, compile_blueprint, load_module

    path = folder / f"{name}.yaml"
    path.write_text(text)
    options = CompileOptions(root=folder, search_path=(), store=folder / "store")
    return load_module(compile_blueprint(path, options=options))


def _calibrate(burn: Callable[[int], int], seconds: float) -> int:
    """The loop length that takes about ``seconds`` here (median of three timings)."""
    n = 200_000
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        burn(n)
        timings.append(time.perf_counter() - started)
    return max(1000, int(n * seconds / statistics.median(timings)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=0.3, help="CPU time of one call")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "cpuwork.py").write_text(WORK)
        sys.path.insert(0, tmp)
        os.chdir(tmp)  # ``atomiton run`` finds user modules from the current folder
        burn = importlib.import_module("cpuwork").burn
        n = _calibrate(burn, args.seconds)
        by_thread = _compile(folder, "thread", _flow(args.nodes, "thread"))
        by_process = _compile(folder, "process", _flow(args.nodes, "process"))
        expected = [burn(n)] * args.nodes

        def sequential() -> list[int]:
            return [burn(n) for _ in range(args.nodes)]

        def floor() -> list[int]:
            with ProcessPoolExecutor(max_workers=args.workers) as pool:
                return list(pool.map(burn, [n] * args.nodes))

        def forkserver() -> list[int]:
            context = multiprocessing.get_context("forkserver")
            with ProcessPoolExecutor(max_workers=args.workers, mp_context=context) as pool:
                return list(pool.map(burn, [n] * args.nodes))

        def outputs(module: ModuleType) -> list[int]:
            out = module.run(module.Inputs(n=n), concurrency=args.workers)
            return [getattr(out, f"burn{k}") for k in range(args.nodes)]

        variants: list[tuple[str, Callable[[], list[int]]]] = [
            ("sequential calls, by hand", sequential),
            ("atomiton, execution: thread", lambda: outputs(by_thread)),
            ("atomiton, execution: process", lambda: outputs(by_process)),
            (f"floor: ProcessPoolExecutor({args.workers}), by hand", floor),
            ("  the same, forkserver workers (as the run's)", forkserver),
        ]
        times: dict[str, list[float]] = {name: [] for name, _ in variants}
        for _ in range(args.repeats):
            for name, fn in variants:
                started = time.perf_counter()
                result = fn()
                times[name].append(time.perf_counter() - started)
                assert result == expected, name

    medians = {name: statistics.median(t) for name, t in times.items()}
    base = medians["sequential calls, by hand"]
    floor_time = medians[f"floor: ProcessPoolExecutor({args.workers}), by hand"]
    print(
        f"{args.nodes} python nodes x ~{args.seconds:g} s of CPU each, concurrency "
        f"{args.workers}, {os.cpu_count()} cores; median of {args.repeats}; "
        f"load {os.getloadavg()[0]:.2f}"
    )
    print(f"{'variant':<44} {'median s':>9} {'speedup':>8} {'/ floor':>8}")
    for name, _ in variants:
        m = medians[name]
        print(f"{name:<44} {m:>9.3f} {base / m:>7.2f}x {m / floor_time:>7.2f}x")


if __name__ == "__main__":
    main()
