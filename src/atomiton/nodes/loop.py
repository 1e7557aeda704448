"""The ``loop`` node: run a body once per item, ``count`` times, or while a condition holds.

The body is a sub-blueprint that the compiler turns into a function of the generated module; it
arrives here as ``body``. This module owns iteration, the ``maxIterations`` guard, concurrency
(through ``NodeContext.map``), per-iteration progress and ``continueOnError``. On a cluster
(``NodeContext.offload``) the items of a concurrent loop run as the cluster's tasks, in batches.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Final, Literal

from pydantic import Field

from ..errors import CancelledError
from ..runtime.context import NodeContext, Offloaded
from ..runtime.execution import describe, message_of
from .spec import Code, NodeParams, Port, Subflow, node_spec


class LoopError(RuntimeError):
    """The loop could not run, or an iteration failed (its exception is the ``__cause__``)."""


class Params(NodeParams):
    """Parameters of the ``loop`` node."""

    loop_type: Literal["forEach", "times", "while"] = Field(
        default="forEach",
        description="forEach: once per item of `array`; times: `count` times; while: as long as `condition` holds.",
    )
    count: int | None = Field(default=None, ge=0, description="How many iterations `times` runs.")
    condition: str | None = Field(
        default=None,
        description=(
            "Python expression compiled into the module, checked before each iteration of "
            "`while`; it reads `iteration` (0-based) and `last_result` (the previous "
            "iteration's result, None at first)."
        ),
    )
    body: str | dict[str, Any] | None = Field(
        default=None,
        description="The sub-blueprint run per iteration: a path, or inline `nodes`/`edges`. "
        "Its input is the item (forEach) or the iteration index (times, while).",
    )
    concurrency: int = Field(
        default=1,
        ge=1,
        description="Iterations run at once (forEach, times); results keep item order.",
    )
    max_iterations: int = Field(
        default=1000,
        ge=1,
        description="Safety limit: a loop that would run more iterations fails instead.",
    )
    continue_on_error: bool = Field(
        default=False,
        description="True: a failed iteration is recorded in `errors` (its result is None) and the loop goes on.",
    )
    collect_results: bool = Field(
        default=True, description="False: `results` stays empty (saves memory)."
    )


@dataclass(frozen=True, slots=True)
class Output:
    """What ``loop`` produces."""

    results: Annotated[list[Any], Port(description="Each iteration's result, in item order.")]
    iteration_count: Annotated[int, Port(description="How many iterations ran.")]
    errors: Annotated[
        list[dict[str, Any]],
        Port(description="Failed iterations under continueOnError: index, error, type."),
    ]


def run(
    params: Params,
    *,
    array: Annotated[list[Any] | None, Port(description="The items of a forEach loop.")] = None,
    body: Annotated[Callable[[Any], Any], Subflow("body")],
    condition: Annotated[
        Callable[[Any, Any], Any] | None, Code("condition", args=("iteration", "last_result"))
    ] = None,
    context: NodeContext,
) -> Output:
    """Run ``body`` per iteration and collect the results in iteration order.

    Args:
        params: the node's parameters.
        array: the items of a forEach loop.
        body: the compiled body; called with the item (forEach) or the 0-based index.
        condition: the compiled ``condition`` of a while loop, called as
            ``condition(iteration, last_result)``.
        context: the node's context: cancellation, progress, sub-work.

    Returns:
        ``results`` (None where an iteration failed under ``continueOnError``), the number of
        iterations run, and one ``{"index", "error", "type"}`` record per failed iteration.

    Raises:
        LoopError: a required input is missing, the loop would exceed ``maxIterations``, or an
            iteration failed without ``continueOnError``.
        CancelledError: the run was cancelled.
    """
    if params.loop_type == "while":
        return _run_while(params, body, condition, context)
    if params.loop_type == "times":
        if params.count is None:
            raise LoopError("a 'times' loop needs count")
        items: list[Any] = list(range(params.count))
    else:
        if array is None:
            raise LoopError("a 'forEach' loop needs an array")
        if not isinstance(array, (list, tuple)):
            raise LoopError(f"a 'forEach' loop needs an array, got {type(array).__name__}")
        items = list(array)
    if len(items) > params.max_iterations:
        raise LoopError(
            f"the loop would run {len(items)} iterations, more than maxIterations ({params.max_iterations})"
        )

    errors: list[dict[str, Any]] = []
    lock = threading.Lock()
    done = 0
    total = len(items)

    def iterate(pair: tuple[int, Any]) -> Any:
        nonlocal done
        index, item = pair
        # context.map checks between sequential items; threads check here before starting.
        context.check()
        value = _iteration(params, body, index, item, errors, lock)
        with lock:
            done += 1
            finished = done
        context.progress(finished, total, f"iteration {index + 1} of {total}")
        return value

    if params.concurrency > 1 and total > 1:
        with context.offload([body]) as remote:
            if remote is not None:
                results = _offloaded(params, remote, items, errors, context)
                errors.sort(key=lambda record: int(record["index"]))
                return Output(
                    results=results if params.collect_results else [],
                    iteration_count=total,
                    errors=errors,
                )
    results = context.map(iterate, enumerate(items), concurrency=params.concurrency)
    errors.sort(key=lambda record: int(record["index"]))
    return Output(
        results=results if params.collect_results else [], iteration_count=total, errors=errors
    )


def _run_while(
    params: Params,
    body: Callable[[Any], Any],
    condition: Callable[[Any, Any], Any] | None,
    context: NodeContext,
) -> Output:
    # Each check needs the previous result, so a while loop is sequential whatever concurrency says.
    if condition is None:
        raise LoopError("a 'while' loop needs a condition")
    results: list[Any] = []
    errors: list[dict[str, Any]] = []
    lock = threading.Lock()
    iteration = 0
    last_result: Any = None
    while True:
        context.check()
        try:
            holds = condition(iteration, last_result)
        except Exception as exc:
            raise LoopError(
                f"condition failed before iteration {iteration}: {describe(exc)}"
            ) from exc
        if not holds:
            break
        if iteration >= params.max_iterations:
            raise LoopError(
                f"the condition still holds after maxIterations ({params.max_iterations}) iterations"
            )
        # A scope per iteration: cancelling the loop (its timeout) reaches the body's nodes.
        with context.subtask():
            last_result = _iteration(params, body, iteration, iteration, errors, lock)
        if params.collect_results:
            results.append(last_result)
        iteration += 1
        # The total is unknown; maxIterations is the honest upper bound.
        context.progress(iteration, params.max_iterations, f"iteration {iteration}")
    context.progress(iteration, iteration or 1, "done")
    return Output(results=results, iteration_count=iteration, errors=errors)


def _offloaded(
    params: Params,
    remote: Offloaded,
    items: list[Any],
    errors: list[dict[str, Any]],
    context: NodeContext,
) -> list[Any]:
    """The items as tasks of a cluster, in batches run one item after another, at most
    ``concurrency`` batches at once (``context.map`` over the batches keeps the order, the
    first failure and the cancelling of the rest as it does for items)."""
    total = len(items)
    count = remote.batches(total, params.concurrency)
    size = -(-total // count)
    batches = [list(range(start, min(start + size, total))) for start in range(0, total, size)]
    lock = threading.Lock()
    done = 0

    def run_batch(indexes: list[int]) -> list[Any]:
        nonlocal done
        context.check()
        outcomes = remote.call(0, [items[k] for k in indexes], params.continue_on_error)
        values = []
        for index, (value, error) in zip(indexes, outcomes):
            values.append(_settled(params, index, value, error, errors, lock))
            with lock:
                done += 1
                finished = done
            context.progress(finished, total, f"iteration {index + 1} of {total}")
        return values

    nested = context.map(run_batch, batches, concurrency=params.concurrency)
    return [value for values in nested for value in values]


def _iteration(
    params: Params,
    body: Callable[[Any], Any],
    index: int,
    item: Any,
    errors: list[dict[str, Any]],
    lock: threading.Lock,
) -> Any:
    try:
        return body(item)
    except CancelledError:
        raise
    except Exception as exc:
        return _settled(params, index, None, exc, errors, lock)


def _settled(
    params: Params,
    index: int,
    value: Any,
    error: BaseException | None,
    errors: list[dict[str, Any]],
    lock: threading.Lock,
) -> Any:
    """An iteration's value, or its failure: raised, or recorded under ``continueOnError``."""
    if error is None:
        return value
    if not isinstance(error, Exception) or isinstance(error, CancelledError):
        raise error
    if not params.continue_on_error:
        raise LoopError(f"iteration {index} failed: {describe(error)}") from error
    with lock:
        errors.append({"index": index, "error": message_of(error), "type": type(error).__name__})
    return None


def _needs(params: Params) -> tuple[str, ...]:
    """forEach iterates its ``array`` input; times needs a count; while needs a condition."""
    return {"forEach": ("array",), "times": ("count",), "while": ("condition",)}[params.loop_type]


SPEC: Final = node_spec(
    run,
    needs=_needs,
    needs_decided_by=("loopType",),
    description="Run a body once per item (or n times, or while a condition holds).",
    # The node waits for as long as its body runs (which may do I/O), so it gets a worker thread.
    execution="thread",
    weight=20,
)
