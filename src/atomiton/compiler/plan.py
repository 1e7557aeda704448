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

The plan also decides, for every node (sub-blueprint bodies included), what codegen only
writes down: which nodes go through the runtime's policy path (``ex.call``), which run only
when an ``onError: branch`` upstream took their way (``Condition``s), and which values may be
None. Spelling those decisions as Python is codegen's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from .bound import ERROR_PORT
from .reads import bindings_of, dependencies
from .ir import Binding, FromNode, Graph, Node

Mode = str  # "inline" | "thread"


@dataclass(frozen=True, slots=True)
class PlannedTask:
    """Nodes (by index into ``Graph.nodes``) that run one after another, after ``after``."""

    nodes: tuple[int, ...]
    after: tuple[int, ...]
    mode: Mode


@dataclass(frozen=True, slots=True)
class Condition:
    """What must hold for a node's value to exist.

    ``ran``: the node ran (a branch upstream may have skipped it); ``failed`` / ``succeeded``:
    the node, which branches on error, took its error way / its value way.
    """

    node: str
    kind: Literal["ran", "failed", "succeeded"]


@dataclass(frozen=True, slots=True)
class NodeDecision:
    """How one node is run.

    Attributes:
        policy: the call goes through the runtime's policy path (retries, timeout, onError,
            another process) instead of a direct call.
        guard: the node runs only when all of these hold (an ``onError: branch`` upstream).
        may_fail_to_none: a failure leaves the node's result None (``onError: continue``), so
            its ports are read only from a result that is there.
    """

    policy: bool
    guard: tuple[Condition, ...] = ()
    may_fail_to_none: bool = False


@dataclass(frozen=True, slots=True)
class Plan:
    tasks: tuple[PlannedTask, ...]
    task_of: tuple[int, ...]  # node index -> task index
    # Every node's decision by id, the nodes of loop bodies and parallel branches included.
    nodes: Mapping[str, NodeDecision] = field(default_factory=dict)
    # Every node by id, bodies included (what a condition names).
    by_id: Mapping[str, Node] = field(default_factory=dict)

    def conditions(self, binding: Binding) -> tuple[Condition, ...]:
        """What must hold for ``binding``'s value to exist (empty: it always does)."""
        return _conditions(binding, self.nodes, self.by_id)

    def may_be_none(self, binding: Binding) -> bool:
        """Whether ``binding``'s value may be None: skipped by a branch, or failed and let go."""
        if not isinstance(binding, FromNode):
            return False
        return bool(self.conditions(binding)) or self.nodes[binding.node].may_fail_to_none


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


def takes_policy_path(node: Node) -> bool:
    """Whether the node's call goes through the runtime's policy (``ex.call``)."""
    execution = node.spec.execution if node.spec is not None else node.params.get("execution")
    return (
        node.settings.retries > 0
        or node.settings.timeout is not None
        or node.settings.on_error != "fail"
        or execution == "process"
    )


def _conditions(
    binding: Binding, decisions: Mapping[str, NodeDecision], by_id: Mapping[str, Node]
) -> tuple[Condition, ...]:
    """What must hold for ``binding``'s value to exist.

    Its node ran (if a branch upstream may skip it) and, if the node branches on error, took
    the way this port stands for. Checking that the node ran, rather than repeating every
    condition above it, keeps each test short however long a chain of branches is.
    """
    if not isinstance(binding, FromNode):
        return ()
    node = by_id[binding.node]
    found: list[Condition] = []
    if decisions[node.id].guard:
        found.append(Condition(node.id, "ran"))
    if node.settings.on_error == "branch":
        kind: Literal["failed", "succeeded"] = (
            "failed" if binding.port == ERROR_PORT else "succeeded"
        )
        found.append(Condition(node.id, kind))
    return tuple(found)


def _decide(graph: Graph, decisions: dict[str, NodeDecision], by_id: dict[str, Node]) -> None:
    """Decide how each node of ``graph`` and of its bodies runs (nodes in order)."""
    scope = {n.id for n in graph.nodes}
    for node in graph.nodes:
        by_id[node.id] = node
        guard: list[Condition] = []
        for binding in bindings_of(node):
            if isinstance(binding, FromNode) and binding.node in scope:
                conditions = _conditions(binding, decisions, by_id)
                guard.extend(c for c in conditions if c not in guard)
        decisions[node.id] = NodeDecision(
            takes_policy_path(node), tuple(guard), node.settings.on_error == "continue"
        )
        for body in node.bodies:
            _decide(body, decisions, by_id)


def plan_graph(graph: Graph) -> Plan:
    """Group ``graph``'s nodes into tasks, and decide how each node runs (see the module
    docstring for the rules)."""
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
    decisions: dict[str, NodeDecision] = {}
    by_id: dict[str, Node] = {}
    _decide(graph, decisions, by_id)
    return Plan(tasks, tuple(task_of), decisions, by_id)
