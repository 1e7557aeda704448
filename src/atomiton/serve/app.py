"""The WebSocket and HTTP side of ``atomiton serve``: a Starlette app run by uvicorn.

``/rpc`` speaks the protocol (one JSON-RPC message per text frame), ``/`` serves the live page
(``page.py``), both guarded by a token when one is set. Each message is handled in its own task,
so a slow ``check`` does not hold up a ``cancel``. On shutdown (SIGTERM or Ctrl-C, which uvicorn
turns into a graceful exit) every unfinished run is cancelled and waited for, so the history
records it as cancelled. Starlette, uvicorn and websockets come from the ``serve`` extra and are
imported by nothing but this module and ``cli/serve_cmd.py``.
"""

from __future__ import annotations

import asyncio
import hmac
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from .methods import Server, ServeSettings
from .page import render_page
from .rpc import Dispatcher, Session
from .runs import SHUTDOWN_GRACE, RunBoard


class _State:
    server: Server
    dispatcher: Dispatcher


def create_app(settings: ServeSettings) -> Starlette:
    """The ASGI app: ``/`` (the page) and ``/rpc`` (the protocol over WebSocket)."""
    state = _State()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        board = RunBoard(db=settings.db, record=settings.record)
        state.server = Server(board, blueprints=settings.blueprints, db=settings.db)
        state.dispatcher = Dispatcher(state.server.handlers())
        try:
            yield
        finally:
            await board.shut_down(SHUTDOWN_GRACE)

    def allowed(token: str | None) -> bool:
        if settings.token is None:
            return True
        return token is not None and hmac.compare_digest(token, settings.token)

    async def page(request: Request) -> Response:
        if not allowed(request.query_params.get("token")):
            return PlainTextResponse("a token is needed: open the address the server printed", 403)
        return HTMLResponse(render_page(None))

    async def rpc(websocket: WebSocket) -> None:
        token = websocket.query_params.get("token") or websocket.headers.get("x-atomiton-token")
        if not allowed(token) or not _same_origin(websocket):
            await websocket.close(code=1008)
            return
        await websocket.accept()
        await serve_websocket(websocket, state.server.board, state.dispatcher)

    app = Starlette(routes=[Route("/", page), WebSocketRoute("/rpc", rpc)], lifespan=lifespan)
    app.state.atomiton = state
    return app


def _same_origin(websocket: WebSocket) -> bool:
    """A browser page of another site may not drive this server (no Origin: not a browser)."""
    origin = websocket.headers.get("origin")
    if origin is None:
        return True
    return urlsplit(origin).netloc == websocket.headers.get("host")


async def serve_websocket(websocket: WebSocket, board: RunBoard, dispatcher: Dispatcher) -> None:
    """Pump one client: requests in (each in its own task), replies and notifications out."""
    session = Session(f"ws:{id(websocket)}")
    board.attach(session)

    async def writer() -> None:
        try:
            while (text := await session.outbox.get()) is not None:
                await websocket.send_text(text)
        except Exception:  # the client went away mid-send; the reader sees the disconnect
            session.close()

    sending = asyncio.create_task(writer())
    working: set[asyncio.Task[None]] = set()
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                break
            text = message.get("text")
            if text is None:
                text = message.get("bytes") or b""
            task = asyncio.create_task(dispatcher.handle_text(session, text))
            working.add(task)
            task.add_done_callback(working.discard)
    except WebSocketDisconnect:
        pass
    finally:
        # The client left: its runs go on; only its unanswered requests are dropped.
        board.detach(session)
        for task in working:
            task.cancel()
        sending.cancel()


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (port 0: any free one), made before uvicorn starts
    so the real address can be printed."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def serve(settings: ServeSettings, sock: socket.socket) -> None:
    """Run the app on ``sock`` until SIGTERM or Ctrl-C."""
    import uvicorn

    app = create_app(settings)

    class Server(uvicorn.Server):
        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            # Cancel the runs while the clients are still connected, so they see them end.
            state: _State = app.state.atomiton
            if hasattr(state, "server"):
                await state.server.board.shut_down(SHUTDOWN_GRACE)
                await state.server.board.drain(1.0)
            # A client that closed its socket a moment ago is still listed until its
            # connection_lost runs; asking it to shut down then raises in uvicorn's sans-io
            # WebSocket protocol ("connection is closing"). Those need nothing more.
            for connection in list(self.server_state.connections):
                transport = getattr(connection, "transport", None)
                if transport is not None and transport.is_closing():
                    self.server_state.connections.discard(connection)
            await super().shutdown(sockets)

    config = uvicorn.Config(
        app,
        log_level="warning",
        ws="websockets-sansio" if _has_sansio() else "websockets",
        ws_max_size=16 * 1024 * 1024,
        lifespan="on",
        timeout_graceful_shutdown=int(SHUTDOWN_GRACE) + 5,
    )
    Server(config).run(sockets=[sock])


def _has_sansio() -> bool:
    try:
        import uvicorn.protocols.websockets.websockets_sansio_impl  # noqa: F401
    except ImportError:
        return False
    return True
