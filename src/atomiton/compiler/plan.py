"""The schedule: which nodes run together in one task, and which tasks wait for which.

A task waits for the whole of each task it depends on, so putting a node into a task delays
everyone who waits for that task. Two rules keep that delay harmless:

* a true chain is fused: a node joins the task whose last node is its predecessor when it is that
  predecessor's only consumer (and the task already waits for its other inputs), so whoever
  waits for the task needs every node in it anyway;
* "tail" nodes, in-memory nodes from which no blocking node can be reached, are packed into as
  few inline tasks as possible: only other tail work can wait for them, and all inline work runs
  one piece after another in the scheduling thread whatever the grouping.

Every other node starts a task of its own, so an independent slow node never holds back a
blocking node (I/O, subprocess, process pool) that does not read it. Within a task nodes are
direct calls in topological order: no queue round trip between them.
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
        # A user's function runs inline unless its node says ``execution: thread``/``process``.
        return node.params.get("execution") in ("thread", "process")
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
    blocking = [is_blocking(n) for n in graph.nodes]
    # Nodes come in topological order, so consumers are decided before their producers here.
    feeds_blocking = [False] * len(graph.nodes)
    for i in reversed(range(len(graph.nodes))):
        feeds_blocking[i] = any(blocking[c] or feeds_blocking[c] for c in consumers[i])
    tail = [not blocking[i] and not feeds_blocking[i] for i in range(len(graph.nodes))]

    members: list[list[int]] = []
    task_after: list[set[int]] = []
    modes: list[Mode] = []
    all_tail: list[bool] = []
    ancestors: list[int] = []  # bitset of every task a task transitively waits for
    task_of: list[int] = [-1] * len(graph.nodes)
    tail_by_deps: dict[frozenset[int], int] = {}

    def new_task(after: set[int], mode: Mode) -> int:
        members.append([])
        task_after.append(after)
        modes.append(mode)
        all_tail.append(True)
        bits = 0
        for t in after:
            bits |= ancestors[t] | (1 << t)
        ancestors.append(bits)
        return len(members) - 1

    def covers(t: int, pred_tasks: set[int]) -> bool:
        """Whether task ``t`` already waits for every task in ``pred_tasks`` (or is one)."""
        return all(o == t or ancestors[t] >> o & 1 for o in pred_tasks)

    for i in range(len(graph.nodes)):
        pred_tasks = {task_of[d] for d in deps[i]}
        chosen: int | None = None
        # A true chain: the node continues the task that ends with its only-consumed input.
        for d in deps[i]:
            t = task_of[d]
            if members[t][-1] == d and consumers[d] == [i] and covers(t, pred_tasks):
                chosen = t
                break
        if chosen is None and tail[i]:
            # Tail work packs with other tail work it can follow.
            for t in sorted(pred_tasks):
                if all_tail[t] and modes[t] == "inline" and covers(t, pred_tasks):
                    chosen = t
                    break
            if chosen is None:
                candidate = tail_by_deps.get(frozenset(pred_tasks))
                if candidate is not None and task_after[candidate] == pred_tasks:
                    chosen = candidate
        if chosen is None:
            chosen = new_task(set(pred_tasks), "thread" if blocking[i] else "inline")
            if tail[i]:
                tail_by_deps[frozenset(pred_tasks)] = chosen
        if blocking[i]:
            modes[chosen] = "thread"
        all_tail[chosen] = all_tail[chosen] and tail[i]
        members[chosen].append(i)
        task_of[i] = chosen

    tasks = tuple(
        PlannedTask(tuple(nodes), tuple(sorted(task_after[t] - {t})), modes[t])
        for t, nodes in enumerate(members)
    )
    return Plan(tasks, tuple(task_of))
