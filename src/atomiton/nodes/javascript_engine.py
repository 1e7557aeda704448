"""The embedded JavaScript engine (V8, from the ``js`` extra's mini-racer) that JavaScript nodes
run in: one pool of engines per run, values crossing as JSON, runaway scripts stopped.

A run's engines are made on first use and closed with the run (``RunResources``); an engine
serves one call at a time and goes back to the pool, so parallel branches each get their own and
nothing outlives the run. A call that is cancelled (the node's timeout, the run's cancellation)
terminates the script inside V8 and the engine is thrown away. The engine library is imported
here only when a JavaScript node runs or its code is checked; node modules and the compiler
import this module without it. The node code's shapes are ``javascript_source``'s.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import re
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from ..errors import CancelledError
from .javascript_source import JavaScriptFunction

if TYPE_CHECKING:
    from py_mini_racer import CancelableJSFunction, JSFunction

    from ..runtime.context import NodeContext

# The Python module of the engine and the extra that installs it (the compiler names both when
# the module is missing).
ENGINE_MODULE: Final = "py_mini_racer"
EXTRA: Final = "js"
_POOL_KEY: Final = "javascript.engines"

# Installed once in every engine: a frozen global that keeps the node functions out of the user's
# reach and runs the array operations on the JavaScript side, so that a whole array crosses in
# one call (a call costs tens of microseconds; an item's work, far less).
_RUNNER: Final = r"""
Object.defineProperty(globalThis, "__atomiton", {writable: false, configurable: false, value:
Object.freeze((() => {
  const fns = Object.create(null);
  // console.* is collected and handed to the node's log with the result.
  let logs = [];
  const text = (v) => typeof v === "string" ? v : (() => {
    try { return JSON.stringify(v) ?? String(v); } catch (e) { return String(v); }
  })();
  const logger = (level) => (...args) => { logs.push([level, args.map(text).join(" ")]); };
  Object.defineProperty(globalThis, "console", {value: Object.freeze({
    log: logger("info"), info: logger("info"), debug: logger("debug"),
    warn: logger("warning"), error: logger("error"),
  })});
  const describe = (e) => e instanceof Error ? `${e.name}: ${e.message}` : `thrown: ${String(e)}`;
  const where = (e) => {
    const m = e instanceof Error && typeof e.stack === "string"
      && /eval at [^\n]*?\), <anonymous>:(\d+):(\d+)\)/.exec(e.stack);
    return m ? Number(m[1]) - 2 : null;
  };
  class ItemError { constructor(index, cause) { this.index = index; this.cause = cause; } }
  const at = (index, thunk) => {
    try { return thunk(); } catch (e) { throw new ItemError(index, e); }
  };
  function prepared(entry, inputs) {
    if (!entry.factory) return (...args) => entry.fn(...args, inputs);
    const made = entry.fn(inputs);
    if (typeof made !== "function") throw new TypeError("the code is not a function");
    if (entry.spread) return (acc, item, index) => made({acc, item, index});
    return made;
  }
  const ops = {
    call: (f, data) => f(data),
    map: (f, data) => data.map((item, i) => at(i, () => f(item, i))),
    filter: (f, data) => data.filter((item, i) => at(i, () => f(item, i))),
    reduce: (f, data, initial) => {
      let acc = initial.length ? initial[0] : data[0];
      for (let i = initial.length ? 0 : 1; i < data.length; i++) {
        const item = data[i];
        const before = acc;
        acc = at(i, () => f(before, item, i));
      }
      return acc;
    },
  };
  return {
    define(key, code, wrappings) {
      let last;
      for (const [params, prefix, suffix, factory, spread] of JSON.parse(wrappings)) {
        try {
          fns[key] = {fn: new Function(...params, prefix + code + suffix), factory, spread};
          return;
        } catch (e) {
          if (!(e instanceof SyntaxError)) throw e;
          last = e;
        }
      }
      throw last;
    },
    has: (key) => key in fns,
    run(key, op, payload) {
      logs = [];
      let out;
      try {
        const [data, inputs, initial] = JSON.parse(payload);
        out = ops[op](prepared(fns[key], inputs), data, initial);
      } catch (e) {
        const item = e instanceof ItemError;
        const cause = item ? e.cause : e;
        return JSON.stringify(
          {error: describe(cause), index: item ? e.index : null, line: where(cause), logs});
      }
      if (out instanceof Promise) {
        return JSON.stringify({error: "the code returned a Promise: async code is not supported",
                               logs});
      }
      try {
        return JSON.stringify({ok: out, logs});
      } catch (e) {
        return JSON.stringify({error: `the result is not JSON: ${describe(e)}`, logs});
      }
    },
  };
})())});
"""


class JavaScriptError(RuntimeError):
    """JavaScript code failed: it threw, returned what JSON cannot hold, or got such a value."""


class _Engine:
    """One V8 context with the runner installed; used by one call at a time."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        try:
            from py_mini_racer import JSFunction, mini_racer
        except ModuleNotFoundError:
            raise JavaScriptError(
                f"JavaScript nodes need the {ENGINE_MODULE!r} module: pip install "
                f"'atomiton[{EXTRA}]'"
            ) from None
        self._maker: AbstractContextManager[Any] = mini_racer(event_loop=loop)
        self._racer = self._maker.__enter__()
        self._loop = loop
        self._defined: dict[str, str] = {}
        self.usable = True
        try:
            self._racer.eval(_RUNNER)
            define = self._racer.eval("__atomiton.define")
            run = self._racer.eval("__atomiton.run")
            assert isinstance(define, JSFunction) and isinstance(run, JSFunction)
        except BaseException:
            self.close()
            raise
        self._define: JSFunction = define
        self._run: CancelableJSFunction = run.cancelable()

    def call(
        self,
        function: JavaScriptFunction,
        operation: str,
        payload: str,
        context: NodeContext | None,
    ) -> Any:
        """Run ``operation`` with ``function`` over the JSON ``payload``; the decoded reply."""
        name = self._defined.get(function.key)
        if name is None:
            name = str(len(self._defined))
            wrappings = [
                [list(w.params), w.prefix, w.suffix, w.factory, w.spread]
                for w in function.wrappings
            ]
            try:
                self._define(name, function.code, json.dumps(wrappings))
            except Exception as exc:  # the engine's exception: the code does not parse
                raise JavaScriptError(f"the code does not parse: {exc}") from None
            self._defined[function.key] = name
        # Strings go in as engine values: the payload is never parsed as JavaScript source.
        future = asyncio.run_coroutine_threadsafe(self._run(name, operation, payload), self._loop)

        def stop() -> None:
            future.cancel()  # cancels the engine's task, which terminates the script in V8

        unregister = context.on_cancel(stop) if context is not None else None
        try:
            reply = future.result()
        except concurrent.futures.CancelledError:
            # V8 terminated the script; the context's state is unknown, so it is not reused.
            self.usable = False
            node = context.node_id if context is not None else "node"
            raise CancelledError(f"node {node!r}: the JavaScript code was stopped") from None
        finally:
            if unregister is not None:
                unregister()
        if not isinstance(reply, str):
            raise JavaScriptError(f"the engine gave no result ({type(reply).__name__})")
        return json.loads(reply)

    def parse(self, params: tuple[str, ...], body: str) -> str | None:
        """Parse ``body`` as ``new Function`` does (never running it); None, or the error."""
        args = ", ".join(json.dumps(p) for p in (*params, body))
        try:
            self._racer.eval(f"new Function({args}); undefined")
        except Exception as exc:  # the engine's parse exception, a type of its library
            return str(exc)
        return None

    def close(self) -> None:
        self.usable = False
        self._maker.__exit__(None, None, None)


