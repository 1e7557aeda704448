"""The http-request nodes of one run share one connection pool, closed with the run.

A real HTTP server on 127.0.0.1 counts the TCP connections it accepts and how many are still
open, so reuse, closing at the end and closing on cancel are seen from the other end of the wire.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from atomiton.compiler import compile_blueprint, load_module
from atomiton.errors import CancelledError, NodeError
from atomiton.runtime import RunControl
from atomiton.runtime.resources import RunResources


class Handler(BaseHTTPRequestHandler):
    """Endpoints: /n/<k> (JSON), /slow?s=, /echo, /login (sets a cookie, redirects), /whoami."""

    protocol_version = "HTTP/1.1"  # keep-alive: a connection serves many requests

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _send(self, status: int, body: bytes, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        # Read any body, so that the next request on this connection starts where it should.
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if parts.path.startswith("/n/"):
            self._send(200, json.dumps({"n": int(parts.path[3:])}).encode())
        elif parts.path == "/slow":
            time.sleep(float(parse_qs(parts.query).get("s", ["1"])[0]))
            self._send(200, b"{}")
        elif parts.path in ("/echo", "/whoami"):
            headers = {k.lower(): v for k, v in self.headers.items()}
            self._send(200, json.dumps(headers).encode())
        elif parts.path == "/hop":  # to another origin
            target = parse_qs(parts.query)["to"][0]
            self._send(302, b"{}", {"Location": target})
        elif parts.path == "/login":
            self._send(302, b"{}", {"Location": "/whoami", "Set-Cookie": "session=s1; Path=/"})
        else:
            self._send(404, b"{}")


class CountingServer(ThreadingHTTPServer):
    """Counts the connections it accepted and those still open (closed by the client or us)."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.lock = threading.Lock()
        self.accepted = 0
        self.open = 0

    def get_request(self) -> tuple[socket.socket, Any]:
        request = super().get_request()
        with self.lock:
            self.accepted += 1
            self.open += 1
        return request

    def shutdown_request(self, request: Any) -> None:
        # Called once the handler's keep-alive loop ended: the client closed its side.
        with self.lock:
            self.open -= 1
        super().shutdown_request(request)

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # cancelled clients hang up on purpose

    def reset(self) -> None:
        with self.lock:
            self.accepted = 0

    def wait_all_closed(self, seconds: float) -> int:
        deadline = time.monotonic() + seconds
        while self.open and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.open


@pytest.fixture
def server() -> Iterator[CountingServer]:
    httpd = CountingServer()
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def base(httpd: CountingServer) -> str:
    return f"http://127.0.0.1:{httpd.server_address[1]}"


FLOW = """
id: pool
interface:
  inputs:
    - {id: urls, dataType: array}
    - {id: one, dataType: string}
nodes:
  - id: each
    type: loop
    parameters:
      concurrency: 4
      body:
        nodes:
          - {id: get, type: http-request}
  - id: both
    type: parallel
    parameters:
      branches:
        - nodes: [{id: a, type: http-request}]
        - nodes: [{id: b, type: http-request}]
edges:
  - {source: input, sourceHandle: urls, target: each, targetHandle: array}
  - {source: input, sourceHandle: one, target: both}
"""


def compiled(tmp_path: Path, text: str = FLOW) -> ModuleType:
    path = tmp_path / "flow.yaml"
    path.write_text(text)
    return load_module(compile_blueprint(path))


def http_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.startswith("http-request")}


def test_the_nodes_of_a_run_share_connections(server: CountingServer, tmp_path: Path) -> None:
    module = compiled(tmp_path)
    urls = [f"{base(server)}/n/{k}" for k in range(60)]
    out = module.run(module.Inputs(urls=urls, one=f"{base(server)}/n/7"))
    # 62 requests: 60 loop items (4 at once) and 2 parallel branches.
    # A body's result is its node's primary output, the decoded response.
    assert out.each == [{"n": k} for k in range(60)] and out.both == [{"n": 7}, {"n": 7}]
    # A client per node would open 62 connections; the run's pool opens about one per request
    # in flight at once (loop concurrency 4, then the two branches).
    assert server.accepted <= 8, server.accepted
    # The run ended: its pool was closed, so the server sees every connection hung up.
    assert server.wait_all_closed(3.0) == 0


def test_each_run_has_its_own_pool(server: CountingServer, tmp_path: Path) -> None:
    module = compiled(tmp_path)
    for _ in range(2):
        module.run(module.Inputs(urls=[f"{base(server)}/n/1"], one=f"{base(server)}/n/2"))
        assert server.wait_all_closed(3.0) == 0
    # Runs do not keep connections for one another (each run closed its pool).
    assert server.accepted >= 2


def test_a_cancelled_run_closes_its_pool(server: CountingServer, tmp_path: Path) -> None:
    module = compiled(tmp_path)
    before = http_threads()
    control = RunControl()
    # The loop's requests are slow when the run is cancelled; the branches' connections, to
    # another origin of the same server (so that nothing else reuses them), sit idle.
    urls = [f"{base(server)}/n/{k}" for k in range(8)] + [f"{base(server)}/slow?s=1"] * 8
    other = base(server).replace("127.0.0.1", "localhost")
    threading.Timer(0.4, control.cancel).start()
    started = time.perf_counter()
    with pytest.raises(CancelledError):
        module.run(module.Inputs(urls=urls, one=f"{other}/n/0"), cancel=control)
    assert time.perf_counter() - started < 1.0  # the slow requests did not hold it up
    # Idle keep-alive connections would stay open for ever had the pool not been closed.
    assert server.wait_all_closed(4.0) == 0
    deadline = time.monotonic() + 3.0
    while http_threads() - before and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not http_threads() - before


