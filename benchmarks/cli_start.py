"""Benchmark (issue 12, rows 3-5): how long users wait for the command line to start and run.

Every row is a fresh process, timed from start to exit (with its peak memory from ``wait4``);
the medians of ``--repeat`` rounds are printed, rows interleaved round by round so that a change
in the machine's load touches all of them alike. Floors, measured in the same run:

* ``python -c pass`` and ``python -c "import click"`` for ``atomiton --help`` and ``atomiton nodes``
  (goal: within 6x of ``python -c pass``);
* importing and running the precompiled module (``atomiton compile`` first, bytecode cached) for
  ``atomiton run`` of ``examples/hello_world.yaml`` and of a flat 10,000-node flow, each run
  once with an empty run cache ("first") and once with the cache filled ("again"; goal: within
  1.3x of the precompiled floor).

    python benchmarks/cli_start.py [--repeat 7] [--big-repeat 3] [--big-nodes 10000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
HELLO = HERE.parent / "examples" / "hello_world.yaml"


def atomiton() -> list[str]:
    """The installed console script (what users type), else ``python -m atomiton``."""
    script = Path(sys.executable).parent / "atomiton"
    return [str(script)] if script.exists() else [sys.executable, "-m", "atomiton"]


def timed(command: Sequence[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and peak resident MB of one run of ``command`` (which must succeed)."""
    started = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        assert process.stderr is not None
        raise SystemExit(f"{' '.join(command)} failed:\n{process.stderr.read().decode()}")
    return elapsed, usage.ru_maxrss / 1024


def chain_blueprint(folder: Path, size: int) -> Path:
    """A chain of ``size`` code nodes, every fourth fanning out from three steps back."""
    nodes = "".join(
        f"  - {{id: n{i}, type: code, parameters: {{code: 'return (data or 0) + {i}'}}}}\n"
        for i in range(size)
    )
    edges = "".join(
        f"  - {{source: n{i - (3 if i % 4 == 0 and i >= 3 else 1)}, target: n{i}}}\n"
        for i in range(1, size)
    )
    path = folder / f"chain_{size}.yaml"
    path.write_text(
        f"id: chain-{size}\ninterface:\n  outputs: [{{id: total, dataType: any}}]\n"
        f"nodes:\n{nodes}edges:\n{edges}"
        f"  - {{source: n{size - 1}, target: output, targetHandle: total}}\n"
    )
    return path


def precompiled(blueprint: Path, folder: Path, env: dict[str, str]) -> list[str]:
    """Compile ``blueprint`` into ``folder`` and return the command that imports and runs it."""
    subprocess.run([*atomiton(), "compile", str(blueprint), "-o", str(folder)], env=env, check=True)
    # Bytecode written explicitly: PYTHONDONTWRITEBYTECODE would leave the floor compiling source.
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(folder)], env=env, check=True)
    module = next(p.stem for p in folder.glob("*.py") if p.stem != "__init__")
    code = (
        f"import sys; sys.path.insert(0, {str(folder)!r}); import {module} as m; "
        "print(m.run(m.Inputs()))"
    )
    return [sys.executable, "-c", code]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--big-repeat", type=int, default=3, help="rounds of the big flow")
    parser.add_argument("--big-nodes", type=int, default=10_000)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        cache = root / "cache"
        env = {**os.environ, "ATOMITON_CACHE_DIR": str(cache), "NO_COLOR": "1"}
        env.pop("ATOMITON_PATH", None)
        # Users' interpreters keep bytecode; the first round of each row (not timed) writes it.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        hello = root / "hello_world.yaml"
        shutil.copy(HELLO, hello)
        big = chain_blueprint(root, args.big_nodes)
        past = time.time() - 10  # older than any compile: the run cache may keep them
        for path in (hello, big):
            os.utime(path, (past, past))

        def fresh(blueprint: Path) -> list[str]:
            shutil.rmtree(cache, ignore_errors=True)
            return [*atomiton(), "run", str(blueprint)]

        start_rows: dict[str, list[str]] = {
            "python -c pass": [sys.executable, "-c", "pass"],
            'python -c "import click"': [sys.executable, "-c", "import click"],
            "atomiton --help": [*atomiton(), "--help"],
            "atomiton nodes": [*atomiton(), "nodes"],
        }
        print(f"load before: {os.getloadavg()[0]:.2f}", file=sys.stderr)
        flows = [
            ("hello_world", hello, args.repeat),
            (f"{args.big_nodes} nodes", big, args.big_repeat),
        ]
        floors = {
            name: precompiled(path, root / f"pre_{i}", env)
            for i, (name, path, _) in enumerate(flows)
        }

        times: dict[str, list[float]] = {}
        memory: dict[str, list[float]] = {}

        def record(label: str, command: Sequence[str]) -> None:
            seconds, mb = timed(command, root, env)
            times.setdefault(label, []).append(seconds)
            memory.setdefault(label, []).append(mb)

        for command in [*start_rows.values(), *floors.values()]:
            timed(command, root, env)
        for name, path, _ in flows:
            timed(fresh(path), root, env)
        for _ in range(args.repeat):
            for label, command in start_rows.items():
                record(label, command)
        for name, path, repeat in flows:
            for _ in range(repeat):
                record(f"{name}: precompiled import + run", floors[name])
                record(f"{name}: atomiton run, first", fresh(path))
                record(f"{name}: atomiton run, again", [*atomiton(), "run", str(path)])

        median = {label: statistics.median(values) for label, values in times.items()}
        floor_of = {label: "python -c pass" for label in start_rows}
        for name, _, _ in flows:
            for kind in ("first", "again", "precompiled"):
                floor_of[f"{name}: atomiton run, {kind}"] = f"{name}: precompiled import + run"
            floor_of[f"{name}: precompiled import + run"] = f"{name}: precompiled import + run"
        header = f"{'what':<42} {'median s':>9} {'x floor':>8} {'peak MB':>8}"
        print(header)
        print("-" * len(header))
        for label in times:
            ratio = median[label] / median[floor_of[label]]
            peak = statistics.median(memory[label])
            print(f"{label:<42} {median[label]:>9.3f} {ratio:>7.2f}x {peak:>8.0f}")
        click_ratio = median['python -c "import click"'] / median["python -c pass"]
        help_ratio = median["atomiton --help"] / median["python -c pass"]
        nodes_ratio = median["atomiton nodes"] / median["python -c pass"]
        print()
        print(
            f"click alone {click_ratio:.1f}x; --help {help_ratio:.1f}x, nodes {nodes_ratio:.1f}x "
            f"of python -c pass (goal 6x)"
        )
        for name, _, _ in flows:
            again = median[f"{name}: atomiton run, again"]
            floor = median[f"{name}: precompiled import + run"]
            print(
                f"{name}: a repeated run costs {again / floor:.2f}x the precompiled module (goal 1.3x)"
            )
        print(f"load after: {os.getloadavg()[0]:.2f}", file=sys.stderr)


if __name__ == "__main__":
    main()