class EnginePool:
    """The engines of one run and the event loop thread they report to."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: list[_Engine] = []
        self._all: list[_Engine] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._closed = False

    @contextmanager
    def engine(self) -> Iterator[_Engine]:
        """An engine for one call: an idle one, or a new one."""
        with self._lock:
            if self._closed:
                raise CancelledError("the run has ended; its JavaScript engines are closed")
            found = self._idle.pop() if self._idle else None
            loop = self._start_loop()
        if found is None:
            found = _Engine(loop)
            with self._lock:
                self._all.append(found)
        try:
            yield found
        finally:
            with self._lock:
                kept = found.usable and not self._closed
                if kept:
                    self._idle.append(found)
            if not kept:
                self._discard(found)

    def _start_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            loop = asyncio.new_event_loop()
            self._thread = threading.Thread(
                target=loop.run_forever, name="atomiton-javascript", daemon=True
            )
            self._thread.start()
            self._loop = loop
        return self._loop

    def _discard(self, engine: _Engine) -> None:
        with self._lock:
            if engine in self._all:
                self._all.remove(engine)
        engine.close()

    def close(self) -> None:
        """Close every engine and stop the loop thread. Idempotent."""
        with self._lock:
            self._closed = True
            engines, self._all, self._idle = self._all, [], []
            loop, thread, self._loop, self._thread = self._loop, self._thread, None, None
        for engine in engines:
            engine.close()
        if loop is not None and thread is not None:
            loop.call_soon_threadsafe(loop.stop)
            thread.join()
            loop.close()


def _pool(context: NodeContext | None) -> tuple[EnginePool, bool]:
    """The run's pool (shared, closed with the run), or a pool of this call only."""
    resources = context.resources if context is not None else None
    if resources is None:
        return EnginePool(), True
    return resources.get(_POOL_KEY, EnginePool, EnginePool.close), False


