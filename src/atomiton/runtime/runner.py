"""Starting a run: ``run`` (blocking) and ``arun`` (asyncio), with the execution-level events.

A run builds an ``Execution``, attaches it to the caller's token, calls the module's body and
reports how it ended. With no hooks, no token, no timeout and no trace it does nothing else, so a
small flow costs little more than calling its code directly.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from pydantic import ValidationError

from ..errors import AtomitonError, CancelledError, NodeError, OutputError, RunTimeoutError
from .confine import AllowPaths, Roots, resolve_roots
from .control import CancelToken, RunControl
from .events import ExecutionCancelled, ExecutionCompleted, ExecutionFailed, ExecutionStarted
from .execution import ACTIVE, Execution, RemoteTasks, describe, message_of, next_run_id
from .hooks import HooksArg, HookSet
from .model import Blueprint
from .resources import HTTP_CLIENT, RunResources
from .cache import CacheArg, make_supplier
from .supply import Supply, suppliers_for
from .trace import Trace

I = TypeVar("I")
O = TypeVar("O")


def run(
    blueprint: Blueprint,
    body: Callable[[Execution, I], O],
    inputs: I,
    *,
    hooks: HooksArg = None,
    concurrency: int | None = None,
    timeout: float | None = None,
    cancel: CancelToken | None = None,
    trace: bool = False,
    allow_paths: AllowPaths = None,
    http_client: object | None = None,
    pins: Mapping[str, object] | None = None,
    fail: Mapping[str, object] | None = None,
    cache: CacheArg = None,
    pin_types: object = None,
    executor: object = None,
) -> O:
    """Run a compiled flow and return what its body returns.

    Args:
        blueprint: the module's ``BLUEPRINT``.
        body: the module's ``_execute(ex, inputs)``.
        inputs: the validated inputs.
        hooks: a hook, several hooks, or None (then no event object is built at all).
        concurrency: the most thread tasks running at once (default: the blueprint's setting).
        timeout: the flow timeout in seconds (default: the blueprint's setting).
        cancel: a ``CancelToken`` (or ``RunControl``, which can also pause and resume).
        trace: record a trace; it rides on the final execution event and, when ``cancel`` is a
            ``RunControl``, is kept in its ``last_trace``.
        allow_paths: confine file nodes and program working directories to these folders
            (``confine.py``); None: no confinement.
        http_client: an ``httpx.Client`` every http-request node of the run uses (for proxies,
            mTLS, ...); the run never closes it. None: the run makes one pool and closes it.
        pins: node id -> the value the node gives instead of running (every call of it).
        fail: node id -> the exception the node fails with instead of running (testing aid).
        cache: the node cache (``cache.py``): None follows the blueprint's ``settings.cache``,
            False is off, True or a database path is on, a ``Cache`` says how.
        pin_types: the module's ``Pins`` TypedDict, which validates and converts ``pins``.
        executor: where the flow's tasks run: None (the blueprint's ``executor`` setting, else
            this process's threads), ``"threads"``, ``"dask"`` (a local cluster of worker
            processes, started and closed with the run), ``"dask-threads"`` (the same inside
            this process), a scheduler address (``"tcp://host:8786"``), or a
            ``distributed.Client`` (used, never closed). Dask needs the ``dask`` extra.

    Returns:
        The body's result (the flow's ``Outputs``).

    Raises:
        NodeError: a node failed (the error names it and its place in the blueprint).
        ExceptionGroup: several tasks failed at once.
        CancelledError: the run was cancelled.
        RunTimeoutError: the run took longer than its timeout.
        PinError: ``pins`` or ``fail`` name an unknown node, or a pin does not fit its node's
            output type (before anything runs).
        ValueError: a folder in ``allow_paths`` does not exist, or ``executor`` names none.
    """
    roots = resolve_roots(allow_paths)
    supply = _supply(blueprint, pins, fail, cache, pin_types)
    resources = RunResources({HTTP_CLIENT: http_client}) if http_client is not None else None
    if executor is None:
        executor = blueprint.executor
    session = None
    if executor is not None and executor != "threads":
        # Imported only here: a run on threads never imports distributed.
        from .executors.dask import open_session

        session = open_session(executor)
    elif (
        hooks is None
        and cancel is None
        and timeout is None
        and blueprint.timeout is None
        and not trace
        and supply is None
    ):
        ex = Execution(blueprint, concurrency=concurrency, allowed_paths=roots, resources=resources)
        ACTIVE.add(ex)
        try:
            return _call(body, ex, inputs)
        finally:
            ACTIVE.discard(ex)
            if ex.holds_resources:
                ex.close()
    try:
        return _run_observed(
            blueprint,
            body,
            inputs,
            hooks,
            concurrency,
            timeout,
            cancel,
            trace,
            roots,
            resources,
            supply=supply,
            remote=session,
        )
    finally:
        if session is not None:
            session.close()


def _run_observed(
    blueprint: Blueprint,
    body: Callable[[Execution, I], O],
    inputs: I,
    hooks: HooksArg,
    concurrency: int | None,
    timeout: float | None,
    cancel: CancelToken | None,
    trace: bool,
    roots: Roots = None,
    resources: RunResources | None = None,
    supply: Supply | None = None,
    remote: RemoteTasks | None = None,
) -> O:
    run_id = next_run_id()
    hookset = HookSet.build(hooks, run_id)
    tracing = trace or (hookset is not None and hookset.wants_trace)
    ex = Execution(
        blueprint,
        hooks=hookset,
        concurrency=concurrency,
        timeout=timeout,
        trace=tracing,
        run_id=run_id,
        allowed_paths=roots,
        resources=resources,
        supply=supply,
    )
    if supply is not None:
        for supplier in supply.suppliers:
            supplier.bind(ex)
    ex.remote = remote
    started = time.perf_counter()
    if hookset is not None:
        hookset.emit(
            ExecutionStarted(
                run_id=run_id,
                timestamp=time.time(),
                blueprint_id=blueprint.id,
                name=blueprint.name,
                nodes=len(blueprint.nodes),
                concurrency=ex.concurrency,
                timeout=ex.timeout,
            )
        )
    ACTIVE.add(ex)
    detach = cancel.attach(ex) if cancel is not None else None
    watchdog = _watch_deadline(ex)
    try:
        result = _call(body, ex, inputs)
    except BaseException as exc:
        if detach is not None:
            detach()
            detach = None
        _stop_watchdog(watchdog)
        ex.close()
        ex.report_unstarted(_skip_reason(ex, exc))
        run_trace = _finish_trace(ex, cancel)
        duration = time.perf_counter() - started
        if hookset is not None:
            if isinstance(exc, CancelledError):
                hookset.emit(
                    ExecutionCancelled(
                        run_id=run_id,
                        timestamp=time.time(),
                        blueprint_id=blueprint.id,
                        duration=duration,
                        reason=message_of(exc) or "cancelled",
                        trace=run_trace,
                    )
                )
            else:
                hookset.emit(
                    ExecutionFailed(
                        run_id=run_id,
                        timestamp=time.time(),
                        blueprint_id=blueprint.id,
                        duration=duration,
                        error=describe(exc),
                        error_type=type(exc).__name__,
                        node_id=exc.node_id if isinstance(exc, NodeError) else None,
                        trace=run_trace,
                    )
                )
        raise
    finally:
        ACTIVE.discard(ex)
        _stop_watchdog(watchdog)
        if detach is not None:
            detach()
    ex.close()
    ex.finish_progress()
    run_trace = _finish_trace(ex, cancel)
    if hookset is not None:
        hookset.emit(
            ExecutionCompleted(
                run_id=run_id,
                timestamp=time.time(),
                blueprint_id=blueprint.id,
                duration=time.perf_counter() - started,
                trace=run_trace,
            )
        )
    return result


def _supply(
    blueprint: Blueprint,
    pins: Mapping[str, object] | None,
    fail: Mapping[str, object] | None,
    cache: CacheArg,
    pin_types: object,
) -> Supply | None:
    """The run's suppliers of node values: fails, then pins, then the cache (None: none)."""
    suppliers = suppliers_for(blueprint, pins, fail, pin_types)
    cached = make_supplier(cache, blueprint)
    if cached is not None:
        suppliers.append(cached)
    return Supply(suppliers) if suppliers else None


