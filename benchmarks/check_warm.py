"""Warm ``atomiton check``: how long a user waits for a check of a 10-node flow, cold and warm.

Not a test: prints a table of medians over several repetitions. The command is run as a user
runs it (a new process each time) on a generated 10-node flow:

- cold: an empty cache, so mypy analyses the runtime and its libraries (what mypy needs);
- warm: nothing changed since the last check;
- edit: one node's code changed since the last check;
- no cache: ``--no-cache``, every check as slow as a cold one (what every check cost before).

against two floors measured in the same run: ``atomiton check --no-mypy`` (the compiler's own
checks, no type-checking), and the mypy step alone, a bare in-process ``mypy.api.run`` over the
same generated module with a kept cache (warm, and after the same one-node edit).

    python benchmarks/check_warm.py [--repeat 5] [--cold-repeat 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final

WARM_GOAL: Final = 1.0  # seconds, unchanged flow
EDIT_GOAL: Final = 1.5  # seconds, one node edited


def flow(edit: int) -> str:
    """Ten nodes: edit-fields, seven code nodes, a code node making rows, a transform filtering
    them; ``edit`` changes the code of one node in the middle."""
    nodes = [
        "  - id: start\n    type: edit-fields\n    parameters:\n      values: {count: 1}\n",
        "  - {id: n1, type: code, parameters: {code: \"return data['count'] + 1\"}}\n",
    ]
    for index in range(2, 8):
        step = index * 10 + (edit if index == 4 else 0)
        nodes.append(
            f'  - {{id: n{index}, type: code, parameters: {{code: "return data + {step}"}}}}\n'
        )
    nodes.append(
        "  - id: rows\n    type: code\n    parameters:\n"
        "      code: \"return [{'value': data, 'even': data % 2 == 0}]\"\n"
    )
    nodes.append(
        "  - id: keep\n    type: transform\n    parameters:\n"
        "      operation: filter\n      transformFunction: \"item['even']\"\n"
    )
    chain = ["start", *(f"n{i}" for i in range(1, 8)), "rows"]
    edges = [f"  - {{source: {a}, target: {b}}}\n" for a, b in zip(chain, chain[1:])]
    edges.append("  - {source: rows, target: keep, targetHandle: data}\n")
    edges.append("  - {source: keep, sourceHandle: result, target: output, targetHandle: kept}\n")
    assert len(nodes) == 10
    return (
        "id: ten\ninterface:\n  outputs:\n    - {id: kept, dataType: any}\n"
        f"nodes:\n{''.join(nodes)}edges:\n{''.join(edges)}"
    )


def command() -> list[str]:
    script = Path(sys.executable).parent / "atomiton"
    return [str(script)] if script.exists() else [sys.executable, "-m", "atomiton"]


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def check(folder: Path, cache: Path, *flags: str) -> Callable[[], None]:
    env = {**os.environ, "ATOMITON_CACHE_DIR": str(cache), "NO_COLOR": "1"}

    def run() -> None:
        done = subprocess.run(
            [*command(), "check", "ten.yaml", *flags],
            cwd=folder,
            env=env,
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise SystemExit(f"check failed:\n{done.stderr}")

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="repetitions of each warm row")
    parser.add_argument("--cold-repeat", type=int, default=2, help="repetitions of cold rows")
    args = parser.parse_args()
    rows: list[tuple[str, list[float], str]] = []
    with tempfile.TemporaryDirectory(prefix="check-warm-") as scratch:
        folder = Path(scratch)
        blueprint = folder / "ten.yaml"
        blueprint.write_text(flow(0), encoding="utf-8")
        caches = iter(range(1000))

        def fresh_cache() -> Path:
            return folder / f"cache-{next(caches)}"

        # Cold: a new, empty cache every time.
        cold = [timed(check(folder, fresh_cache())) for _ in range(args.cold_repeat)]
        rows.append(("atomiton check, cold (empty cache)", cold, "what mypy needs"))
        cache = fresh_cache()
        check(folder, cache)()  # build the cache the warm rows use
        warm = [timed(check(folder, cache)) for _ in range(args.repeat)]
        rows.append(("atomiton check, warm (unchanged)", warm, f"goal < {WARM_GOAL} s"))
        edits = []
        for index in range(args.repeat):
            blueprint.write_text(flow(index + 1), encoding="utf-8")
            edits.append(timed(check(folder, cache)))
        rows.append(("atomiton check, one node edited", edits, f"goal < {EDIT_GOAL} s"))
        no_cache = [
            timed(check(folder, fresh_cache(), "--no-cache")) for _ in range(args.cold_repeat)
        ]
        rows.append(("atomiton check --no-cache (every check cold)", no_cache, "before"))
        no_mypy = [timed(check(folder, cache, "--no-mypy")) for _ in range(args.repeat)]
        rows.append(("floor: atomiton check --no-mypy", no_mypy, "floor"))
        rows.extend(mypy_floor(folder, args.repeat))
    print_table(rows)


def mypy_floor(folder: Path, repeat: int) -> list[tuple[str, list[float], str]]:
    """The mypy step alone: ``mypy.api.run`` in this process over the generated module, with a
    kept cache, after a first run has filled it."""
    from mypy import api

    from atomiton.compiler import compile_blueprint

    module_file = folder / "ten_module.py"
    cache = folder / "bare-mypy-cache"
    flags = ["--strict", "--follow-imports=silent", "--cache-dir", str(cache), str(module_file)]

    def write(edit: int) -> None:
        (folder / "ten.yaml").write_text(flow(edit), encoding="utf-8")
        module_file.write_text(compile_blueprint(folder / "ten.yaml").code, encoding="utf-8")

    def run() -> None:
        out, err, status = api.run(flags)
        if status != 0:
            raise SystemExit(f"mypy failed:\n{out}{err}")

    write(0)
    run()
    warm = [timed(run) for _ in range(repeat)]
    edits = []
    for index in range(repeat):
        write(100 + index)
        time.sleep(1.0)  # mypy trusts an mtime unchanged to the second
        edits.append(timed(run))
    return [
        ("floor: mypy.api.run in-process, kept cache, unchanged", warm, "floor"),
        ("floor: mypy.api.run in-process, kept cache, one edit", edits, "floor"),
    ]


def print_table(rows: list[tuple[str, list[float], str]]) -> None:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"check of a 10-node flow; load average {load:.2f} on {os.cpu_count()} cores")
    width = max(len(name) for name, _, _ in rows)
    print(f"{'what':<{width}}  {'median':>8}  {'min':>8}  {'max':>8}  {'n':>2}  note")
    for name, times, note in rows:
        print(
            f"{name:<{width}}  {statistics.median(times):>7.2f}s  {min(times):>7.2f}s  "
            f"{max(times):>7.2f}s  {len(times):>2}  {note}"
        )


if __name__ == "__main__":
    main()
