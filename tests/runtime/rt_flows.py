"""Flows written by hand in the exact shape atomiton generates (docs/generated-module.md).

``fan``: ``src`` (inline) -> four ``w*`` thread tasks -> ``sink`` (inline). Each worker sleeps
``inputs.delay`` seconds through its node context (so cancellation interrupts it) and fails when
``inputs.fail`` names it. ``chain``: six thread nodes one after another.
"""

from __future__ import annotations

import os
import time
from typing import Any, Final

from pydantic import BaseModel, ConfigDict

from atomiton import runtime as _rt

BLUEPRINT: Final = _rt.Blueprint(
    id="fan",
    name="Fan out",
    version="1.0.0",
    source="tests/fan.yaml",
    sha256="0" * 64,
    nodes=(
        _rt.NodeInfo(id="src", type="edit-fields", line=5, column=5, weight=80),
        _rt.NodeInfo(id="w0", type="python", line=8, column=5, execution="thread"),
        _rt.NodeInfo(id="w1", type="python", line=11, column=5, execution="thread"),
        _rt.NodeInfo(id="w2", type="python", line=14, column=5, execution="thread"),
        _rt.NodeInfo(
            id="w3", type="python", line=17, column=5, source="tests/sub.yaml", execution="thread"
        ),
        _rt.NodeInfo(id="sink", type="transform", line=20, column=5, weight=50),
    ),
)


class Inputs(BaseModel):
    """The flow's inputs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    x: int = 1
    delay: float = 0.0
    fail: str = ""


class Outputs(BaseModel):
    """The flow's outputs."""

    model_config = ConfigDict(frozen=True)

    total: int
    parts: list[int]


def work(k: int, x: int, delay: float, fail: str, *, context: _rt.NodeContext) -> int:
    """A blocking node: waits ``delay`` (interruptibly), then fails or returns ``x + k``."""
    if delay:
        context.wait(delay)
        context.check()
    if fail == f"w{k}":
        raise ValueError(f"boom in w{k}")
    return x + k


class _State:
    """Node results, shared by the tasks of one run."""

    __slots__ = ("inputs", "src", "w0", "w1", "w2", "w3", "sink")

    src: int
    w0: int
    w1: int
    w2: int
    w3: int
    sink: int

    def __init__(self, inputs: Inputs) -> None:
        self.inputs = inputs


def _task_0(ex: _rt.Execution, s: _State) -> None:
    inputs = s.inputs
    # src: edit-fields (tests/fan.yaml:5:5)
    if ex.slow:
        ex.node_started(0)
    try:
        s.src = inputs.x * 10
    except Exception as exc:
        ex.node_failed(0, exc)
    if ex.slow:
        ex.node_completed(0)


def _task_1(ex: _rt.Execution, s: _State) -> None:
    inputs = s.inputs
    # w0: python (tests/fan.yaml:8:5)
    if ex.slow:
        ex.node_started(1)
    try:
        s.w0 = work(0, s.src, inputs.delay, inputs.fail, context=ex.context(1))
    except Exception as exc:
        ex.node_failed(1, exc)
    if ex.slow:
        ex.node_completed(1)


def _task_2(ex: _rt.Execution, s: _State) -> None:
    inputs = s.inputs
    # w1: python (tests/fan.yaml:11:5)
    if ex.slow:
        ex.node_started(2)
    try:
        s.w1 = work(1, s.src, inputs.delay, inputs.fail, context=ex.context(2))
    except Exception as exc:
        ex.node_failed(2, exc)
    if ex.slow:
        ex.node_completed(2)


def _task_3(ex: _rt.Execution, s: _State) -> None:
    inputs = s.inputs
    # w2: python (tests/fan.yaml:14:5)
    if ex.slow:
        ex.node_started(3)
    try:
        s.w2 = work(2, s.src, inputs.delay, inputs.fail, context=ex.context(3))
    except Exception as exc:
        ex.node_failed(3, exc)
    if ex.slow:
        ex.node_completed(3)


def _task_4(ex: _rt.Execution, s: _State) -> None:
    inputs = s.inputs
    # w3: python (tests/sub.yaml:17:5)
    if ex.slow:
        ex.node_started(4)
    try:
        s.w3 = work(3, s.src, inputs.delay, inputs.fail, context=ex.context(4))
    except Exception as exc:
        ex.node_failed(4, exc)
    if ex.slow:
        ex.node_completed(4)


