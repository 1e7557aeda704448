"""JSON-RPC 2.0 framing: parse a message, validate params, call the handler, shape the reply.

A ``Session`` is one connected client (a WebSocket or stdio) seen from the server: an ordered
outbox of messages its transport drains, and the runs it follows. The ``Dispatcher`` never lets
a bad message end a session: malformed JSON, a wrong request shape, an unknown method or bad
params each get their JSON-RPC error, and an exception in a handler becomes an internal error.
The methods themselves live in ``methods.py``; their schemas in ``protocol.py``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Final

from pydantic import ValidationError

from .protocol import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    METHODS,
    PARSE_ERROR,
    Message,
)

log = logging.getLogger("atomiton.serve")

# A message larger than this is refused as an invalid request rather than parsed.
MAX_MESSAGE_BYTES: Final = 16 * 1024 * 1024


class RpcError(Exception):
    """A JSON-RPC error a handler raises on purpose (code, message, optional data)."""

    def __init__(self, code: int, message: str, data: object = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data


class Session:
    """One client: an ordered outbox of JSON texts and the runs it follows.

    ``send`` may be called from the event loop's thread only; run threads go through
    ``RunBoard``, which hops onto the loop first, so a session sees each run's events in order.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.outbox: asyncio.Queue[str | None] = asyncio.Queue()
        self.loop = asyncio.get_running_loop()
        self.follows_all = False
        self.follows: set[str] = set()
        # run id -> the number of the last event of that run sent to this client
        self.sent: dict[str, int] = {}
        self.closed = False

    def send(self, message: dict[str, Any]) -> None:
        """Queue ``message`` for the client (dropped once the session closed)."""
        if not self.closed:
            self.outbox.put_nowait(json.dumps(message, default=str, separators=(",", ":")))

    def notify(self, method: str, params: Message) -> None:
        """Queue a notification (no id)."""
        self.send({"jsonrpc": "2.0", "method": method, "params": params.model_dump(mode="json")})

    def close(self) -> None:
        """Stop queuing; wake the transport's writer so it ends."""
        if not self.closed:
            self.closed = True
            self.outbox.put_nowait(None)


Handler = Callable[[Session, Any], Awaitable[Message]]


def error_reply(request_id: object, code: int, message: str, data: object = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return {"jsonrpc": "2.0", "id": request_id, "error": error}


class Dispatcher:
    """Routes requests to handlers by method name (``METHODS`` gives the params models)."""

    def __init__(self, handlers: dict[str, Handler]) -> None:
        missing = set(METHODS) - set(handlers)
        if missing:
            raise ValueError(f"methods without a handler: {sorted(missing)}")
        self.handlers = handlers

    async def handle_text(self, session: Session, text: str | bytes) -> None:
        """Answer one incoming message (a request, notification or batch) into the outbox."""
        if len(text) > MAX_MESSAGE_BYTES:
            session.send(error_reply(None, INVALID_REQUEST, "message too large"))
            return
        try:
            payload = json.loads(text)
        except (ValueError, UnicodeDecodeError) as exc:
            session.send(error_reply(None, PARSE_ERROR, f"parse error: {exc}"))
            return
        if isinstance(payload, list):
            if not payload:
                session.send(error_reply(None, INVALID_REQUEST, "empty batch"))
                return
            replies = [await self._handle_one(session, item) for item in payload]
            answered = [reply for reply in replies if reply is not None]
            if answered:
                # A batch's replies go out as one array, as JSON-RPC 2.0 asks.
                session.outbox.put_nowait(json.dumps(answered, default=str))
            return
        reply = await self._handle_one(session, payload)
        if reply is not None:
            session.send(reply)

    async def _handle_one(self, session: Session, request: object) -> dict[str, Any] | None:
        if not isinstance(request, dict):
            return error_reply(None, INVALID_REQUEST, "a request must be a JSON object")
        request_id = request.get("id")
        valid_id = request_id is None or (
            isinstance(request_id, (str, int)) and not isinstance(request_id, bool)
        )
        method = request.get("method")
        if request.get("jsonrpc") != "2.0" or not isinstance(method, str) or not valid_id:
            reason = "expected {'jsonrpc': '2.0', 'method': str, 'params'?: object, 'id'?: str|int}"
            return error_reply(request_id if valid_id else None, INVALID_REQUEST, reason)
        is_notification = "id" not in request
        reply = await self._call(session, method, request.get("params", {}), request_id)
        return None if is_notification else reply

    async def _call(
        self, session: Session, method: str, raw: object, request_id: object
    ) -> dict[str, Any]:
        spec = METHODS.get(method)
        if spec is None:
            return error_reply(request_id, METHOD_NOT_FOUND, f"method not found: {method!r}")
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            return error_reply(request_id, INVALID_PARAMS, "params must be an object (by name)")
        try:
            params = spec.params.model_validate(raw)
        except ValidationError as exc:
            problems = [
                {"loc": ".".join(str(p) for p in e["loc"]), "msg": e["msg"]} for e in exc.errors()
            ]
            return error_reply(request_id, INVALID_PARAMS, "invalid params", problems)
        try:
            result = await self.handlers[method](session, params)
        except RpcError as exc:
            return error_reply(request_id, exc.code, exc.message, exc.data)
        except Exception as exc:  # a handler's bug must not end the session
            log.exception("method %s failed", method)
            return error_reply(request_id, INTERNAL_ERROR, f"internal error: {exc}")
        return {"jsonrpc": "2.0", "id": request_id, "result": result.model_dump(mode="json")}
