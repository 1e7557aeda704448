"""The schedule: which nodes run together in one task, and which tasks wait for which.

In-memory nodes are cheap, so they are packed into as few tasks as possible and run inline;
each blocking node (I/O, subprocess, process pool) starts a task of its own so independent ones
run concurrently, and a node that only continues one task's chain is fused into it. Within a task
nodes are direct calls in topological order: no queue round trip between them.
"""

from __future__ import annotations

from dataclasses import dataclass

from .reads import dependencies
from .ir import Graph, Node

Mode = str  # "inline" | "thread"


@dataclass(frozen=True, slots=True)
class PlannedTask:
    """Nodes (by index into ``Graph.nodes``) that run one after another, after ``after``."""

    nodes: tuple[int, ...]
    after: tuple[int, ...]
    mode: Mode


@dataclass(frozen=True, slots=True)
class Plan:
    tasks: tuple[PlannedTask, ...]
    task_of: tuple[int, ...]  # node index -> task index


def is_blocking(node: Node) -> bool:
    """Whether the node should leave the scheduling thread (I/O, subprocess, CPU pool)."""
    if node.spec is None:
        # A user's function runs inline unless its node says ``execution: thread``.
        return node.params.get("execution") == "thread"
    return (
        node.spec.execution != "inline"
        or node.settings.timeout is not None
        or node.settings.retries > 0
    )


def plan_graph(graph: Graph) -> Plan:
    """Group ``graph``'s nodes into tasks; see the module docstring for the rules."""
    index = {n.id: i for i, n in enumerate(graph.nodes)}
    deps = [sorted(index[d] for d in dependencies(n)) for n in graph.nodes]
    consumers: list[list[int]] = [[] for _ in graph.nodes]
    for i, required in enumerate(deps):
        for d in required:
            consumers[d].append(i)

    members: list[list[int]] = []
    task_after: list[set[int]] = []
    modes: list[Mode] = []
    ancestors: list[int] = []  # bitset of every task a task transitively waits for
    task_of: list[int] = [-1] * len(graph.nodes)
    inline_by_deps: dict[frozenset[int], int] = {}

    def new_task(after: set[int], mode: Mode) -> int:
        members.append([])
        task_after.append(after)
        modes.append(mode)
        bits = 0
        for t in after:
            bits |= ancestors[t] | (1 << t)
        ancestors.append(bits)
        return len(members) - 1

    for i, node in enumerate(graph.nodes):
        pred_tasks = {task_of[d] for d in deps[i]}
        blocking = is_blocking(node)
        chosen: int | None = None
        if blocking:
            # Chain fusion: the sole consumer of its only predecessor joins that task.
            if len(deps[i]) == 1 and len(consumers[deps[i][0]]) == 1:
                chosen = task_of[deps[i][0]]
                modes[chosen] = "thread"
        else:
            for t in sorted(pred_tasks):
                others = pred_tasks - {t}
                if all(ancestors[t] >> o & 1 for o in others) and (
                    modes[t] == "inline" or len(pred_tasks) == 1
                ):
                    chosen = t
                    break
            if chosen is None:
                key = frozenset(pred_tasks)
                candidate = inline_by_deps.get(key)
                if candidate is not None and task_after[candidate] == set(pred_tasks):
                    chosen = candidate
        if chosen is None:
            chosen = new_task(set(pred_tasks), "thread" if blocking else "inline")
            if not blocking:
                inline_by_deps[frozenset(pred_tasks)] = chosen
        members[chosen].append(i)
        task_of[i] = chosen

    tasks = tuple(
        PlannedTask(tuple(nodes), tuple(sorted(task_after[t] - {t})), modes[t])
        for t, nodes in enumerate(members)
    )
    return Plan(tasks, tuple(task_of))
