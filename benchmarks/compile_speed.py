"""Compile speed: time to compile blueprints of 10 to 10,000 nodes, flat and nested.

Not a test: prints a table, the time per node, the growth exponent between sizes, and whether
1,000 nodes compile under 0.5 s and 10,000 under 5 s. ``compile`` is ``compile_blueprint`` end
to end, as ``atomiton compile`` calls it (the median of the repeats); the stages are also timed
apart (resolve+bind+validate+inline, plan, render with layout) so that a slow stage is named, not guessed.
The floor is Python's own ``compile()`` of the generated module (what importing that much code
costs anyway); the last column is what running black over the whole module would add, which
compiling does not do. Machines differ and other work slows a run: compare ``x floor``, and
``cpu`` (the process time of ``compile``), which other processes inflate far less than the wall
clock.

    python benchmarks/compile_speed.py [--sizes 10,100,1000,5000,10000] [--repeat 3]

Flat: a chain of ``code`` nodes in one file, every fourth node fanning out from the one three
steps back so that the plan has parallel branches. Nested: the same nodes grouped into
sub-blueprint files of ten nodes, those grouped ten to a file, and so on (depth log10 n).
"""

from __future__ import annotations

import argparse
import gc
import math
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final, TypeVar

from atomiton.compiler import (
    CompileOptions,
    codegen,
    compile_blueprint,
    layout,
    load_graph,
    naming,
    plan,
    postprocess,
    types,
)

GOALS: Final = {1000: 0.5, 10000: 5.0}  # seconds to compile that many nodes
FANOUT: Final = 4
T = TypeVar("T")


def node_yaml(index: int) -> str:
    return (
        f"  - {{id: n{index}, type: code, parameters: {{code: 'return (data or 0) + {index}'}}}}\n"
    )


def flat_blueprint(folder: Path, size: int) -> Path:
    nodes = "".join(node_yaml(i) for i in range(size))
    edges = "".join(
        f"  - {{source: n{i - (3 if i % FANOUT == 0 and i >= 3 else 1)}, target: n{i}}}\n"
        for i in range(1, size)
    )
    path = folder / f"flat_{size}.yaml"
    path.write_text(f"id: flat-{size}\nnodes:\n{nodes}edges:\n{edges}")
    return path


def nested_blueprint(folder: Path, size: int) -> Path:
    """Files of at most ten items: leaves hold ten nodes, each level up holds ten includes."""
    counter = iter(range(size))

    def write(level: int, count: int, name: str) -> Path:
        path = folder / f"{name}.yaml"
        interface = (
            "interface:\n  inputs: [{id: value, dataType: any, default: 0}]\n"
            "  outputs: [{id: result, dataType: any}]\n"
        )
        if level == 0:
            items = [f"n{next(counter)}" for _ in range(count)]
            nodes = "".join(
                node_yaml(int(item[1:])).replace(f"id: {item}", f"id: {item}") for item in items
            )
            port = ""
        else:
            per_child = 10**level
            items = []
            nodes = ""
            for child in range(math.ceil(count / per_child)):
                child_count = min(per_child, count - child * per_child)
                child_path = write(level - 1, child_count, f"{name}_{child}")
                item = f"g{child}"
                items.append(item)
                nodes += f"  - {{id: {item}, type: blueprint, parameters: {{path: {child_path.name}}}}}\n"
            port = ", targetHandle: value"
        edges = f"  - {{source: input.value, target: {items[0]}{port}}}\n"
        for before, after in zip(items, items[1:]):
            handle = ", sourceHandle: result" if level else ""
            edges += f"  - {{source: {before}{handle}, target: {after}{port}}}\n"
        handle = ", sourceHandle: result" if level else ""
        edges += f"  - {{source: {items[-1]}{handle}, target: output, targetHandle: result}}\n"
        path.write_text(f"id: {name.replace('_', '-')}\n{interface}nodes:\n{nodes}edges:\n{edges}")
        return path

    depth = max(1, math.ceil(math.log10(size)))
    return write(depth - 1, size, f"nested_{size}")


