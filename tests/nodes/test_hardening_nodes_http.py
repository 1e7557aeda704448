"""http-request bounds (issue 9, item 12): a response size cap, a timeout that bounds the whole
body, and redirects to another origin that drop every credential-bearing header the user set.

Two real HTTP servers on 127.0.0.1 (two ports: two origins).
"""

from __future__ import annotations

import gzip
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from atomiton.compiler import compile_blueprint, load_module
from atomiton.errors import CancelledError, NodeError
from atomiton.nodes.http_exchange import ResponseTooLargeError
from atomiton.nodes.http_request import DEFAULT_MAX_RESPONSE_BYTES, Params, run
from atomiton.runtime.context import NodeContext


class Handler(BaseHTTPRequestHandler):
    """/big /stream /bomb /trickle /echo /go?to=URL /loop."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        route = parts.path
        try:
            if route == "/big":
                body = b"b" * int(query["n"])
                self._head(200, {"Content-Type": "application/octet-stream"}, len(body))
                self.wfile.write(body)
            elif route == "/stream":
                # No length: the body ends when the connection closes, after 1 GB.
                self.close_connection = True
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                block = b"s" * 65536
                for _ in range(16384):
                    self.wfile.write(block)
            elif route == "/bomb":
                body = gzip.compress(b"\0" * (20 * 1024 * 1024))
                self._head(
                    200,
                    {"Content-Type": "application/octet-stream", "Content-Encoding": "gzip"},
                    len(body),
                )
                self.wfile.write(body)
            elif route == "/trickle":
                # Each byte arrives well within a read timeout; the whole takes 4 s.
                self._head(200, {"Content-Type": "text/plain"}, 40)
                for _ in range(40):
                    self.wfile.write(b"t")
                    self.wfile.flush()
                    time.sleep(0.1)
            elif route == "/echo":
                seen = {k.lower(): v for k, v in self.headers.items()}
                body = json.dumps(seen).encode()
                self._head(200, {"Content-Type": "application/json"}, len(body))
                self.wfile.write(body)
            elif route == "/go":
                self._head(302, {"Location": query["to"]}, 0)
            elif route == "/loop":
                self._head(302, {"Location": "/loop"}, 0)
            else:
                self._head(404, {}, 0)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _head(self, status: int, headers: dict[str, str], length: int) -> None:
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(length))
        self.end_headers()


def _serve() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    yield from _serve()


@pytest.fixture(scope="module")
def other() -> Iterator[str]:
    yield from _serve()


def get(url: str, **params: object) -> object:
    return run(Params.model_validate({"url": url, **params}))


def test_default_cap_is_100_mb() -> None:
    assert Params().max_response_bytes == DEFAULT_MAX_RESPONSE_BYTES == 100 * 1024 * 1024


def test_a_declared_length_over_the_cap_fails_before_reading(server: str) -> None:
    with pytest.raises(ResponseTooLargeError, match=r"maxResponseBytes \(1000 bytes; it declares"):
        get(f"{server}/big?n=5000", maxResponseBytes=1000)
    assert get(f"{server}/big?n=1000", maxResponseBytes=1000).result == b"b" * 1000  # type: ignore[attr-defined]


def test_an_endless_body_stops_at_the_cap(server: str) -> None:
    started = time.perf_counter()
    with pytest.raises(ResponseTooLargeError, match="it sent more"):
        get(f"{server}/stream", maxResponseBytes=1024 * 1024)
    # 1 MB read of a 1 GB body: stopped at the cap, not after reading it all.
    assert time.perf_counter() - started < 2.0


def test_the_cap_counts_decompressed_bytes(server: str) -> None:
    with pytest.raises(ResponseTooLargeError):
        get(f"{server}/bomb", maxResponseBytes=1024 * 1024)
    result = get(f"{server}/bomb", maxResponseBytes=None)
    assert len(result.result) == 20 * 1024 * 1024  # type: ignore[attr-defined]


def test_the_timeout_bounds_a_body_that_trickles(server: str) -> None:
    before = set(threading.enumerate())
    started = time.perf_counter()
    with pytest.raises(TimeoutError, match="timed out after 500 ms"):
        get(f"{server}/trickle", timeout=500)
    took = time.perf_counter() - started
    # The body takes 4 s to arrive; before, each byte reset a per-read timeout and it did.
    assert 0.45 < took < 2.5, took
    # The helper thread reading the body was woken and ended with the node.
    deadline = time.monotonic() + 2
    while {t for t in threading.enumerate() if t not in before} and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not {t for t in threading.enumerate() if t not in before and "http" in t.name}


def test_a_cancel_stops_a_trickling_body_at_once(server: str) -> None:
    context = NodeContext("fetch")
    threading.Timer(0.3, context.cancel).start()
    started = time.perf_counter()
    with pytest.raises(CancelledError):
        run(Params(url=f"{server}/trickle", timeout=None), context=context)
    assert time.perf_counter() - started < 2.0


CREDENTIALS = {
    "Authorization": "Bearer secret-token",
    "Cookie": "session=secret",
    "Proxy-Authorization": "Basic c2VjcmV0",
    "X-Api-Key": "secret-key",
    "X-Custom": "also-dropped",
    "Accept": "application/json",
    "User-Agent": "flow/1.0",
}


def test_a_cross_origin_redirect_drops_every_credential_the_user_set(
    server: str, other: str
) -> None:
    result = get(f"{server}/go?to={other}/echo", headers=CREDENTIALS)
    seen = result.result  # type: ignore[attr-defined]
    assert result.url == f"{other}/echo"  # type: ignore[attr-defined]
    for name in ("authorization", "cookie", "proxy-authorization", "x-api-key", "x-custom"):
        assert name not in seen, name
    assert seen["accept"] == "application/json" and seen["user-agent"] == "flow/1.0"
    assert seen["host"] == other.removeprefix("http://")


def test_auth_is_dropped_too_and_not_restored_on_the_way_back(server: str, other: str) -> None:
    back = f"{server}/echo"
    result = get(
        f"{server}/go?to={other}/go?to={back}",
        headers={"X-Api-Key": "secret-key"},
        auth={"type": "basic", "username": "ada", "password": "pw"},
    )
    seen = result.result  # type: ignore[attr-defined]
    assert "authorization" not in seen and "x-api-key" not in seen


def test_a_same_origin_redirect_keeps_the_headers(server: str) -> None:
    result = get(f"{server}/go?to=/echo", headers={"X-Api-Key": "k", "Authorization": "Bearer t"})
    seen = result.result  # type: ignore[attr-defined]
    assert seen["x-api-key"] == "k" and seen["authorization"] == "Bearer t"


def test_a_redirect_loop_fails(server: str) -> None:
    with pytest.raises(ConnectionError, match="more than 20 redirects"):
        get(f"{server}/loop")
    result = get(f"{server}/loop", followRedirects=False)
    assert result.status == 302  # type: ignore[attr-defined]


def test_a_flow_reports_the_cap_as_a_node_error(server: str, tmp_path: Path) -> None:
    path = tmp_path / "flow.yaml"
    path.write_text(f"""
id: capped
nodes:
  - id: fetch
    type: http-request
    parameters: {{url: "{server}/big?n=4096", maxResponseBytes: 1024}}
""")
    module = load_module(compile_blueprint(path))
    with pytest.raises(NodeError, match="ResponseTooLargeError: .*maxResponseBytes") as caught:
        module.run()
    assert caught.value.node_id == "fetch" and caught.value.line == 4
