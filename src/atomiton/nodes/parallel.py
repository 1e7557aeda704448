"""The ``parallel`` node: run several branches at once on the same input.

The branches are sub-blueprints that the compiler turns into functions of the generated module;
they arrive here as ``branches``. This module owns the scheduling: the concurrency limit, the
strategies (all, allSettled, race), per-branch and overall timeouts, failFast and result order.

Threads cannot be killed. When the node finishes early (a timeout, a race won, failFast), the
branches not yet started never start, and the call returns at once; a branch already running
keeps its (daemon) worker thread until it returns by itself, and its result is discarded.
Branches receive only the input value, so they cannot observe that they were abandoned.
Cancelling the run is different: it cancels the branches' own nodes too, so the node waits a
moment (``_CANCEL_GRACE``) for the running branches to end before it raises, and their events
come before the run's end.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from pydantic import Field

from ..errors import CancelledError
from ..runtime.context import NodeContext
from .spec import NodeParams, NodeSpec, Port

# How long a cancelled parallel node waits for its running branches to notice the cancellation.
_CANCEL_GRACE: Final = 0.2


class ParallelError(RuntimeError):
    """One or more branches failed; the ``__cause__`` is the branch's exception (or a group)."""


class BranchTimeoutError(ParallelError, TimeoutError):
    """A branch ran longer than ``operationTimeout``, or the node longer than ``globalTimeout``."""


class Params(NodeParams):
    """Parameters of the ``parallel`` node."""

    branches: list[str | dict[str, Any]] = Field(
        default_factory=list,
        description="The sub-blueprints to run, each a path or inline `nodes`/`edges`; each receives `data`.",
    )
    concurrency: int = Field(default=5, ge=1, description="How many branches run at once.")
    strategy: Literal["all", "allSettled", "race"] = Field(
        default="all",
        description=(
            "all: every branch must succeed, results are their values; allSettled: never fails, "
            "results are `{index, status, value | reason}` records; race: the first branch to "
            "succeed wins (results holds its value alone) and the node fails only if every "
            "branch fails."
        ),
    )
    operation_timeout: float | None = Field(
        default=None,
        gt=0,
        description="Milliseconds one branch may run; a slower branch counts as failed.",
    )
    global_timeout: float | None = Field(
        default=None,
        gt=0,
        description="Milliseconds the whole node may take; unfinished branches count as failed.",
    )
    fail_fast: bool = Field(
        default=True,
        description="strategy all: true stops at the first failure; false waits for every branch "
        "and reports all failures together.",
    )
    maintain_order: bool = Field(
        default=True, description="True: results in branch order; false: in order of completion."
    )


@dataclass(frozen=True, slots=True)
class Output:
    """What ``parallel`` produces."""

    results: list[Any]
    completed: int
    failed: int


@dataclass(slots=True)
class _Outcome:
    index: int
    sequence: int  # completion order
    value: Any = None
    error: BaseException | None = None


class _Run:
    """The shared state of one call: a queue of branch indexes, outcomes, and a condition."""

    def __init__(self, branches: Sequence[Callable[[Any], Any]], data: Any) -> None:
        self.branches = branches
        self.data = data
        self.cond = threading.Condition()
        self.next_index = 0
        self.started: dict[int, float] = {}  # running branch -> monotonic start
        self.outcomes: dict[int, _Outcome] = {}
        self.stopped = False
        # Branches that timed out while running: their thread is left to finish on its own.
        self.abandoned: set[int] = set()

    def worker(self) -> None:
        while True:
            with self.cond:
                if self.stopped or self.next_index >= len(self.branches):
                    return
                index = self.next_index
                self.next_index += 1
                self.started[index] = time.monotonic()
                # The waiting thread sets its next wake-up from the start times of operationTimeout.
                self.cond.notify_all()
            try:
                value, error = self.branches[index](self.data), None
            except BaseException as exc:  # noqa: BLE001 - reported as the branch's outcome
                value, error = None, exc
            with self.cond:
                self.started.pop(index, None)
                # A branch that already timed out keeps its timeout outcome.
                if index not in self.outcomes:
                    self.settle(index, value, error)
                abandoned = index in self.abandoned
            if abandoned:
                return  # a replacement worker took this one's place when it timed out

    def settle(self, index: int, value: Any, error: BaseException | None) -> None:
        self.outcomes[index] = _Outcome(index, len(self.outcomes), value, error)
        self.cond.notify_all()


