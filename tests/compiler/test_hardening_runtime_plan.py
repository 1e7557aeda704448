"""``plan`` fuses only true chains: a task never makes another wait for nodes it does not read.

Issue 9, item 13: an independent slow in-memory node used to be fused into the task a blocking
node waited for, so two 3 s branches took 6 s.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from test_plan import node, planned, shape

from atomiton.compiler.ir import Graph
from atomiton.compiler.plan import Plan, is_blocking
from atomiton.compiler.reads import dependencies


def assert_no_false_waits(graph: Graph, plan: Plan) -> None:
    """A task that feeds blocking work holds only nodes its waiters need (their ancestors)."""
    index = {n.id: i for i, n in enumerate(graph.nodes)}
    ancestors: list[set[int]] = []
    for n in graph.nodes:
        mine: set[int] = set()
        for dep in dependencies(n):
            mine |= {index[dep]} | ancestors[index[dep]]
        ancestors.append(mine)
    blocking = [is_blocking(n) for n in graph.nodes]
    for task in plan.tasks:
        if task.mode != "thread" and not any(
            blocking[j] for j in range(len(graph.nodes)) if ancestors[j] & set(task.nodes)
        ):
            continue  # tail work: only other inline work can wait for it
        needed = set().union(*(ancestors[i] for i in task.nodes))
        for t in task.after:
            extra = [graph.nodes[i].id for i in plan.tasks[t].nodes if i not in needed]
            assert not extra, f"task {task.nodes} waits for {extra}, which it does not read"


def test_slow_sibling_is_not_fused_into_the_task_a_blocking_node_waits_for(
    tmp_path: Path,
) -> None:
    graph, plan = planned(
        tmp_path,
        [node("src"), node("slow"), node("fetch", thread=True)],
        [("in", "src"), ("src", "slow"), ("src", "fetch")],
    )
    tasks = shape(graph, plan)
    fetch = next(t for t in tasks if "fetch" in t[0])
    waited = [tasks[a][0] for a in fetch[1]]
    assert waited == [["src"]], tasks
    assert_no_false_waits(graph, plan)


def test_independent_root_is_not_packed_with_the_input_of_a_blocking_node(
    tmp_path: Path,
) -> None:
    graph, plan = planned(
        tmp_path,
        [node("slow"), node("src"), node("fetch", thread=True)],
        [("in", "slow"), ("in", "src"), ("src", "fetch")],
    )
    tasks = shape(graph, plan)
    fetch = next(t for t in tasks if "fetch" in t[0])
    assert all("slow" not in tasks[a][0] for a in fetch[1]), tasks
    assert_no_false_waits(graph, plan)


def test_work_after_a_blocking_node_with_two_consumers_gets_its_own_task(
    tmp_path: Path,
) -> None:
    graph, plan = planned(
        tmp_path,
        [node("fetch", thread=True), node("parse"), node("save", thread=True)],
        [("in", "fetch"), ("fetch", "parse"), ("fetch", "save")],
    )
    tasks = shape(graph, plan)
    assert tasks[0] == (["fetch"], (), "thread"), tasks
    assert_no_false_waits(graph, plan)


def test_tail_work_is_still_packed_into_one_task(tmp_path: Path) -> None:
    # Fan-out/fan-in of cheap nodes that feed nothing blocking: one inline task, as before.
    graph, plan = planned(
        tmp_path,
        [node("a"), node("b"), node("c"), node("d", inputs=("x", "y"))],
        [("in", "a"), ("a", "b"), ("a", "c"), ("b", "d", "x"), ("c", "d", "y")],
    )
    assert shape(graph, plan) == [(["a", "b", "c", "d"], (), "inline")]


@pytest.mark.parametrize("seed", range(12))
def test_random_graphs_have_no_false_waits(tmp_path: Path, seed: int) -> None:
    rng = random.Random(1000 + seed)
    count = rng.randint(3, 14)
    nodes = []
    edges: list[tuple[str, ...]] = []
    for i in range(count):
        sources = rng.sample(range(i), min(i, rng.randint(1, 2))) if i else []
        thread = rng.random() < 0.35
        if len(sources) == 2:
            nodes.append(node(f"n{i}", thread=thread, inputs=("x", "y")))
            edges.extend((f"n{s}", f"n{i}", port) for s, port in zip(sources, ("x", "y")))
        else:
            nodes.append(node(f"n{i}", thread=thread))
            edges.extend([(f"n{s}", f"n{i}") for s in sources] or [("in", f"n{i}")])
    graph, plan = planned(tmp_path, nodes, edges)
    assert_no_false_waits(graph, plan)
