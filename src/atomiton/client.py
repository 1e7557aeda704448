"""A typed Python client of ``atomiton serve``, asynchronous (``AsyncClient``) and blocking
(``Client``), over WebSocket or over the stdio of a server it spawns.

Each method sends one JSON-RPC request and returns the result as its protocol model
(``atomiton.serve.protocol``); an error reply raises ``RpcCallError``. ``run.event``
notifications are kept per run, so ``events(run_id)`` yields every event of a run in order,
however late it is called. The WebSocket transport needs the ``serve`` extra (websockets).

Example::

    with Client.connect("ws://127.0.0.1:8765/rpc") as client:
        run_id = client.run("flows/orders.yaml", inputs={"limit": 10})
        for event in client.events(run_id):
            print(event["event"], event.get("node_id", ""))
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator, Sequence
from typing import Any, Final, TypeVar

from .serve.protocol import (
    BlueprintSaved,
    BlueprintsList,
    BlueprintText,
    CheckResult,
    CompileResult,
    Message,
    NodesList,
    RunAck,
    RunDetailItem,
    RunsList,
    Subscribed,
    ViewModel,
)

__all__ = ["AsyncClient", "Client", "RpcCallError"]

M = TypeVar("M", bound=Message)
T = TypeVar("T")

_FINAL: Final = frozenset({"execution.completed", "execution.failed", "execution.cancelled"})


class RpcCallError(Exception):
    """The server answered a request with a JSON-RPC error."""

    def __init__(self, code: int, message: str, data: object = None) -> None:
        super().__init__(f"{message} (code {code})")
        self.code = code
        self.message = message
        self.data = data


class AsyncClient:
    """One connection to a server; use ``connect`` (WebSocket) or ``spawn`` (stdio)."""

    def __init__(
        self,
        send: Callable[[str], Awaitable[None]],
        close: Callable[[], Awaitable[None]],
    ) -> None:
        self._send = send
        self._close = close
        self._next_id = 0
        self._waiting: dict[int, asyncio.Future[Any]] = {}
        self._events: dict[str, list[dict[str, Any]]] = {}
        self._arrived = asyncio.Event()
        self._closed = False
        self._reader: asyncio.Task[None] | None = None
        # (run id, seq) of every event that did not arrive next in its run's order
        self.out_of_order: list[tuple[str, int]] = []

    # --- connecting ----------------------------------------------------------------------

    @classmethod
    async def connect(cls, url: str, *, token: str | None = None) -> AsyncClient:
        """Connect over WebSocket to ``url`` (``ws://host:port/rpc``)."""
        from websockets.asyncio.client import connect

        headers = {"X-Atomiton-Token": token} if token else None
        socket = await connect(url, additional_headers=headers, max_size=None)

        async def send(text: str) -> None:
            await socket.send(text)

        client = cls(send, socket.close)

        async def read() -> None:
            async for message in socket:
                client._receive(message if isinstance(message, str) else message.decode())

        client._start(read)
        return client

    @classmethod
    async def spawn(
        cls, args: Sequence[str] = (), *, cwd: str | None = None, env: dict[str, str] | None = None
    ) -> AsyncClient:
        """Start ``python -m atomiton serve --stdio ARGS`` and talk to it over its stdio."""
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "atomiton",
            "serve",
            "--stdio",
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            cwd=cwd,
            env=env,
            limit=64 * 1024 * 1024,
        )
        assert process.stdin is not None and process.stdout is not None
        stdin, stdout = process.stdin, process.stdout

        async def send(text: str) -> None:
            stdin.write(text.encode("utf-8") + b"\n")
            await stdin.drain()

        async def close() -> None:
            if not stdin.is_closing():
                stdin.close()
            await process.wait()

        client = cls(send, close)
        client.process = process

        async def read() -> None:
            while line := await stdout.readline():
                client._receive(line.decode("utf-8"))

        client._start(read)
        return client

    process: asyncio.subprocess.Process | None = None

    def _start(self, read: Callable[[], Coroutine[Any, Any, None]]) -> None:
        async def reader() -> None:
            try:
                await read()
            except Exception:  # the connection dropped: fail what still waits
                pass
            finally:
                self._closed = True
                for future in self._waiting.values():
                    if not future.done():
                        future.set_exception(ConnectionError("the server closed the connection"))
                self._arrived.set()

        self._reader = asyncio.create_task(reader())

    def _receive(self, text: str) -> None:
        payload = json.loads(text)
        for message in payload if isinstance(payload, list) else [payload]:
            if message.get("method") == "run.event":
                params = message["params"]
                got = self._events.setdefault(params["runId"], [])
                if params["seq"] != len(got) + 1:
                    # The server numbers each run's events from 1: a gap or repeat is its bug.
                    self.out_of_order.append((params["runId"], params["seq"]))
                got.append(params["event"])
                self._arrived.set()
                continue
            future = self._waiting.pop(message.get("id"), None)
            if future is None or future.done():
                continue
            if "error" in message:
                error = message["error"]
                future.set_exception(
                    RpcCallError(error["code"], error["message"], error.get("data"))
                )
            else:
                future.set_result(message.get("result"))

    async def aclose(self) -> None:
        """Close the connection (runs go on in the server)."""
        await self._close()
        if self._reader is not None:
            await asyncio.wait({self._reader}, timeout=10)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # --- requests ------------------------------------------------------------------------

    async def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        """Send one request; return its ``result`` (raises ``RpcCallError`` on an error)."""
        if self._closed:
            raise ConnectionError("the connection is closed")
        self._next_id += 1
        request_id = self._next_id
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = future
        message = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params or {}}
        await self._send(json.dumps(message))
        return await future

    async def _typed(self, model: type[M], method: str, **params: Any) -> M:
        sent = {key: value for key, value in params.items() if value is not None}
        return model.model_validate(await self.call(method, sent))

    async def compile(self, path: str) -> CompileResult:
        return await self._typed(CompileResult, "compile", path=path)

    async def check(self, path: str, *, types: bool = False) -> CheckResult:
        return await self._typed(CheckResult, "check", path=path, types=types)

    async def run(
        self,
        path: str,
        inputs: dict[str, Any] | None = None,
        *,
        concurrency: int | None = None,
        timeout: float | None = None,
    ) -> str:
        """Start a run; return its id at once (its events then arrive for ``events``)."""
        result = await self.call(
            "run",
            {
                key: value
                for key, value in {
                    "path": path,
                    "inputs": inputs,
                    "concurrency": concurrency,
                    "timeout": timeout,
                }.items()
                if value is not None
            },
        )
        return str(result["runId"])

    async def cancel(self, run_id: str) -> RunAck:
        return await self._typed(RunAck, "cancel", runId=run_id)

    async def pause(self, run_id: str) -> RunAck:
        return await self._typed(RunAck, "pause", runId=run_id)

    async def resume(self, run_id: str) -> RunAck:
        return await self._typed(RunAck, "resume", runId=run_id)

    async def subscribe(self, run_id: str | None = None) -> Subscribed:
        return await self._typed(Subscribed, "subscribe", runId=run_id)

    async def runs_list(
        self, *, blueprint: str | None = None, status: str | None = None, last: int | None = None
    ) -> RunsList:
        return await self._typed(
            RunsList, "runs.list", blueprint=blueprint, status=status, last=last
        )

    async def runs_get(self, run_id: str) -> RunDetailItem:
        return await self._typed(RunDetailItem, "runs.get", runId=run_id)

    async def nodes_list(self) -> NodesList:
        return await self._typed(NodesList, "nodes.list")

    async def blueprints_list(self) -> BlueprintsList:
        return await self._typed(BlueprintsList, "blueprints.list")

    async def blueprints_get(self, name: str) -> BlueprintText:
        return await self._typed(BlueprintText, "blueprints.get", name=name)

    async def blueprints_save(
        self, name: str, text: str, *, overwrite: bool = True
    ) -> BlueprintSaved:
        return await self._typed(
            BlueprintSaved, "blueprints.save", name=name, text=text, overwrite=overwrite
        )

    async def view(self, *, run_id: str | None = None, path: str | None = None) -> ViewModel:
        return await self._typed(ViewModel, "view.get", runId=run_id, path=path)

    # --- events --------------------------------------------------------------------------

    def received(self, run_id: str) -> list[dict[str, Any]]:
        """The events of ``run_id`` received so far (a copy)."""
        return list(self._events.get(run_id, ()))

    async def events(self, run_id: str) -> AsyncIterator[dict[str, Any]]:
        """Every event of a followed run, in order, until its final event."""
        seen = 0
        while True:
            got = self._events.get(run_id, [])
            while seen < len(got):
                event = got[seen]
                seen += 1
                yield event
                if event.get("event") in _FINAL:
                    return
            if self._closed:
                raise ConnectionError("the connection closed before the run ended")
            self._arrived.clear()
            await self._arrived.wait()

    async def wait(self, run_id: str) -> RunDetailItem:
        """Wait for a followed run to end; return its record."""
        async for _ in self.events(run_id):
            pass
        return await self.runs_get(run_id)


