"""Which state slots each planned task reads from its ancestors and writes, and the text of the
generated module's ``_TASKS`` tuple that carries them.

An executor whose tasks share no memory (a distributed one) ships only what crosses between
tasks, so each ``_rt.Task`` names the slots it reads from other tasks, the slots it hands on
(those a later task reads or the outputs read) and the node writing each. ``codegen`` renders
the tasks' statements and the state's fields; this module reads those statements for slot reads
and lays out the tuple. How tasks are cut is the plan's decision.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from black.strings import str_width

from . import layout
from .ir import Node
from .literals import literal
from .module_text import NodeView, TaskView
from .plan import Plan

# A state slot named in generated code: ``s.total`` or the guard ``hasattr(s, "total")``.
_SLOT_READ = re.compile(r"\bs\.([A-Za-z_]\w*)|\bhasattr\(s, [\"']([A-Za-z_]\w*)[\"']\)")

_READS_INPUTS = re.compile(r"\binputs\b")

StateFields = Callable[[tuple[Node, ...]], list[tuple[str, str]]]


class TaskSlots:
    """Which state slots each task writes (and which node writes each), and which of the slots
    its ancestors wrote it reads.

    Writes are the task's own nodes' slots; reads are found in the task's generated statements,
    so a guard on a node two tasks up counts as surely as an input edge. A name that only looks
    like a slot read (in embedded code) is kept only when an ancestor task writes that slot.
    """

    def __init__(
        self,
        plan: Plan,
        nodes: Sequence[Node],
        state_fields: StateFields,
        views: list[TaskView],
    ) -> None:
        by_name = {view.name: view for view in views}
        self.writer: dict[str, int] = {}
        self.writes: list[list[str]] = []
        self.makers: list[list[int]] = []  # per written slot, the index of the node writing it
        for t, task in enumerate(plan.tasks):
            own = [(name, i) for i in task.nodes for name, _ in state_fields((nodes[i],))]
            self.writes.append([name for name, _ in own])
            self.makers.append([i for _, i in own])
            for name, _ in own:
                self.writer[name] = t
        ancestors: list[set[int]] = []
        for task in plan.tasks:
            seen = set(task.after)
            for d in task.after:
                seen |= ancestors[d]
            ancestors.append(seen)
        self.reads: list[list[str]] = []
        for t in range(len(plan.tasks)):
            view = by_name[f"_task_{t}"]
            texts = [
                _view_text(node)
                for part in (view, *(by_name[p] for p in view.parts))
                for node in part.nodes
            ]
            found = _slots_in("\n".join(texts))
            self.reads.append(
                sorted(name for name in found if self.writer.get(name, t) in ancestors[t])
            )

    def results(self, text: str) -> list[str]:
        """The slots the outputs expression ``text`` reads, in the order of first use."""
        return [name for name in dict.fromkeys(_slots_in_order(text)) if name in self.writer]

    def narrow(self, results: list[str]) -> None:
        """Keep in each task's writes only the slots a later task reads or the outputs read
        (``results``): what its chain alone uses never leaves the task, so it is never pickled
        (``pickling.check`` warns about exactly the values that do leave)."""
        wanted = set(results).union(*self.reads)
        for t, (writes, makers) in enumerate(zip(self.writes, self.makers)):
            kept = [(name, i) for name, i in zip(writes, makers) if name in wanted]
            self.writes[t] = [name for name, _ in kept]
            self.makers[t] = [i for _, i in kept]


def reads_inputs(nodes: list[NodeView]) -> bool:
    """Whether any of the nodes' code reads the flow's inputs (else no ``inputs`` local)."""
    return any(
        _READS_INPUTS.search(text)
        for node in nodes
        for text in (node.statement, node.serve, *(function.text for function in node.functions))
    )


def task_items(plan: Plan, slots: TaskSlots) -> list[str]:
    """One ``_rt.Task(...)`` call per planned task: its function, what it waits for, how it
    runs and, for an executor whose tasks share no memory, what crosses between tasks."""
    items = []
    for t, task in enumerate(plan.tasks):
        args = [f"_task_{t}"]
        if task.after:
            args.append(f"after=({', '.join(map(str, task.after))},)")
        if task.mode != "inline":
            args.append(f"mode={literal(task.mode)}")
        if slots.reads[t]:
            args.append(f"reads={names_tuple(slots.reads[t])}")
        if slots.writes[t]:
            args.append(f"writes={names_tuple(slots.writes[t])}")
            makers = ", ".join(map(str, slots.makers[t]))
            args.append(f"makers=({makers}{',' if len(slots.makers[t]) == 1 else ''})")
        items.append(f"_rt.Task({', '.join(args)})")
    return items


def tasks_tuple(items: list[str]) -> str:
    """The ``_TASKS: Final = (...)`` statement holding ``items``, laid out as black would (by
    hand: a 10,000-node chain names 10,000 slots, which black takes seconds to format)."""
    if len(items) == 1:
        line = f"_TASKS: Final = ({items[0]},)"
        if str_width(line) <= layout.LINE_LENGTH:
            return line
    return "_TASKS: Final = (\n" + "".join(layout.exploded_call(item, 4) for item in items) + ")"


def names_tuple(names: list[str]) -> str:
    """A tuple literal of slot names."""
    return f"({', '.join(literal(n) for n in names)}{',' if len(names) == 1 else ''})"


def _view_text(node: NodeView) -> str:
    return "\n".join(
        [*(f.text for f in node.functions), node.statement, node.guard or "", *node.after]
    )


def _slots_in_order(text: str) -> list[str]:
    return [a or b for a, b in _SLOT_READ.findall(text)]


def _slots_in(text: str) -> set[str]:
    return set(_slots_in_order(text))
