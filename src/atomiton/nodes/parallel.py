"""The ``parallel`` node: run several branches at once on the same input.

The branches are sub-blueprints that the compiler turns into functions of the generated module;
they arrive here as ``branches``. This module owns the scheduling: the concurrency limit, the
strategies (all, allSettled, race), per-branch and overall timeouts, failFast and result order.

Each branch runs as a ``subtask`` of the node's context. When the node finishes early (a timeout,
a race won, failFast) or the run is cancelled, every branch still running is cancelled: the
programs its nodes started are killed and it stops at its next node boundary; branches not yet
started never start. The node then waits for its branch threads (``_END_GRACE`` at most: Python
code inside a node cannot be interrupted) and hands any still running to the run, which waits
for them (a second at most) before it returns.

Threads: under a run every thread a parallel node uses counts against the run's concurrency
limit, and the node's own thread does not sit waiting: it runs branches itself on the node's
token, and every further branch thread borrows a token while one is free (asked again between
branches), so two parallel nodes side by side at concurrency 4 use 4 threads in all. The thread
that settles the deciding outcome (a race won, a failFast failure) cancels the branches still
running, the one the node's thread runs included; like any node's own thread, it returns once
that branch stops (at its next node boundary; Python code that never returns keeps it).
The node's thread only coordinates where it must watch the clock (``operationTimeout``,
``globalTimeout``: a running branch cannot time itself out) or where no limit applies (a direct
call with a detached context, which then returns the moment the outcome is decided): the first
branch thread then works on the node's token and the rest borrow. A branch thread that timed
out is cancelled and no longer counted: a new one takes its place.

On a cluster (``NodeContext.offload``) each branch runs as a task of the cluster; the same
threads then wait for those tasks, so strategies, timeouts and cancelling behave as here.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Annotated, Any, Final, Literal

from pydantic import Field

from ..errors import CancelledError
from ..runtime.context import NodeContext, Offloaded
from ..runtime.execution import describe
from .spec import NodeParams, Port, Subflow, node_spec

# How long a parallel node waits for cancelled branch threads before it leaves them to the run.
_END_GRACE: Final = 0.1
# How often a node short of tokens asks the run's limiter again.
_TOKEN_POLL: Final = 0.05


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

    results: Annotated[list[Any], Port(description="The branches' results (see strategy).")]
    completed: Annotated[int, Port(description="How many branches succeeded.")]
    failed: Annotated[int, Port(description="How many branches failed or timed out.")]


@dataclass(slots=True)
class _Outcome:
    index: int
    sequence: int  # completion order
    value: Any = None
    error: BaseException | None = None


class _Run:
    """The shared state of one call: a queue of branch indexes, outcomes, and a condition."""

    def __init__(
        self,
        branches: Sequence[Callable[[Any], Any]],
        data: Any,
        context: NodeContext,
        params: Params,
    ) -> None:
        self.branches = branches
        self.data = data
        self.context = context
        self.params = params
        self.cond = threading.Condition()
        self.next_index = 0
        self.started: dict[int, float] = {}  # running branch -> monotonic start
        self.scopes: dict[int, NodeContext] = {}  # running branch -> its subtask context
        self.outcomes: dict[int, _Outcome] = {}
        self.stopped = False
        # Branches that timed out while running: their thread is cancelled and ends on its own.
        self.abandoned: set[int] = set()
        self.active = 0  # threads taking branches (not abandoned ones), the helping node's too
        self.tokens = 0  # tokens borrowed from the run's limiter
        self.workers: list[threading.Thread] = []

    def worker(self) -> None:
        """A branch thread: take branches until none is left (or this one timed out)."""
        while True:
            with self.cond:
                index = self.take()
                if index is None:
                    self.active -= 1
                    surplus = self.surplus()
                    self.cond.notify_all()
                    break
            self.run_branch(index)
            with self.cond:
                if index in self.abandoned:
                    return  # a replacement worker took this one's place when it timed out
        self.give_back(surplus)

    def help(self) -> None:
        """The node's own thread runs branches too, on the node's token, adding workers between."""
        with self.cond:
            self.active += 1
        while True:
            with self.cond:
                index = self.take()
                if index is None:
                    self.active -= 1
                    surplus = self.surplus()
                    break
                # After taking its own, so no thread starts for the branch this one runs.
                self.grow()
            error = self.run_branch(index)
            if error is not None and not isinstance(error, Exception):
                # KeyboardInterrupt in the node's own thread (the main one of a one-task run)
                # stops the node rather than becoming a branch outcome; run() ends the rest.
                raise error
        self.give_back(surplus)

    def take(self) -> int | None:
        """The next branch to start, or None when none may start (under ``cond``)."""
        if self.context.cancelled:
            self.stopped = True
        if self.stopped or self.next_index >= len(self.branches):
            return None
        index = self.next_index
        self.next_index += 1
        self.started[index] = time.monotonic()
        # The waiting thread sets its next wake-up from the start times of operationTimeout.
        self.cond.notify_all()
        return index

    def run_branch(self, index: int) -> BaseException | None:
        """Run branch ``index`` and settle it; return what it raised."""
        try:
            with self.context.subtask() as scope:
                with self.cond:
                    self.scopes[index] = scope
                    doomed = self.stopped or index in self.outcomes
                if doomed:
                    scope.cancel()
                value, error = self.branches[index](self.data), None
        except BaseException as exc:  # noqa: BLE001 - reported as the branch's outcome
            value, error = None, exc
        losers: list[NodeContext] = []
        with self.cond:
            self.started.pop(index, None)
            self.scopes.pop(index, None)
            # A branch that timed out keeps its timeout outcome; once the node is decided,
            # a branch still running counts as neither succeeded nor failed.
            if index not in self.outcomes and not self.stopped:
                self.settle(index, value, error)
                if _is_decided(self.params, self, len(self.branches)):
                    # The deciding thread stops the rest at once: the node's thread may be
                    # running a branch itself rather than watching.
                    self.stopped = True
                    losers = list(self.scopes.values())
        for scope in losers:
            scope.cancel()
        return error

    def settle(self, index: int, value: Any, error: BaseException | None) -> None:
        self.outcomes[index] = _Outcome(index, len(self.outcomes), value, error)
        self.cond.notify_all()

    def abandon(self, index: int) -> None:
        """Branch ``index`` timed out: cancel it and stop counting its thread (under ``cond``)."""
        self.abandoned.add(index)
        self.active -= 1
        scope = self.scopes.get(index)
        if scope is not None:
            scope.cancel()

    def grow(self) -> bool:
        """Start workers for waiting branches within the limits (under ``cond``).

        Returns whether a branch waits for a token the run's limiter could not lend yet.
        """
        limiter = self.context.limiter
        waiting = 0 if self.stopped else len(self.branches) - self.next_index
        while waiting > 0 and self.active < self.params.concurrency:
            if self.active >= 1 + self.tokens:
                if limiter is not None and not limiter.acquire_nowait():
                    return True
                self.tokens += 1 if limiter is not None else 0
            self.active += 1
            waiting -= 1
            thread = threading.Thread(
                target=self.worker,
                name=f"atomiton-parallel-{self.context.node_id}-{len(self.workers)}",
                daemon=True,
            )
            self.workers.append(thread)
            thread.start()
        # Give back what no worker needs any more, so the rest of the run can use it.
        self.give_back(self.surplus())
        return False

    def surplus(self) -> int:
        """Forget the borrowed tokens no thread works on any more; return how many (under ``cond``)."""
        count = 0
        while self.tokens > 0 and 1 + self.tokens > max(self.active, 1):
            self.tokens -= 1
            count += 1
        return count

    def give_back(self, count: int) -> None:
        limiter = self.context.limiter
        if limiter is not None:
            for _ in range(count):
                limiter.release(notify=True)

    def finish(self) -> None:
        """Stop everything still running, wait for it a moment, and give the tokens back."""
        with self.cond:
            self.stopped = True
            scopes = list(self.scopes.values())
        for scope in scopes:
            scope.cancel()
        # Idle workers exit at once; cancelled branches get a moment (a killed program ends in
        # milliseconds), after which the run waits for them instead of this node.
        deadline = time.monotonic() + (_END_GRACE if scopes else 5.0)
        for thread in self.workers:
            thread.join(max(0.0, deadline - time.monotonic()))
        for thread in self.workers:
            if thread.is_alive():
                self.context.leave(thread)
        limiter = self.context.limiter
        with self.cond:
            tokens, self.tokens = self.tokens, 0
        if limiter is not None:
            for _ in range(tokens):
                limiter.release(notify=True)


def run(
    params: Params,
    *,
    data: Annotated[Any, Port(description="The value every branch receives.")] = None,
    branches: Annotated[Sequence[Callable[[Any], Any]], Subflow("branch")],
    context: NodeContext,
) -> Output:
    """Run every branch on ``data`` under ``params.strategy``.

    Args:
        params: the node's parameters.
        data: the value every branch receives.
        branches: the compiled branches, functions of ``data``.
        context: the node's context; cancelling it cancels every running branch.

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
    with context.offload(branches) as remote:
        if remote is not None:
            # Each branch a task of the cluster; this node's threads only wait for them.
            branches = [partial(_remote_branch, remote, k) for k in range(count)]
        return _run(params, data, branches, context)