class Client:
    """The blocking twin of ``AsyncClient``: the same methods, run on a private event loop."""

    def __init__(
        self, inner: AsyncClient, loop: asyncio.AbstractEventLoop, thread: threading.Thread
    ):
        self._inner = inner
        self._loop = loop
        self._thread = thread

    @classmethod
    def connect(cls, url: str, *, token: str | None = None) -> Client:
        """Connect over WebSocket (see ``AsyncClient.connect``)."""
        return cls._open(lambda: AsyncClient.connect(url, token=token))

    @classmethod
    def spawn(
        cls, args: Sequence[str] = (), *, cwd: str | None = None, env: dict[str, str] | None = None
    ) -> Client:
        """Spawn a stdio server (see ``AsyncClient.spawn``)."""
        return cls._open(lambda: AsyncClient.spawn(args, cwd=cwd, env=env))

    @classmethod
    def _open(cls, opener: Callable[[], Awaitable[AsyncClient]]) -> Client:
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="atomiton-client", daemon=True)
        thread.start()
        try:
            inner = asyncio.run_coroutine_threadsafe(_awaited(opener), loop).result()
        except BaseException:
            loop.call_soon_threadsafe(loop.stop)
            thread.join()
            loop.close()
            raise
        return cls(inner, loop, thread)

    def _do(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    def close(self) -> None:
        """Close the connection and stop the client's loop."""
        if self._loop.is_closed():
            return
        try:
            self._do(self._inner.aclose())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()
            self._loop.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def process(self) -> asyncio.subprocess.Process | None:
        """The spawned server process (stdio), or None."""
        return self._inner.process

    def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        return self._do(self._inner.call(method, params))

    def compile(self, path: str) -> CompileResult:
        return self._do(self._inner.compile(path))

    def check(self, path: str, *, types: bool = False) -> CheckResult:
        return self._do(self._inner.check(path, types=types))

    def run(
        self,
        path: str,
        inputs: dict[str, Any] | None = None,
        *,
        concurrency: int | None = None,
        timeout: float | None = None,
    ) -> str:
        return self._do(self._inner.run(path, inputs, concurrency=concurrency, timeout=timeout))

    def cancel(self, run_id: str) -> RunAck:
        return self._do(self._inner.cancel(run_id))

    def pause(self, run_id: str) -> RunAck:
        return self._do(self._inner.pause(run_id))

    def resume(self, run_id: str) -> RunAck:
        return self._do(self._inner.resume(run_id))

    def subscribe(self, run_id: str | None = None) -> Subscribed:
        return self._do(self._inner.subscribe(run_id))

    def runs_list(
        self, *, blueprint: str | None = None, status: str | None = None, last: int | None = None
    ) -> RunsList:
        return self._do(self._inner.runs_list(blueprint=blueprint, status=status, last=last))

    def runs_get(self, run_id: str) -> RunDetailItem:
        return self._do(self._inner.runs_get(run_id))

    def nodes_list(self) -> NodesList:
        return self._do(self._inner.nodes_list())

    def blueprints_list(self) -> BlueprintsList:
        return self._do(self._inner.blueprints_list())

    def blueprints_get(self, name: str) -> BlueprintText:
        return self._do(self._inner.blueprints_get(name))

    def blueprints_save(self, name: str, text: str, *, overwrite: bool = True) -> BlueprintSaved:
        return self._do(self._inner.blueprints_save(name, text, overwrite=overwrite))

    def view(self, *, run_id: str | None = None, path: str | None = None) -> ViewModel:
        return self._do(self._inner.view(run_id=run_id, path=path))

    def received(self, run_id: str) -> list[dict[str, Any]]:
        return self._do(_value(lambda: self._inner.received(run_id)))

    def events(self, run_id: str) -> Iterator[dict[str, Any]]:
        """Every event of a followed run, in order, until its final event (blocking)."""
        stream = self._inner.events(run_id)
        while True:
            try:
                yield self._do(_next(stream))
            except StopAsyncIteration:
                return

    def wait(self, run_id: str) -> RunDetailItem:
        return self._do(self._inner.wait(run_id))


async def _awaited(opener: Callable[[], Awaitable[AsyncClient]]) -> AsyncClient:
    return await opener()


async def _next(stream: AsyncIterator[T]) -> T:
    return await stream.__anext__()


async def _value(get: Callable[[], T]) -> T:
    return get()