def _task_5(ex: _rt.Execution, s: _State) -> None:
    # sink: transform (tests/fan.yaml:20:5)
    if ex.slow:
        ex.node_started(5)
    try:
        s.sink = s.w0 + s.w1 + s.w2 + s.w3
    except Exception as exc:
        ex.node_failed(5, exc)
    if ex.slow:
        ex.node_completed(5)


_TASKS: Final = (
    _rt.Task(_task_0),
    _rt.Task(_task_1, after=(0,), mode="thread"),
    _rt.Task(_task_2, after=(0,), mode="thread"),
    _rt.Task(_task_3, after=(0,), mode="thread"),
    _rt.Task(_task_4, after=(0,), mode="thread"),
    _rt.Task(_task_5, after=(1, 2, 3, 4)),
)


def _execute(ex: _rt.Execution, inputs: Inputs) -> Outputs:
    s = _State(inputs)
    ex.run_tasks(_TASKS, s)
    return Outputs(total=s.sink, parts=[s.w0, s.w1, s.w2, s.w3])


def run(
    inputs: Inputs | None = None,
    *,
    hooks: _rt.HooksArg = None,
    concurrency: int | None = None,
    timeout: float | None = None,
    cancel: _rt.CancelToken | None = None,
) -> Outputs:
    """Run the flow and return its outputs."""
    return _rt.run(
        BLUEPRINT,
        _execute,
        Inputs() if inputs is None else inputs,
        hooks=hooks,
        concurrency=concurrency,
        timeout=timeout,
        cancel=cancel,
    )


async def arun(
    inputs: Inputs | None = None,
    *,
    hooks: _rt.HooksArg = None,
    concurrency: int | None = None,
    timeout: float | None = None,
    cancel: _rt.CancelToken | None = None,
) -> Outputs:
    """Run the flow from asyncio; cancelling the awaiting task cancels the run."""
    return await _rt.arun(
        BLUEPRINT,
        _execute,
        Inputs() if inputs is None else inputs,
        hooks=hooks,
        concurrency=concurrency,
        timeout=timeout,
        cancel=cancel,
    )


EXPECTED_TOTAL: Final = 4 * 10 + (0 + 1 + 2 + 3)  # for x=1


# -- chain: six thread nodes, one after another ---------------------------------------------------

CHAIN: Final = _rt.Blueprint(
    id="chain",
    name="Chain",
    version="1.0.0",
    source="tests/chain.yaml",
    sha256="1" * 64,
    nodes=tuple(
        _rt.NodeInfo(id=f"n{i}", type="python", line=3 + i, column=5, execution="thread")
        for i in range(6)
    ),
)


class _ChainState:
    __slots__ = ("inputs", "value")

    def __init__(self, inputs: float) -> None:
        self.inputs = inputs
        self.value = 0


def step(value: int, delay: float) -> int:
    time.sleep(delay)
    return value * 2 + 1


def _chain_task(ex: _rt.Execution, s: _ChainState) -> None:
    for i in range(6):
        # n{i}: python (tests/chain.yaml)
        if ex.slow:
            ex.node_started(i)
        try:
            s.value = step(s.value, s.inputs)
        except Exception as exc:
            ex.node_failed(i, exc)
        if ex.slow:
            ex.node_completed(i)


_CHAIN_TASKS: Final = (
    _rt.Task(_chain_task, mode="thread"),
    _rt.Task(lambda ex, s: None, after=(0,)),
)


def execute_chain(ex: _rt.Execution, delay: float) -> int:
    s = _ChainState(delay)
    ex.run_tasks(_CHAIN_TASKS, s)
    return s.value


def child_pids() -> set[int]:
    """Live child processes of this process (read from /proc)."""
    me = str(os.getpid())
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[1] == me and fields[0] != "Z":
            found.add(int(entry))
    return found


class Recorder:
    """A hook that keeps every event (thread-safe enough: one event at a time per run)."""

    def __init__(self) -> None:
        self.events: list[_rt.Event] = []

    def on_event(self, *, event: _rt.Event) -> None:
        self.events.append(event)

    def kinds(self) -> list[str]:
        return [e.kind for e in self.events]

    def of(self, cls: type[Any]) -> list[Any]:
        return [e for e in self.events if isinstance(e, cls)]
