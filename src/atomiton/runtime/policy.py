"""The policy path of a node call: retries with backoff, per-node timeouts, ``on_error`` and
process execution.

``Execution.call`` delegates here. A node's policy comes from its ``NodeInfo``; this module emits
the node's events through the execution and leaves scheduling to ``scheduler.py``.
"""

from __future__ import annotations

import multiprocessing
import pickle
import random
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor, wait
from typing import TYPE_CHECKING, Any, TypeVar, cast

from ..errors import NodeError, RunTimeoutError
from .context import NodeContext
from .execution import describe

if TYPE_CHECKING:
    from .execution import Execution

T = TypeVar("T")

# Backoff never waits longer than this between attempts, however many retries a node has.
MAX_RETRY_DELAY = 60.0


class NodeTimeoutError(RunTimeoutError):
    """One attempt of a node took longer than the node's timeout."""


def retry_delay(base: float, attempt: int) -> float:
    """Seconds to wait after failed attempt ``attempt`` (1-based): exponential with jitter.

    The delay doubles each attempt and is then drawn from its upper half ("equal jitter"), so
    runs that failed together do not all retry at the same instant, yet each still backs off.
    """
    ceiling: float = min(MAX_RETRY_DELAY, base * 2.0 ** (attempt - 1))
    return ceiling / 2 + random.uniform(0.0, ceiling / 2)


def call_with_policy(
    ex: Execution, i: int, fn: Callable[..., T], args: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> T:
    """Call ``fn(*args, **kwargs)`` as node ``i``: see ``Execution.call``."""
    info = ex.nodes[i]
    if not info.enabled:
        ex.node_skipped(i, "disabled")
        return cast(T, None)
    attempts = info.retries + 1
    context = kwargs.get("context")
    context = context if isinstance(context, NodeContext) else None
    try:
        for attempt in range(1, attempts + 1):
            ex.checkpoint()
            ex.begin_attempt(i, attempt)
            timed_out = False
            try:
                if info.execution == "process":
                    result = _call_in_process(ex, i, fn, args, kwargs, info.timeout)
                elif info.timeout is not None:
                    result = _call_with_timeout(ex, fn, args, kwargs, info.timeout, context)
                else:
                    result = fn(*args, **kwargs)
            except NodeError as exc:
                # A nested node failed (it keeps the blame), or the process boundary refused
                # the data: neither gets better by retrying.
                ex.node_failed(i, exc)
            except Exception as exc:
                if ex.is_run_stop(exc) or ex.cancelled:
                    ex.node_failed(i, exc)
                timed_out = isinstance(exc, NodeTimeoutError)
                if attempt < attempts:
                    delay = retry_delay(info.retry_delay, attempt)
                    ex.report_retry(i, attempt, delay, exc, timed_out=timed_out)
                    if ex.wait_stopped(delay):  # cancelled while backing off
                        ex.checkpoint()
                    if context is not None and context.cancelled and not ex.cancelled:
                        # The timed-out attempt cancelled this context; the next one needs a live one.
                        context = _fresh_context(ex, i, kwargs)
                    continue
                if info.on_error != "fail":
                    ex.report_failure(i, exc, timed_out=timed_out, handled=True)
                    return cast(T, None)
                ex.report_failure(i, exc, timed_out=timed_out)
                raise ex.node_error_for(i, exc) from exc
            ex.node_completed(i)
            return result
    finally:
        if context is not None:
            ex.release_context(context)
    raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover


def _fresh_context(ex: Execution, i: int, kwargs: Mapping[str, Any]) -> NodeContext:
    context = ex.context(i)
    if isinstance(kwargs, dict):
        kwargs["context"] = context
    return context


class _Outcome:
    """The result of a call made in a helper thread."""

    __slots__ = ("done", "value", "error")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: object = None
        self.error: BaseException | None = None


def _call_with_timeout(
    ex: Execution,
    fn: Callable[..., T],
    args: tuple[Any, ...],
    kwargs: Mapping[str, Any],
    timeout: float,
    context: NodeContext | None,
) -> T:
    """Run the call in a helper thread and stop waiting after ``timeout`` seconds.

    Python cannot kill a thread, so on timeout the node's context (if it takes one) is cancelled
    so that the call can end itself (a shell node kills its process group); the helper thread
    is daemonic so a call that ignores cancellation can never keep the process alive.
    """
    outcome = _Outcome()

    def target() -> None:
        try:
            outcome.value = fn(*args, **kwargs)
        except BaseException as exc:  # handed to the waiting thread
            outcome.error = exc
        finally:
            outcome.done.set()

    thread = threading.Thread(target=target, name=f"atomiton-timeout-{ex.run_id}", daemon=True)
    thread.start()
    if not outcome.done.wait(timeout):
        if context is not None:
            context.cancel()
            ex.abandoned.append(thread)
        raise NodeTimeoutError(f"timed out after {timeout:g}s")
    thread.join()
    if outcome.error is not None:
        raise outcome.error
    return cast(T, outcome.value)


def _process_pool(ex: Execution) -> ProcessPoolExecutor:
    with ex._lock:
        if ex.process_pool is None:
            # forkserver (spawn elsewhere): forking a process that runs threads can deadlock it.
            method = (
                "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
            )
            ex.process_pool = ProcessPoolExecutor(
                max_workers=min(ex.limiter.total_tokens, multiprocessing.cpu_count() or 1),
                mp_context=multiprocessing.get_context(method),
            )
        return ex.process_pool


def _call_in_process(
    ex: Execution,
    i: int,
    fn: Callable[..., T],
    args: tuple[Any, ...],
    kwargs: Mapping[str, Any],
    timeout: float | None,
) -> T:
    """Run the call in the run's process pool, after checking its data can cross over."""
    try:
        pickle.dumps((fn, args, dict(kwargs)))
    except Exception as exc:
        info = ex.nodes[i]
        raise NodeError(
            f"cannot send the call to a worker process (execution: process): {describe(exc)}; "
            "process nodes need module-level functions and picklable arguments",
            node_id=info.id,
            node_type=info.type,
            source=ex.blueprint.where(info),
            line=info.line,
            column=info.column,
        ) from exc
    future = _process_pool(ex).submit(fn, *args, **kwargs)
    # Poll in short steps so that a cancelled run stops waiting promptly.
    remaining = timeout
    while True:
        step = 0.05 if remaining is None else min(0.05, remaining)
        wait((future,), timeout=step)
        if future.done():
            return future.result()
        if remaining is not None:
            remaining -= step
            if remaining <= 0:
                future.cancel()
                raise NodeTimeoutError(f"timed out after {timeout:g}s")
        if ex.cancelled:
            future.cancel()
            ex.checkpoint()