def _remote_branch(remote: Offloaded, index: int, data: Any) -> Any:
    ((value, error),) = remote.call(index, [data], True)
    if error is not None:
        raise error
    return value


def _run(
    params: Params, data: Any, branches: Sequence[Callable[[Any], Any]], context: NodeContext
) -> Output:
    count = len(branches)
    state = _Run(branches, data, context, params)
    op_timeout = params.operation_timeout / 1000 if params.operation_timeout is not None else None
    deadline = (
        time.monotonic() + params.global_timeout / 1000
        if params.global_timeout is not None
        else None
    )

    def wake() -> None:
        with state.cond:
            state.cond.notify_all()

    unregister = context.on_cancel(wake)
    cancelled = False
    try:
        if op_timeout is None and deadline is None and context.limiter is not None:
            state.help()
        with state.cond:
            while True:
                if context.cancelled:
                    cancelled = True
                    break
                starved = state.grow()
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
                            state.abandon(index)
                            starved = state.grow()
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
                if starved:
                    waits.append(_TOKEN_POLL)
                state.cond.wait(max(0.0, min(waits)) if waits else None)
            outcomes = dict(state.outcomes)
    finally:
        unregister()
        state.finish()
    if cancelled:
        raise CancelledError(f"node {context.node_id!r} was cancelled")
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
                "reason": describe(o.error),
            }
        )
        for o in ordered
    ]
    return Output(results=settled, completed=len(succeeded), failed=len(failures))


def _failure(prefix: str, failures: list[_Outcome]) -> ParallelError:
    first = failures[0]
    assert first.error is not None
    if len(failures) == 1:
        text = f"branch {first.index} failed: {describe(first.error)}"
        kind = BranchTimeoutError if isinstance(first.error, BranchTimeoutError) else ParallelError
        error = kind(f"{prefix}: {text}" if prefix else text)
        error.__cause__ = first.error
        return error
    causes = [o.error for o in failures if o.error is not None]
    listed = "; ".join(
        f"branch {o.index}: {describe(o.error)}" for o in failures if o.error is not None
    )
    error = ParallelError(f"{prefix or f'{len(failures)} branches failed'}: {listed}")
    error.__cause__ = BaseExceptionGroup("parallel branches failed", causes)
    return error


SPEC: Final = node_spec(
    run,
    description="Run several branches at once on the same input.",
    # The node waits for as long as its branches run, so it gets a worker thread of its own.
    execution="thread",
)
