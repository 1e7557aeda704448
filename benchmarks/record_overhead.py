"""What recording a run in the history costs: recorded against unrecorded runs of the same flow.

Flows (built the way ``runtime_overhead.py`` builds them): a chain of 1,000 trivial python nodes,
and 200 independent nodes that each block 1 ms (concurrency 8). Rows, each the median of repeats
measured in this process in this run:

* unrecorded: ``run()`` with no hook (the floor), and with one hook that looks at every event
  (what ``atomiton run`` always has: its progress display);
* recorded: ``run(hooks=RunRecorder(db))`` until ``run`` returns (the writer thread writes
  while and after the run), and until the run's record is in the database as well
  (``recorder.flush()`` after each run: the whole cost, nothing deferred).

Goal (issue 13): a recorded run of 1,000 trivial nodes costs at most 2x an unrecorded one.

Run: ``python benchmarks/record_overhead.py`` (prints a markdown table).
"""

from __future__ import annotations

import importlib
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from runtime_overhead import TRIVIAL, OneHook, blocking_yaml, chain_yaml

from atomiton.compiler import CompileOptions, compile_blueprint
from atomiton.store import RunRecorder, RunStore


def median_ms(fn: Callable[[], object], *, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1e3


def measure(
    label: str, module: Any, inputs: Any, work: Path, repeat: int, **options: Any
) -> list[str]:
    db = work / f"{label.split()[0]}.db"
    run = module.run
    run(inputs, **options)  # warm up: imports, first-call costs
    floor = median_ms(lambda: run(inputs, **options), repeat=repeat)
    hook = OneHook()
    hooked = median_ms(lambda: run(inputs, hooks=hook, **options), repeat=repeat)
    recorder = RunRecorder(db)
    run(inputs, hooks=recorder, **options)
    recorder.flush()
    returned = median_ms(lambda: run(inputs, hooks=recorder, **options), repeat=repeat)
    recorder.flush()

    def written() -> None:
        run(inputs, hooks=recorder, **options)
        recorder.flush()

    flushed = median_ms(written, repeat=repeat)
    recorder.close()
    with RunStore.open(db) as store:
        runs = store.list_runs()
        assert {r.status for r in runs} == {"completed"}, "every recorded run completed"
        events = store.get_run(runs[0].id).events  # type: ignore[union-attr]
    rows = [
        ("unrecorded, no hook (floor)", floor),
        ("unrecorded, one hook", hooked),
        ("recorded, until run() returns", returned),
        ("recorded, until written (flush)", flushed),
    ]
    return [
        f"| {label} | {name} | {ms:.2f} | {ms / floor:.2f}x | {ms / hooked:.2f}x |"
        for name, ms in rows
    ] + [f"| {label} | ({len(runs)} runs recorded, {events} events each) | | | |"]


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="atomiton-bench-"))
    (work / "trivial.py").write_text(TRIVIAL)
    sys.path.insert(0, str(work))
    options = CompileOptions(root=work)
    modules = {}
    for name, text in (("chain_1000", chain_yaml(1000)), ("blocking_200", blocking_yaml(200))):
        path = work / f"{name}.yaml"
        path.write_text(text)
        (work / f"{name}.py").write_text(compile_blueprint(path, options=options).code)
        modules[name] = importlib.import_module(name)
    chain, blocking = modules["chain_1000"], modules["blocking_200"]
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print()
    print("| flow | run | median ms | ratio to floor | ratio to one hook |")
    print("|---|---|---|---|---|")
    for line in measure("1,000 trivial nodes", chain, chain.Inputs(x=0), work, repeat=31):
        print(line)
    for line in measure(
        "200 x 1 ms I/O, concurrency 8",
        blocking,
        blocking.Inputs(x=1),
        work,
        repeat=15,
        concurrency=8,
    ):
        print(line)
    print()
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print("Goal: a recorded run of 1,000 trivial nodes at most 2x an unrecorded one.")


if __name__ == "__main__":
    main()
