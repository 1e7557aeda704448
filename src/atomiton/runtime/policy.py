"""The policy path of a node call: retries with backoff, per-node timeouts, ``on_error`` and
process execution.

``Execution.call`` delegates here. A node's policy comes from its ``NodeInfo``; this module emits
the node's events through the execution's public methods, sends process calls to the run's
``ProcessExecutor`` (``executors/process.py``, which owns the pool) and leaves scheduling to the
``ThreadExecutor``.
"""

from __future__ import annotations

import pickle
import random
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import wait
from functools import partial
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING, Any, TypeVar, cast

from .. import worker
from ..errors import NodeError, RunTimeoutError
from .context import NodeContext
from .executors.process import WorkerDiedError as WorkerDiedError
from .runstate import describe

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
    ex: Execution,
    i: int,
    fn: Callable[..., T],
    args: tuple[Any, ...],
    kwargs: Mapping[str, Any],
    *,
    supplied: bool = False,
) -> T:
    """Call ``fn(*args, **kwargs)`` as node ``i``: see ``Execution.call``.

    ``supplied``: ``fn`` asks the run's suppliers (``Execution.serve``), so it stays in this
    process even for an ``execution: process`` node.
    """
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
                if info.execution == "process" and not supplied:
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
            ex.node_completed(i, result)
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


def _pickled_call(
    ex: Execution, i: int, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> bytes:
    """The call as bytes for a worker; what cannot cross is a ``NodeError`` naming the value."""
    try:
        return pickle.dumps((fn, args, dict(kwargs)), protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        what = "the call"
        # Find the culprit (the slow path, only on failure) so the message can name it.
        parts: list[tuple[str, object]] = [("function " + _name_of(fn), fn)]
        parts += [(f"argument {n}", a) for n, a in enumerate(args, 1)]
        parts += [(f"input {name!r}", value) for name, value in kwargs.items()]
        for label, part in parts:
            try:
                pickle.dumps(part, protocol=pickle.HIGHEST_PROTOCOL)
            except Exception as part_exc:
                what, exc = label, part_exc
                break
        raise ex.blame(
            i,
            f"cannot send the call to a worker process (execution: process): {what} is not "
            f"picklable: {describe(exc)}; process nodes need module-level functions and "
            "picklable values",
        ) from exc


def _name_of(fn: Callable[..., Any]) -> str:
    module = getattr(fn, "__module__", None)
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)
    return f"{module}:{name}" if module else str(name)


def _call_in_process(
    ex: Execution,
    i: int,
    fn: Callable[..., T],
    args: tuple[Any, ...],
    kwargs: Mapping[str, Any],
    timeout: float | None,
) -> T:
    """Run the call through the run's ``ProcessExecutor``, after checking its data can cross.

    A worker cannot be stopped from outside but by ending its process, and a process pool whose
    worker ends is broken for every call in it. So a timed-out call ends the whole pool (the run
    makes a new one on demand) and the calls that were in it are sent again to the new pool.
    """
    call = partial(worker.call, _pickled_call(ex, i, fn, args, kwargs))
    deadline = None if timeout is None else time.monotonic() + timeout
    processes = ex.processes
    while True:
        future = processes.submit(call)
        # Poll in short steps so that a cancelled run stops waiting promptly.
        while not future.done():
            step = 0.05 if deadline is None else min(0.05, max(0.0, deadline - time.monotonic()))
            wait((future,), timeout=step)
            if future.done():
                break
            if deadline is not None and time.monotonic() >= deadline:
                processes.end(future)
                raise NodeTimeoutError(f"timed out after {timeout:g}s")
            if ex.cancelled:
                future.cancel()
                ex.checkpoint()
        try:
            result = future.result()
        except BrokenProcessPool as exc:
            ex.checkpoint()  # the run was cancelled: that is what ended the workers
            if processes.was_ended(future):
                continue  # another node's timeout ended the pool: this call was not at fault
            # A worker died (killed, out of memory, a crash in native code): every call in the
            # pool fails with it, and a retry gets a new pool.
            processes.drop(future)
            raise WorkerDiedError(
                "a worker process of the run ended abruptly while this call was in its pool "
                "(killed, out of memory, or a crash in native code)"
            ) from exc
        except worker.ResultNotPicklable as exc:
            raise ex.blame(
                i,
                f"the result cannot be sent back from the worker process (execution: process): "
                f"{exc}; return picklable values",
            ) from None
        return cast(T, pickle.loads(result))