def _watch_deadline(ex: Execution) -> threading.Timer | None:
    """Stop the run at its deadline whatever its threads are doing.

    The scheduler watches the deadline only while it waits; while it runs in-memory work itself
    nobody would, and a program running on a worker thread must be killed on time all the same.
    """
    if ex.timeout is None:
        return None
    timer = threading.Timer(ex.timeout, ex.expire)
    timer.name = f"atomiton-deadline-{ex.run_id}"
    timer.daemon = True
    timer.start()
    return timer


def _stop_watchdog(timer: threading.Timer | None) -> None:
    if timer is not None:
        timer.cancel()
        timer.join()


def _call(body: Callable[[Execution, I], O], ex: Execution, inputs: I) -> O:
    """Run the module's body; a result that does not fit ``Outputs`` blames its node."""
    try:
        return body(ex, inputs)
    except ValidationError as exc:
        # Node failures arrive as NodeError already: a bare ValidationError here comes from
        # building ``Outputs`` out of the nodes' results.
        raise _output_error(ex, exc) from exc


def _output_error(ex: Execution, exc: ValidationError) -> AtomitonError:
    problems = exc.errors()
    first = problems[0] if problems else {"loc": ("?",), "msg": str(exc), "input": None}
    name = str(first["loc"][0]) if first["loc"] else "?"
    message = f"output {name!r}: {first['msg']} (got {first.get('input')!r})"
    if len(problems) > 1:
        message += f", and {len(problems) - 1} more output problem(s)"
    index = dict(ex.blueprint.outputs).get(name, -1)
    if index < 0:
        return OutputError(f"{ex.blueprint.source}: {message}")
    return ex.blame(index, message)


