"""One HTTP exchange of the ``http-request`` node: redirects, the body, a deadline, a cancel.

It owns sending a request and following its redirects (which headers survive a hop to another
origin, the cookies a redirect sets), reading the body under ``maxResponseBytes``, and bounding
all of it by the node's timeout on a helper thread whose socket is shut down when the exchange
is abandoned. Building the request from the node's parameters, the client it runs on and
decoding the response into the node's output are ``http_request``'s.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import TYPE_CHECKING, Any, Final

from ..errors import CancelledError

if TYPE_CHECKING:
    import httpx

    from ..runtime.context import NodeContext
    from .http_request import Params

# httpx's own default: a redirect chain longer than this is a loop or an attack.
MAX_REDIRECTS: Final = 20
# Headers a user sets that carry no credential, so they may follow a redirect to another origin.
# Every other header the user set (Authorization, Cookie, Proxy-Authorization, X-Api-Key, any
# custom one) is dropped there: a header's name cannot tell whether its value is a secret.
SAFE_CROSS_ORIGIN_HEADERS: Final = frozenset(
    {
        "accept",
        "accept-encoding",
        "accept-language",
        "cache-control",
        "content-language",
        "content-type",
        "pragma",
        "user-agent",
    }
)
# Set by httpx itself for each hop (never copied from the user's value to another host).
_MANAGED_HEADERS: Final = frozenset({"host", "content-length", "transfer-encoding"})


class ResponseTooLargeError(RuntimeError):
    """The response body is larger than ``maxResponseBytes``; reading stopped at the cap."""


class Exchange:
    """One request with its redirects and its body, on a helper thread bounded by a deadline.

    The helper thread does the network work; the calling thread waits for it, for the deadline,
    or for a cancel. A blocked read cannot be interrupted by closing an httpx client, so an
    abandoned exchange shuts down the socket it holds (from the moment it connected, or from the
    response headers on a reused connection), which wakes the read at once. A shared client is
    never closed for one exchange: other nodes are using it.
    """

    def __init__(
        self,
        client: httpx.Client,
        owned: bool,
        params: Params,
        user_set: set[str],
        started: float,
        seconds: float | None,
    ) -> None:
        import httpx

        self.client = client
        self.owned = owned
        self.params = params
        self.user_set = user_set
        self.deadline = None if seconds is None else started + seconds
        self.wake = threading.Event()
        self.stopped = False
        # Guards ``stopped`` and ``sock``: a socket is shut down only while this exchange holds
        # its connection, never after it went back to a pool that other nodes draw from.
        self.lock = threading.Lock()
        self.sock: socket.socket | None = None
        self.outcome: tuple[httpx.Response, bytes] | BaseException | None = None
        # The cookies of this exchange's own redirects (a login that redirects, say); the
        # client keeps none, so they end with the exchange.
        self.cookies = httpx.Cookies()
        # Once at another origin, a lent client's own auth is not sent either.
        self.crossed = False

    def run(
        self, request: httpx.Request, context: NodeContext | None
    ) -> tuple[httpx.Response, bytes]:
        where = f"{request.method} {request.url}"
        unregister = context.on_cancel(self.wake.set) if context is not None else None
        worker = threading.Thread(
            target=self._work,
            args=(request,),
            name=f"http-request {context.node_id if context is not None else where}",
            daemon=True,
        )
        try:
            worker.start()
            remaining = None if self.deadline is None else self.deadline - time.perf_counter()
            finished = self.wake.wait(remaining) and self.outcome is not None
        finally:
            if unregister is not None:
                unregister()
        if not finished or (context is not None and context.cancelled):
            woken = self._abort()
            # A helper with nothing to wake (waiting for headers on a reused connection) ends
            # by its own timeout; waiting for it here would only delay the error.
            worker.join(1.0 if woken else 0.05)
            if context is not None and context.cancelled:
                raise CancelledError(f"{where} was cancelled")
            raise TimeoutError(
                f"{where} timed out after {self.params.timeout:g} ms "
                "(the timeout bounds the whole exchange, body included)"
            )
        worker.join()
        outcome = self.outcome
        if isinstance(outcome, BaseException):
            raise outcome
        assert outcome is not None
        return outcome

    def _work(self, request: httpx.Request) -> None:
        try:
            self.outcome = self._fetch(request)
        except BaseException as exc:  # handed to the waiting thread
            self.outcome = exc
        finally:
            self.wake.set()

    def _fetch(self, request: httpx.Request) -> tuple[httpx.Response, bytes]:
        first = f"{request.method} {request.url}"
        for _ in range(MAX_REDIRECTS + 1):
            response = self._send(request)
            try:
                following = self.params.follow_redirects and response.next_request is not None
                if not following:
                    return response, self._read(response, request)
            finally:
                self._release(response)
            assert response.next_request is not None
            self.cookies.extract_cookies(response)
            request = self._redirected(request, response.next_request)
            self.cookies.set_cookie_header(request)
        raise ConnectionError(f"{first}: more than {MAX_REDIRECTS} redirects")

    def _send(self, request: httpx.Request) -> httpx.Response:
        import httpx

        where = f"{request.method} {request.url}"
        # Each wait of this hop gets only what is left of the whole exchange's time; the
        # node's timeout wins over a lent client's own.
        left = None if self.deadline is None else max(0.001, self.deadline - time.perf_counter())
        request.extensions["timeout"] = httpx.Timeout(left).as_dict()
        request.extensions["trace"] = self._trace
        try:
            # follow_redirects=False whatever the client says: redirects are followed in
            # ``_fetch``, which drops credentials on the way to another origin.
            response = self.client.send(
                request,
                stream=True,
                follow_redirects=False,
                auth=None if self.crossed else httpx.USE_CLIENT_DEFAULT,
            )
        except httpx.TimeoutException as exc:
            raise TimeoutError(
                f"{where} timed out after {self.params.timeout:g} ms ({type(exc).__name__})"
            ) from exc
        except httpx.UnsupportedProtocol as exc:
            raise ValueError(f"{where}: unsupported URL scheme") from exc
        except httpx.TransportError as exc:
            if self.stopped:
                raise ConnectionError(f"{where} was abandoned") from exc
            reason = str(exc) or type(exc).__name__
            raise ConnectionError(f"{where} failed: {reason}") from exc
        stream = response.extensions.get("network_stream")
        sock = stream.get_extra_info("socket") if stream is not None else None
        if not self._hold(sock if isinstance(sock, socket.socket) else None):
            self._release(response)
            raise ConnectionError(f"{where} was abandoned")
        return response

    def _trace(self, event: str, info: dict[str, Any]) -> None:
        """httpcore's trace hook: hold a new connection's socket from the moment it connects."""
        if event == "connection.connect_tcp.complete":
            stream = info.get("return_value")
            sock = stream.get_extra_info("socket") if stream is not None else None
            if isinstance(sock, socket.socket):
                self._hold(sock)

    def _hold(self, sock: socket.socket | None) -> bool:
        """Remember the socket this exchange is using; False (and shut) if already abandoned."""
        with self.lock:
            if sock is not None:
                self.sock = sock
            if not self.stopped:
                return True
            if sock is not None:
                _shut(sock)
            return False

    def _release(self, response: httpx.Response) -> None:
        """Close ``response``: its connection may go back to the pool, so stop holding it."""
        with self.lock:
            self.sock = None
        response.close()

    def _redirected(self, previous: httpx.Request, following: httpx.Request) -> httpx.Request:
        """``following`` minus the user's credential-bearing headers when it changes origin."""
        if _same_origin(previous.url, following.url):
            return following
        for name in list(following.headers.keys()):
            lower = name.lower()
            if (
                lower in self.user_set
                and lower not in SAFE_CROSS_ORIGIN_HEADERS
                and lower not in _MANAGED_HEADERS
            ):
                del following.headers[name]
        # Dropped for good: a later redirect back to the first origin does not restore them.
        self.user_set = {n for n in self.user_set if n in SAFE_CROSS_ORIGIN_HEADERS}
        self.crossed = True
        return following

    def _read(self, response: httpx.Response, request: httpx.Request) -> bytes:
        import httpx

        where = f"{request.method} {request.url}"
        limit = self.params.max_response_bytes
        declared = response.headers.get("content-length", "")
        if (
            limit is not None
            and declared.isdigit()
            and int(declared) > limit
            and "content-encoding" not in response.headers
        ):
            raise ResponseTooLargeError(_too_large(where, limit, f"it declares {declared} bytes"))
        chunks: list[bytes] = []
        total = 0
        try:
            for chunk in response.iter_bytes():
                total += len(chunk)
                if limit is not None and total > limit:
                    raise ResponseTooLargeError(_too_large(where, limit, "it sent more"))
                chunks.append(chunk)
        except httpx.TimeoutException as exc:
            raise TimeoutError(
                f"{where} timed out after {self.params.timeout:g} ms while reading the body"
            ) from exc
        except httpx.TransportError as exc:
            if self.stopped:
                raise ConnectionError(f"{where} was abandoned") from exc
            raise ConnectionError(f"{where} failed while reading the body: {exc}") from exc
        return b"".join(chunks)

    def _abort(self) -> bool:
        """Stop the helper thread from going on; return whether a blocked read was woken."""
        with self.lock:
            self.stopped = True
            sock = self.sock
            if sock is not None:
                _shut(sock)
        if self.owned:
            self.client.close()
        return sock is not None or self.owned


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:  # already closed by the other side
        pass


def _same_origin(a: httpx.URL, b: httpx.URL) -> bool:
    # An upgrade from http to https on the same host and default ports keeps the origin's trust,
    # as httpx and browsers do; any other change of scheme, host or port is another origin.
    if a.host != b.host:
        return False
    if a.scheme == b.scheme:
        return _port(a) == _port(b)
    return a.scheme == "http" and b.scheme == "https" and _port(a) == 80 and _port(b) == 443


def _port(url: httpx.URL) -> int | None:
    return url.port or {"http": 80, "https": 443}.get(url.scheme)


def _too_large(where: str, limit: int, how: str) -> str:
    return (
        f"{where}: the response is larger than maxResponseBytes ({limit} bytes; {how}); "
        "raise maxResponseBytes, or set it to null to accept any size"
    )