def run(
    params: Params,
    *,
    data: Any = None,
    branches: Sequence[Callable[[Any], Any]],
    context: NodeContext,
) -> Output:
    """Run every branch on ``data`` under ``params.strategy``.

    Args:
        params: the node's parameters.
        data: the value every branch receives.
        branches: the compiled branches, functions of ``data``.
        context: the node's context; cancelling the run stops waiting at once (running branches
            get at most ``_CANCEL_GRACE`` seconds to end first).

    Returns:
        ``results`` (see ``strategy``), how many branches succeeded and how many failed (a
        branch still running when the node finished early counts as neither).

    Raises:
        ParallelError: strategy all and a branch failed (``BranchTimeoutError`` for timeouts),
            or strategy race and every branch failed.
        CancelledError: the run was cancelled.
    """
    count = len(branches)
    if count == 0:
        return Output(results=[], completed=0, failed=0)
    state = _Run(branches, data)
    op_timeout = params.operation_timeout / 1000 if params.operation_timeout is not None else None
    deadline = (
        time.monotonic() + params.global_timeout / 1000
        if params.global_timeout is not None
        else None
    )

    def wake() -> None:
        with state.cond:
            state.cond.notify_all()

    workers: list[threading.Thread] = []

    def start_worker() -> None:
        thread = threading.Thread(
            target=state.worker,
            name=f"atomiton-parallel-{context.node_id}-{len(workers)}",
            daemon=True,
        )
        workers.append(thread)
        thread.start()

    unregister = context.on_cancel(wake)
    cancelled = False
    try:
        with state.cond:
            for _ in range(min(params.concurrency, count)):
                start_worker()
            while True:
                if context.cancelled:
                    cancelled = True
                    break
                now = time.monotonic()
                if op_timeout is not None:
                    for index, started in list(state.started.items()):
                        if now - started >= op_timeout and index not in state.outcomes:
                            state.settle(
                                index,
                                None,
                                BranchTimeoutError(
                                    f"branch {index} ran longer than operationTimeout ({params.operation_timeout:g} ms)"
                                ),
                            )
                            # The stuck thread keeps running; a new worker takes its slot so the
                            # concurrency limit counts live branches, not stuck threads.
                            state.abandoned.add(index)
                            if state.next_index < count:
                                start_worker()
                if deadline is not None and now >= deadline:
                    for index in range(count):
                        if index not in state.outcomes:
                            state.settle(
                                index,
                                None,
                                BranchTimeoutError(
                                    f"branch {index} did not finish within globalTimeout ({params.global_timeout:g} ms)"
                                ),
                            )
                if _is_decided(params, state, count):
                    break
                waits = [
                    started + op_timeout - now
                    for index, started in state.started.items()
                    if op_timeout is not None and index not in state.outcomes
                ]
                if deadline is not None:
                    waits.append(deadline - now)
                state.cond.wait(max(0.0, min(waits)) if waits else None)
            state.stopped = True
            outcomes = dict(state.outcomes)
            running = bool(state.started)
    finally:
        with state.cond:
            state.stopped = True
        unregister()
    if cancelled:
        # The run's stop cancelled the running branches' nodes too: give them a moment to end
        # (and report) so that nothing of this node outlives the run; never wait long.
        deadline = time.monotonic() + _CANCEL_GRACE
        for thread in workers:
            thread.join(max(0.0, deadline - time.monotonic()))
        raise CancelledError(f"node {context.node_id!r} was cancelled")
    if not running:
        # Nothing is left inside a branch, so every worker exits at once: leave no thread behind.
        for thread in workers:
            thread.join()
    return _result(params, outcomes, count)


def _is_decided(params: Params, state: _Run, count: int) -> bool:
    outcomes = state.outcomes.values()
    if params.strategy == "race" and any(o.error is None for o in outcomes):
        return True
    if params.strategy == "all" and params.fail_fast and any(o.error is not None for o in outcomes):
        return True
    return len(state.outcomes) == count


def _result(params: Params, outcomes: dict[int, _Outcome], count: int) -> Output:
    ordered = sorted(
        outcomes.values(),
        key=(lambda o: o.index) if params.maintain_order else (lambda o: o.sequence),
    )
    succeeded = [o for o in ordered if o.error is None]
    failures = [o for o in ordered if o.error is not None]
    if params.strategy == "race":
        if succeeded:
            winner = min(succeeded, key=lambda o: o.sequence)
            return Output(results=[winner.value], completed=1, failed=len(failures))
        raise _failure("every branch failed", failures)
    if params.strategy == "all":
        if failures:
            # Under failFast the first failure to happen is the one reported.
            failures.sort(key=lambda o: o.sequence)
            raise _failure("", failures if not params.fail_fast else failures[:1])
        return Output(results=[o.value for o in ordered], completed=len(succeeded), failed=0)
    settled = [
        (
            {"index": o.index, "status": "fulfilled", "value": o.value}
            if o.error is None
            else {
                "index": o.index,
                "status": "rejected",
                "reason": f"{type(o.error).__name__}: {o.error}",
            }
        )
        for o in ordered
    ]
    return Output(results=settled, completed=len(succeeded), failed=len(failures))


def _failure(prefix: str, failures: list[_Outcome]) -> ParallelError:
    first = failures[0]
    assert first.error is not None
    if len(failures) == 1:
        text = f"branch {first.index} failed: {type(first.error).__name__}: {first.error}"
        kind = BranchTimeoutError if isinstance(first.error, BranchTimeoutError) else ParallelError
        error = kind(f"{prefix}: {text}" if prefix else text)
        error.__cause__ = first.error
        return error
    causes = [o.error for o in failures if o.error is not None]
    listed = "; ".join(f"branch {o.index}: {type(o.error).__name__}: {o.error}" for o in failures)
    error = ParallelError(f"{prefix or f'{len(failures)} branches failed'}: {listed}")
    error.__cause__ = BaseExceptionGroup("parallel branches failed", causes)
    return error


SPEC: Final = NodeSpec(
    type="parallel",
    module=__name__,
    params=Params,
    inputs=(Port("data", "any", description="The value every branch receives."),),
    outputs=(
        Port("results", "array", description="The branches' results (see strategy)."),
        Port("completed", "integer", description="How many branches succeeded."),
        Port("failed", "integer", description="How many branches failed or timed out."),
    ),
    description="Run several branches at once on the same input.",
    # The node waits for as long as its branches run, so it gets a worker thread of its own.
    execution="thread",
    weight=100,
    needs_context=True,
)