def _skip_reason(ex: Execution, exc: BaseException) -> str:
    """Why the nodes that never started did not: said on their ``NodeSkipped`` events."""
    if isinstance(exc, CancelledError):
        return "cancelled"
    if isinstance(exc, RunTimeoutError):
        return "the run timed out"
    return "the run failed"


def _finish_trace(ex: Execution, control: CancelToken | None) -> Trace | None:
    builder = ex.trace_builder
    if builder is None:
        return None
    result = builder.build(ex.blueprint, ex.run_id)
    if isinstance(control, RunControl):
        control.last_trace = result
    return result


async def arun(
    blueprint: Blueprint,
    body: Callable[[Execution, I], O],
    inputs: I,
    *,
    hooks: HooksArg = None,
    concurrency: int | None = None,
    timeout: float | None = None,
    cancel: CancelToken | None = None,
    trace: bool = False,
    allow_paths: AllowPaths = None,
    http_client: object | None = None,
    pins: Mapping[str, object] | None = None,
    fail: Mapping[str, object] | None = None,
    cache: CacheArg = None,
    pin_types: object = None,
    executor: object = None,
) -> O:
    """Run a compiled flow from asyncio, in a thread of its own, without blocking the loop.

    Cancelling the awaiting task cancels the run, then waits until it has stopped (running
    nodes are told through their contexts; nodes not started are reported skipped) before
    ``asyncio.CancelledError`` propagates. Arguments and errors are those of ``run``.
    """
    loop = asyncio.get_running_loop()
    roots = resolve_roots(allow_paths)  # a bad folder fails here, not in the worker thread
    # Bad pins fail here too, before the worker thread starts.
    suppliers_for(blueprint, pins, fail, pin_types)
    control = RunControl(parent=cancel)
    done: asyncio.Future[O] = loop.create_future()

    def settle(result: O | None, error: BaseException | None) -> None:
        if done.cancelled():
            return
        if error is not None:
            done.set_exception(error)
        else:
            done.set_result(result)  # type: ignore[arg-type]

    def target() -> None:
        result: Any = None
        error: BaseException | None = None
        try:
            result = run(
                blueprint,
                body,
                inputs,
                hooks=hooks,
                concurrency=concurrency,
                timeout=timeout,
                cancel=control,
                trace=trace,
                allow_paths=roots,
                http_client=http_client,
                pins=pins,
                fail=fail,
                cache=cache,
                pin_types=pin_types,
                executor=executor,
            )
        except BaseException as exc:  # handed to the awaiting task
            error = exc
        try:
            loop.call_soon_threadsafe(settle, result, error)
        except RuntimeError:  # the loop closed meanwhile: nobody is waiting any more
            pass

    worker = threading.Thread(target=target, name=f"atomiton-arun-{blueprint.id}", daemon=True)
    worker.start()
    try:
        try:
            return await asyncio.shield(done)
        except asyncio.CancelledError:
            control.cancel("the awaiting asyncio task was cancelled")
            # Structured: do not return before the run has stopped, even if cancelled again.
            while not done.done():
                try:
                    await asyncio.shield(done)
                except asyncio.CancelledError:
                    continue
                except BaseException:
                    break
            raise
    finally:
        control.detach_parent()
        if trace and isinstance(cancel, RunControl) and control.last_trace is not None:
            cancel.last_trace = control.last_trace
        # The thread has settled the future and is returning; joining makes "no thread left
        # behind" exact without blocking the loop for more than an instant.
        worker.join(1.0)
