"""What the node cache saves and what it costs (issue 14, docs/caching.md).

Rows, all measured in this process, in this run, with a fresh SQLite file per scenario:

* a flow with one 2 s node (``slow``) and 50 cheap nodes after it: the first run with the cache
  (everything runs and is stored), a cached rerun (nothing runs), and a rerun after editing one
  cheap node near the end (it and the nodes after it run; ``slow`` is served). The floor is the
  first run without the cache, so the first row's difference is what storing costs.
* per-node cost on 1,000 trivial nodes in a chain: running them with no cache (the floor),
  running them with the cache on and every lookup missing (hash + lookup + store), and serving
  all of them from the cache (hash + lookup + decode): microseconds per node, medians.

Run: ``python benchmarks/cache.py`` (prints a markdown table); ``--quick`` uses a 0.2 s slow node
and fewer repeats. Speed is never asserted: compare the rows against the floor of the same run.
"""

from __future__ import annotations

import importlib
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from atomiton.compiler import CompileOptions, compile_blueprint

STEPS = """
import time

SLOW = {slow}


def slow(data: int) -> int:
    time.sleep(SLOW)
    return data


def inc(data: int) -> int:
    return data + 1
"""


def slow_flow(cheap: int, edited: int | None = None) -> str:
    lines = [
        "id: slow-then-cheap",
        "interface:",
        "  inputs: [{id: x, dataType: integer, default: 1}]",
        "nodes:",
        "  - {id: slow, type: python, function: 'bench_steps:slow', parameters: {pure: true}}",
    ]
    for i in range(cheap):
        code = "return data + 2" if i == edited else "return data + 1"
        lines.append(f"  - {{id: c{i}, type: code, parameters: {{code: '{code}'}}}}")
    lines += ["edges:", "  - {source: input, sourceHandle: x, target: slow}"]
    lines.append("  - {source: slow, target: c0}")
    lines += [f"  - {{source: c{i}, target: c{i + 1}}}" for i in range(cheap - 1)]
    return "\n".join(lines) + "\n"


def chain_flow(n: int) -> str:
    lines = [
        "id: trivial-chain",
        "interface:",
        "  inputs: [{id: x, dataType: integer, default: 0}]",
        "nodes:",
    ]
    lines += [
        f"  - {{id: n{i}, type: python, function: 'bench_steps:inc', parameters: {{pure: true}}}}"
        for i in range(n)
    ]
    lines += ["edges:", "  - {source: input, sourceHandle: x, target: n0}"]
    lines += [f"  - {{source: n{i}, target: n{i + 1}}}" for i in range(n - 1)]
    return "\n".join(lines) + "\n"


def load(work: Path, name: str, text: str) -> ModuleType:
    path = work / f"{name}.yaml"
    path.write_text(text)
    compiled = compile_blueprint(path, options=CompileOptions(root=work))
    (work / f"{name}.py").write_text(compiled.code)
    sys.modules.pop(name, None)
    return importlib.import_module(name)


def timed(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def median(
    call: Callable[[], object], repeats: int, setup: Callable[[], object] = lambda: None
) -> float:
    samples = []
    for _ in range(repeats):
        setup()
        samples.append(timed(call))
    return statistics.median(samples)


def main() -> None:
    quick = "--quick" in sys.argv
    slow_seconds = 0.2 if quick else 2.0
    repeats = 3 if quick else 5
    work = Path(tempfile.mkdtemp(prefix="atomiton-cache-bench-"))
    sys.path.insert(0, str(work))
    try:
        (work / "bench_steps.py").write_text(STEPS.format(slow=slow_seconds))
        rows: list[tuple[str, float, str]] = []

        flow = load(work, "slow_flow", slow_flow(50))
        edited = load(work, "slow_flow_edited", slow_flow(50, edited=45))
        db = work / "slow.db"

        def fresh() -> None:
            for file in work.glob("slow.db*"):
                file.unlink()

        floor = timed(lambda: flow.run())
        rows.append(("1 slow + 50 cheap: no cache (floor)", floor, "s"))
        fresh()
        rows.append(
            ("1 slow + 50 cheap: first run, cache on", timed(lambda: flow.run(cache=db)), "s")
        )
        rows.append(
            ("1 slow + 50 cheap: cached rerun", median(lambda: flow.run(cache=db), repeats), "s")
        )
        rows.append(
            (
                "1 slow + 50 cheap: rerun after editing c45",
                median(lambda: edited.run(cache=db), repeats, setup=lambda: _forget(db, "c45")),
                "s",
            )
        )

        n = 1000
        chain = load(work, "chain", chain_flow(n))
        chain_db = work / "chain.db"
        chain.run(cache=chain_db)  # warm: imports, the database file and its schema
        per_node = 1e6 / n
        rows.append(
            (
                "1,000 trivial nodes: no cache (floor)",
                median(lambda: chain.run(), repeats) * per_node,
                "us/node",
            )
        )
        rows.append(
            (
                "1,000 trivial nodes: cache on, every lookup misses",
                median(
                    lambda: chain.run(cache=chain_db),
                    repeats,
                    setup=lambda: _clear(chain_db),
                )
                * per_node,
                "us/node",
            )
        )
        rows.append(
            (
                "1,000 trivial nodes: all served from the cache",
                median(lambda: chain.run(cache=chain_db), repeats) * per_node,
                "us/node",
            )
        )
        print(f"node cache, {'quick' if quick else 'full'} run (slow node {slow_seconds} s)\n")
        print("| scenario | median | unit |")
        print("|---|---:|---|")
        for label, value, unit in rows:
            print(f"| {label} | {value:,.3f} | {unit} |")
    finally:
        sys.path.remove(str(work))
        shutil.rmtree(work, ignore_errors=True)


def _forget(db: Path, node_id: str) -> None:
    """Drop the edited node's entries (and so what follows recomputes as after a real edit)."""
    from atomiton.store.cache_store import CacheStore

    store = CacheStore.open(db)
    try:
        store.clear(blueprint_id="slow-then-cheap", node_id=node_id)
        for i in range(46, 50):
            store.clear(blueprint_id="slow-then-cheap", node_id=f"c{i}")
    finally:
        store.close()


def _clear(db: Path) -> None:
    from atomiton.store.cache_store import CacheStore

    store = CacheStore.open(db)
    try:
        store.clear()
    finally:
        store.close()


if __name__ == "__main__":
    main()