def timed(fn: Callable[[], T]) -> tuple[T, float]:
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def layout_cache_clear() -> None:
    """Forget laid-out statements, identifiers and port types, so that every repeat pays for
    its own (a first compilation in a process finds these memos empty)."""
    layout._black.cache_clear()
    layout._black_element.cache_clear()
    naming.identifier.cache_clear()
    types._parse.cache_clear()


def measure(
    path: Path, options: CompileOptions, repeat: int, check_black: bool = False
) -> dict[str, float]:
    """Median seconds of ``repeat`` runs: end to end, then per stage."""
    runs: dict[str, list[float]] = {}
    for _ in range(repeat):
        layout_cache_clear()
        cpu = time.process_time()
        compiled, t_compile = timed(lambda: compile_blueprint(path, options=options))
        cpu = time.process_time() - cpu
        # The stages apart, with the collector paused as ``compile_blueprint`` pauses it.
        gc.disable()
        try:
            graph, t_build = timed(lambda: load_graph(path, options=options))
            schedule, t_plan = timed(lambda: plan.plan_graph(graph))
            # Render lays the module out as black would (compiler/layout.py); black over the
            # whole module is not part of compiling, only timed here to show what that saves.
            layout_cache_clear()
            _, t_render = timed(lambda: codegen.render_module(graph, schedule, options))
        finally:
            gc.enable()
        # The source map is recorded while rendering (compiler/writer.py): no stage of its own.
        stages = {
            "compile": t_compile,
            "cpu": cpu,
            "build": t_build,
            "plan": t_plan,
            "render": t_render,
        }
        # Floor: what Python itself takes to turn the same module into bytecode, a cost any
        # producer of this much code pays at import.
        _, stages["floor"] = timed(lambda: compile(compiled.code, str(path), "exec"))
        if check_black:
            _, stages["black"] = timed(lambda: postprocess.format_code(compiled.code))
        for key, value in stages.items():
            runs.setdefault(key, []).append(value)
    return {key: statistics.median(values) for key, values in runs.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100,1000,5000,10000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--shapes", default="flat,nested")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    header = (
        f"{'shape':<7}{'nodes':>7}{'compile':>9}{'cpu':>9}{'ms/node':>9}{'growth':>8}{'build':>9}"
        f"{'plan':>9}{'render':>9}{'floor':>9}{'x floor':>9}{'(black over all)':>18}"
    )
    print(header)
    print("-" * len(header))
    verdicts = []
    makers = {"flat": flat_blueprint, "nested": nested_blueprint}
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        options = CompileOptions(root=root, search_path=())
        warm = flat_blueprint(root, 10)
        measure(warm, options, 1)  # imports, template compilation, black's caches
        for shape in args.shapes.split(","):
            previous: tuple[int, float] | None = None
            for size in sizes:
                path = makers[shape](root, size)
                times = measure(path, options, args.repeat, size <= 1000)
                total = times["compile"]
                growth = ""
                if previous is not None:
                    # Exponent k in time ~ n^k between consecutive sizes; flat is 1.0.
                    growth = f"{math.log(total / previous[1]) / math.log(size / previous[0]):.2f}"
                previous = (size, total)
                print(
                    f"{shape:<7}{size:>7}{total:>9.3f}{times['cpu']:>9.3f}"
                    f"{1000 * total / size:>9.3f}{growth:>8}"
                    f"{times['build']:>9.3f}{times['plan']:>9.3f}{times['render']:>9.3f}"
                    f"{times['floor']:>9.3f}{total / times['floor']:>9.1f}"
                    f"{times.get('black', math.nan):>18.3f}"
                )
                goal = GOALS.get(size)
                if goal is not None:
                    verdict = "ok" if total < goal else "SLOWER THAN"
                    verdicts.append(
                        f"{shape} {size:,} nodes: {total:.2f} s ({verdict} the {goal} s goal; "
                        f"{total / times['floor']:.1f}x Python's own compile of the module)"
                    )
    print()
    print("\n".join(verdicts))


if __name__ == "__main__":
    main()