def test_a_lent_client_is_used_and_left_open(server: CountingServer, tmp_path: Path) -> None:
    module = compiled(tmp_path)
    urls = [f"{base(server)}/echo"] * 5
    with httpx.Client(headers={"X-Lent": "yes"}) as client:
        out = module.run(module.Inputs(urls=urls, one=f"{base(server)}/echo"), http_client=client)
        assert [item["x-lent"] for item in out.each + out.both] == ["yes"] * 7
        assert not client.is_closed
        # Its connections are still open (the run did not close them) and still serve.
        assert server.open >= 1
        assert client.get(f"{base(server)}/n/3").json() == {"n": 3}
    assert server.wait_all_closed(3.0) == 0


def test_a_lent_client_cannot_bypass_the_redirect_rules(
    server: CountingServer, tmp_path: Path
) -> None:
    text = """
id: r
interface:
  outputs: [{id: status, dataType: integer}]
nodes:
  - id: login
    type: http-request
    parameters: {url: "URL/login", followRedirects: false}
edges:
  - {source: login, sourceHandle: status, target: output, targetHandle: status}
"""
    module = compiled(tmp_path, text.replace("URL", base(server)))
    with httpx.Client(follow_redirects=True) as client:
        out = module.run(http_client=client)
    assert out.status == 302  # the node's followRedirects wins over the client's


def test_a_lent_clients_headers_do_not_follow_to_another_origin(
    server: CountingServer, tmp_path: Path
) -> None:
    other = base(server).replace("127.0.0.1", "localhost")
    text = """
id: h
interface:
  outputs: [{id: seen, dataType: any}]
nodes:
  - id: hop
    type: http-request
    parameters: {url: "URL/hop?to=OTHER/echo", headers: {X-Node: "n"}}
edges:
  - {source: hop, sourceHandle: result, target: output, targetHandle: seen}
"""
    module = compiled(tmp_path, text.replace("URL", base(server)).replace("OTHER", other))
    lender = httpx.Client(headers={"X-Secret": "s", "User-Agent": "lender"}, auth=("ada", "pw"))
    with lender as client:
        seen = module.run(http_client=client).seen
    assert "x-secret" not in seen and "x-node" not in seen and "authorization" not in seen
    assert seen["user-agent"] == "lender"  # a header that carries no credential goes on


def test_arun_lends_the_client_too(server: CountingServer, tmp_path: Path) -> None:
    import asyncio

    module = compiled(tmp_path)
    with httpx.Client(headers={"X-Lent": "async"}) as client:
        out = asyncio.run(
            module.arun(
                module.Inputs(urls=[f"{base(server)}/echo"], one=f"{base(server)}/echo"),
                http_client=client,
            )
        )
        assert out.each[0]["x-lent"] == "async" and not client.is_closed


def test_a_wrong_client_fails_the_node_clearly(server: CountingServer, tmp_path: Path) -> None:
    module = compiled(tmp_path)
    with pytest.raises(NodeError, match="http_client must be an httpx.Client, not str"):
        module.run(
            module.Inputs(urls=[f"{base(server)}/n/1"], one=f"{base(server)}/n/1"),
            http_client="http://proxy",
        )


def test_cookies_follow_a_redirect_but_not_the_next_node(
    server: CountingServer, tmp_path: Path
) -> None:
    text = """
id: c
interface:
  outputs: [{id: first, dataType: any}, {id: second, dataType: any}]
nodes:
  - id: login
    type: http-request
    parameters: {url: "URL/login"}
  - id: later
    type: http-request
    parameters: {url: "URL/whoami"}
edges:
  - {source: login, sourceHandle: status, target: later, targetHandle: body}
  - {source: login, sourceHandle: result, target: output, targetHandle: first}
  - {source: later, sourceHandle: result, target: output, targetHandle: second}
"""
    module = compiled(tmp_path, text.replace("URL", base(server)))
    out = module.run()
    # The login's own redirect carried the cookie it set; the next node, sharing the pool,
    # does not inherit it: nodes stay as separate as with a client each.
    assert out.first["cookie"] == "session=s1"
    assert "cookie" not in out.second


def test_one_timed_out_exchange_leaves_the_shared_pool_working(
    server: CountingServer, tmp_path: Path
) -> None:
    text = """
id: t
interface:
  inputs: [{id: urls, dataType: array}]
nodes:
  - id: each
    type: loop
    parameters:
      concurrency: 3
      continueOnError: true
      body:
        nodes:
          - {id: get, type: http-request, parameters: {timeout: 300}}
edges:
  - {source: input, sourceHandle: urls, target: each, targetHandle: array}
"""
    module = compiled(tmp_path, text)
    urls = [f"{base(server)}/slow?s=1"] + [f"{base(server)}/n/{k}" for k in range(12)]
    out = module.run(module.Inputs(urls=urls))
    assert out.each[0] is None
    assert out.each[1:] == [{"n": k} for k in range(12)]


def test_run_resources_make_once_close_newest_first_and_never_close_what_is_lent() -> None:
    closed: list[str] = []
    lent = object()
    resources = RunResources({"lent": lent})
    made = [resources.get("a", lambda: "A", closed.append) for _ in range(3)]
    resources.get("b", lambda: "B", closed.append)
    assert made == ["A", "A", "A"] and resources.lent("lent") is lent
    resources.close()
    resources.close()
    assert closed == ["B", "A"] and resources.closed
    with pytest.raises(CancelledError, match="run has ended"):
        resources.get("a", lambda: "A", closed.append)