def run_javascript(
    function: JavaScriptFunction,
    operation: str,
    data: object,
    inputs: object,
    *,
    context: NodeContext | None,
    initial: tuple[object, ...] = (),
    what: str = "code",
) -> Any:
    """Run ``function`` in the run's engine: ``operation`` over ``data``, one call in all.

    Args:
        function: the node's code as a JavaScript function.
        operation: ``call`` (the function gets ``data``), or ``map``/``filter`` (each item and
            its index) or ``reduce`` (``acc, item, index``) over the array ``data``.
        data: the value the code reads; it must be JSON.
        inputs: the blueprint inputs the code reads, as an object.
        context: the node's context (the run's engines, cancellation); None: a one-off engine.
        initial: reduce's initial accumulator, or nothing to start from the first item.
        what: names the code in messages (``code``, ``transformFunction``).

    Returns:
        What the code returned, decoded from JSON (``undefined`` is None).

    Raises:
        JavaScriptError: a value is not JSON, or the code threw (with the item index and the
            line of the code when known).
        CancelledError: the node's timeout or the run's cancellation stopped the script.
    """
    try:
        payload = json.dumps([data, inputs, list(initial)], allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise JavaScriptError(
            f"{_describe_crossing(data, inputs, initial)} cannot be passed to JavaScript: {exc}; "
            "only JSON values cross (null, booleans, finite numbers, strings, arrays, objects)"
        ) from None
    pool, own = _pool(context)
    try:
        with pool.engine() as engine:
            reply = engine.call(function, operation, payload, context)
    finally:
        if own:
            pool.close()
    if context is not None:
        for level, message in reply.get("logs", ()):
            context.log(message, level=level)
    if "error" in reply:
        where = []
        if reply.get("index") is not None:
            where.append(f"item {reply['index']}")
        if isinstance(reply.get("line"), int) and reply["line"] >= 1:
            where.append(f"line {reply['line']} of the {what}")
        at = f" ({', '.join(where)})" if where else ""
        raise JavaScriptError(f"JavaScript {what} failed{at}: {reply['error']}")
    return reply.get("ok")


def _describe_crossing(data: object, inputs: object, initial: tuple[object, ...]) -> str:
    """Which of the values sent to JavaScript is not JSON, for the message."""
    for name, value in (("the input data", data), ("inputs", inputs), ("reduceInitial", initial)):
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError):
            return name
    return "a value"


# -- syntax ---------------------------------------------------------------------------------------

_SYNTAX: Final = re.compile(r"^[^\n:]*:(\d+): (SyntaxError: [^\n]*)\n([^\n]*)\n([ \t]*)\^")


@dataclass(frozen=True, slots=True)
class SyntaxProblem:
    """A syntax error in node code: 1-based line and column within the code, and V8's words."""

    line: int
    column: int
    message: str


def check_syntax(function: JavaScriptFunction) -> SyntaxProblem | None:
    """Whether the code parses in one of the function's wrappings; else the likeliest error.

    Parsing is what ``new Function`` does: the code never runs, and cannot escape its function
    (a body that closes the function early is itself a syntax error). Needs the ``js`` extra.

    Returns:
        None when a wrapping parses, else the error of the wrapping that parsed furthest, at its
        line and column within the code.
    """
    problem: SyntaxProblem | None = None
    pool = EnginePool()
    try:
        with pool.engine() as engine:
            for wrapping in function.wrappings:
                body = wrapping.prefix + function.code + wrapping.suffix
                error = engine.parse(wrapping.params, body)
                if error is None:
                    return None
                found = _syntax_problem(error, function.code, len(wrapping.prefix))
                # The wrapping read furthest is the one the author meant (expression or body).
                if problem is None or (found.line, found.column) >= (problem.line, problem.column):
                    problem = found
    finally:
        pool.close()
    return problem


def _syntax_problem(text: str, code: str, shift: int) -> SyntaxProblem:
    lines = code.split("\n")
    match = _SYNTAX.match(text)
    if match is None:
        return SyntaxProblem(1, 1, text.strip().splitlines()[0] if text.strip() else "SyntaxError")
    # new Function puts two lines before the body: "(function anonymous(params" and ") {".
    line = int(match.group(1)) - 2
    column = len(match.group(4)) + 1
    if line == 1:
        column = max(column - shift, 1)
    message = match.group(2)
    if line > len(lines):  # in the wrapping after the code: the code stopped early
        line, column = len(lines), len(lines[-1]) + 1
        message = "SyntaxError: the code ends too early"
    return SyntaxProblem(max(line, 1), column, message)
