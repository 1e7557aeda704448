"""``plan``: which nodes share a task, and which tasks wait for which."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from atomiton.compiler import CompileOptions, load_graph
from atomiton.compiler.reads import dependencies
from atomiton.compiler.ir import Graph
from atomiton.compiler.plan import Plan, plan_graph

from flowfiles import write_blueprint


def node(node_id: str, *, thread: bool = False, inputs: tuple[str, ...] = ()) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": node_id,
        "type": "python",
        "function": f"pkg.mod:{node_id.replace('-', '_')}",
    }
    if inputs:
        data["inputPorts"] = [{"id": name} for name in inputs]
    if thread:
        data["parameters"] = {"execution": "thread"}
    return data


def planned(
    tmp_path: Path, nodes: list[dict[str, Any]], edges: list[tuple[str, ...]]
) -> tuple[Graph, Plan]:
    data = {
        "id": "plan",
        "interface": {"inputs": [{"id": "seed", "dataType": "any", "default": 1}]},
        "nodes": nodes,
        "edges": [
            {
                "source": "input.seed" if e[0] == "in" else e[0],
                "target": e[1],
                **({"targetHandle": e[2]} if len(e) > 2 else {}),
            }
            for e in edges
        ],
    }
    path = write_blueprint(tmp_path, data)
    graph = load_graph(path, options=CompileOptions(root=tmp_path, search_path=()))
    plan = plan_graph(graph)
    check_plan(graph, plan)
    return graph, plan


def check_plan(graph: Graph, plan: Plan) -> None:
    """Every node is in one task, after everything it reads."""
    placed = sorted(i for task in plan.tasks for i in task.nodes)
    assert placed == list(range(len(graph.nodes))), "every node exactly once"
    index = {n.id: i for i, n in enumerate(graph.nodes)}
    waits: list[set[int]] = []
    for t, task in enumerate(plan.tasks):
        assert all(a < t for a in task.after), f"task {t} waits for a later task: {task.after}"
        closure = set(task.after)
        for a in task.after:
            closure |= waits[a]
        waits.append(closure)
    for i, n in enumerate(graph.nodes):
        mine = plan.task_of[i]
        for dep in dependencies(n):
            d = index[dep]
            theirs = plan.task_of[d]
            if theirs == mine:
                assert plan.tasks[mine].nodes.index(d) < plan.tasks[mine].nodes.index(i)
            else:
                assert (
                    theirs in waits[mine]
                ), f"{n.id} (task {mine}) does not wait for {dep} (task {theirs})"


def shape(graph: Graph, plan: Plan) -> list[tuple[list[str], tuple[int, ...], str]]:
    return [([graph.nodes[i].id for i in task.nodes], task.after, task.mode) for task in plan.tasks]


def test_chain_of_inline_nodes_is_one_task(tmp_path: Path) -> None:
    graph, plan = planned(
        tmp_path, [node("a"), node("b"), node("c")], [("in", "a"), ("a", "b"), ("b", "c")]
    )
    assert shape(graph, plan) == [(["a", "b", "c"], (), "inline")]


def test_independent_inline_nodes_share_a_task(tmp_path: Path) -> None:
    graph, plan = planned(tmp_path, [node("a"), node("b")], [("in", "a"), ("in", "b")])
    assert shape(graph, plan) == [(["a", "b"], (), "inline")]


def test_independent_blocking_nodes_get_their_own_tasks(tmp_path: Path) -> None:
    graph, plan = planned(
        tmp_path,
        [node("fetch-a", thread=True), node("fetch-b", thread=True), node("fetch-c", thread=True)],
        [("in", "fetch-a"), ("in", "fetch-b"), ("in", "fetch-c")],
    )
    assert shape(graph, plan) == [
        (["fetch-a"], (), "thread"),
        (["fetch-b"], (), "thread"),
        (["fetch-c"], (), "thread"),
    ]


def test_blocking_node_and_its_only_consumer_are_fused(tmp_path: Path) -> None:
    graph, plan = planned(
        tmp_path,
        [node("fetch", thread=True), node("parse"), node("save", thread=True)],
        [("in", "fetch"), ("fetch", "parse"), ("parse", "save")],
    )
    assert shape(graph, plan) == [(["fetch", "parse", "save"], (), "thread")]


def test_fan_out_after_a_blocking_node(tmp_path: Path) -> None:
    graph, plan = planned(
        tmp_path,
        [
            node("fetch", thread=True),
            node("left", thread=True),
            node("right", thread=True),
            node("join", inputs=("x", "y")),
        ],
        [
            ("in", "fetch"),
            ("fetch", "left"),
            ("fetch", "right"),
            ("left", "join", "x"),
            ("right", "join", "y"),
        ],
    )
    tasks = shape(graph, plan)
    assert tasks[0] == (["fetch"], (), "thread")
    left = next(t for t in tasks if "left" in t[0])
    right = next(t for t in tasks if "right" in t[0])
    assert left is not right, "independent blocking branches must be able to run at once"
    assert left[1] == right[1] == (0,)


def test_diamond_of_inline_nodes_stays_one_task(tmp_path: Path) -> None:
    graph, plan = planned(
        tmp_path,
        [node("a"), node("b"), node("c"), node("d", inputs=("x", "y"))],
        [("in", "a"), ("a", "b"), ("a", "c"), ("b", "d", "x"), ("c", "d", "y")],
    )
    assert shape(graph, plan) == [(["a", "b", "c", "d"], (), "inline")]


@pytest.mark.parametrize("seed", range(8))
def test_random_graphs_give_valid_plans(tmp_path: Path, seed: int) -> None:
    import random

    rng = random.Random(seed)
    count = rng.randint(2, 12)
    nodes = [node(f"n{i}", thread=rng.random() < 0.4) for i in range(count)]
    edges: list[tuple[str, str]] = []
    for i in range(count):
        sources = rng.sample(range(i), min(i, rng.randint(0, 1))) if i else []
        edges.extend((f"n{s}", f"n{i}") for s in sources)
        if not sources:
            edges.append(("in", f"n{i}"))
    planned(tmp_path, nodes, edges)  # check_plan asserts the invariants
