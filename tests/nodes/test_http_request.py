"""Tests of the http-request node against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from pydantic import ValidationError

from atomiton.errors import CancelledError
from atomiton.nodes import http_request
from atomiton.nodes.http_request import HTTPStatusError, Params, run
from atomiton.runtime.context import NodeContext


class Handler(BaseHTTPRequestHandler):
    """Endpoints: /json /text /binary /empty /redirect /slow /echo /auth /status/<n> /badjson."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
        pass

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str | None,
        extra: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _handle(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        route = parts.path
        if route == "/json":
            self._send(
                200, json.dumps({"hello": "world", "n": [1, 2]}).encode(), "application/json"
            )
        elif route == "/text":
            self._send(200, "héllo".encode(), "text/plain; charset=utf-8", {"X-Multi": "a"})
        elif route == "/binary":
            self._send(200, bytes(range(256)), "application/octet-stream")
        elif route == "/empty":
            self._send(204, b"", None)
        elif route == "/redirect":
            self._send(302, b"", None, {"Location": "/json"})
        elif route == "/slow":
            time.sleep(float(parse_qs(parts.query).get("s", ["2"])[0]))
            self._send(200, b"late", "text/plain")
        elif route == "/echo":
            echoed = {
                "method": self.command,
                "query": parse_qs(parts.query),
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": body.decode("latin-1"),
            }
            self._send(200, json.dumps(echoed).encode(), "application/vnd.test+json")
        elif route == "/auth":
            expected = {"Basic " + base64.b64encode(b"ada:secret").decode(), "Bearer tok123"}
            if self.headers.get("Authorization") in expected:
                self._send(200, b'{"authorised": true}', "application/json")
            else:
                self._send(401, b"who are you?", "text/plain")
        elif route.startswith("/status/"):
            self._send(int(route.rsplit("/", 1)[1]), b"oops, server side", "text/plain")
        elif route == "/badjson":
            self._send(200, b"{not json", "application/json")
        else:
            self._send(404, b"no such endpoint", "text/plain")

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # clients that time out or cancel hang up on purpose; nothing to report


@pytest.fixture(scope="session")
def server() -> Iterator[str]:
    httpd = QuietServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def req(**kwargs: object) -> Params:
    return Params.model_validate(kwargs)


def test_json_response(server: str) -> None:
    out = run(req(url=f"{server}/json"))
    assert out.result == {"hello": "world", "n": [1, 2]}
    assert out.status == 200 and out.ok is True
    assert out.headers["content-type"] == "application/json"
    assert out.url == f"{server}/json" and out.duration > 0


def test_text_binary_and_empty_responses(server: str) -> None:
    text = run(req(url=f"{server}/text"))
    assert text.result == "héllo" and text.headers["x-multi"] == "a"
    binary = run(req(url=f"{server}/binary"))
    assert binary.result == bytes(range(256))
    empty = run(req(url=f"{server}/empty"))
    assert empty.result is None and empty.status == 204
    head = run(req(method="HEAD", url=f"{server}/json"))
    assert head.result is None and head.status == 200


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
def test_every_method(server: str, method: str) -> None:
    out = run(req(method=method.lower(), url=f"{server}/echo"))
    assert out.result["method"] == method


def test_query_headers_and_json_body(server: str) -> None:
    params = req(
        method="POST",
        url=f"{server}/echo?fixed=1",
        query={"q": "a b", "tags": ["x", "y"], "flag": True, "skip": None},
        headers={"X-Token": "abc", "X-Count": 3},
        body={"name": "Ada", "langs": ["py"]},
    )
    echoed = run(params).result
    assert echoed["query"] == {"fixed": ["1"], "q": ["a b"], "tags": ["x", "y"], "flag": ["true"]}
    assert echoed["headers"]["x-token"] == "abc" and echoed["headers"]["x-count"] == "3"
    assert echoed["headers"]["content-type"] == "application/json"
    assert json.loads(echoed["body"]) == {"name": "Ada", "langs": ["py"]}


def test_text_and_bytes_bodies_and_edges_win(server: str) -> None:
    params = req(
        method="POST", url=f"{server}/nowhere", body="param body", headers={"X-A": "param"}
    )
    echoed = run(
        params, url=f"{server}/echo", body="edge body", headers={"X-B": "edge"}, query={"k": 1}
    ).result
    assert echoed["body"] == "edge body"
    assert echoed["headers"]["content-type"].startswith("text/plain")
    assert "x-a" not in echoed["headers"] and echoed["headers"]["x-b"] == "edge"
    assert echoed["query"] == {"k": ["1"]}
    raw = run(req(method="PUT", url=f"{server}/echo"), body=b"\x00\xff").result
    assert (
        raw["body"] == "\x00\xff" and raw["headers"]["content-type"] == "application/octet-stream"
    )


def test_basic_and_bearer_auth(server: str) -> None:
    basic = run(
        req(url=f"{server}/auth", auth={"type": "basic", "username": "ada", "password": "secret"})
    )
    assert basic.result == {"authorised": True}
    bearer = run(req(url=f"{server}/auth", auth={"type": "bearer", "token": "tok123"}))
    assert bearer.result == {"authorised": True}
    with pytest.raises(HTTPStatusError, match="401"):
        run(req(url=f"{server}/auth", auth={"type": "bearer", "token": "wrong"}))
    with pytest.raises(ValidationError):
        req(url=f"{server}/auth", auth={"type": "digest", "token": "x"})


def test_redirects(server: str) -> None:
    followed = run(req(url=f"{server}/redirect"))
    assert followed.url == f"{server}/json" and followed.result == {"hello": "world", "n": [1, 2]}
    kept = run(req(url=f"{server}/redirect", follow_redirects=False))
    assert kept.status == 302 and kept.headers["location"] == "/json" and kept.ok is True


def test_fail_on_error_both_ways(server: str) -> None:
    with pytest.raises(HTTPStatusError, match=r"GET .*/status/500 returned 500.*oops") as info:
        run(req(url=f"{server}/status/500"))
    assert info.value.status == 500
    with pytest.raises(HTTPStatusError, match="404"):
        run(req(url=f"{server}/status/404"))
    out = run(req(url=f"{server}/status/503", fail_on_error=False))
    assert out.ok is False and out.status == 503 and out.result == "oops, server side"


def test_timeout_names_the_url(server: str) -> None:
    started = time.perf_counter()
    with pytest.raises(TimeoutError, match=r"/slow\?s=2 timed out after 200 ms"):
        run(req(url=f"{server}/slow?s=2", timeout=200))
    assert time.perf_counter() - started < 1.5


def test_connection_refused_names_the_url() -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ConnectionError, match=f"127.0.0.1:{port}/x"):
        run(req(url=f"http://127.0.0.1:{port}/x", timeout=2000))


def test_bad_urls_and_bad_json(server: str) -> None:
    with pytest.raises(ValueError, match="needs a url"):
        run(req())
    with pytest.raises(ValueError, match="invalid URL 'ftp://x'"):
        run(req(url="ftp://x"))
    with pytest.raises(ValueError, match="invalid URL"):
        run(req(url="not a url"))
    with pytest.raises(ValueError, match="invalid JSON"):
        run(req(url=f"{server}/badjson"))
    with pytest.raises(ValidationError):
        req(url=f"{server}/json", method="FETCH")


def test_with_context_behaves_the_same(server: str) -> None:
    out = run(req(url=f"{server}/json"), context=NodeContext.detached())
    assert out.result["hello"] == "world"
    with pytest.raises(HTTPStatusError):
        run(req(url=f"{server}/status/500"), context=NodeContext.detached())


def test_cancellation_stops_a_slow_request(server: str) -> None:
    context = NodeContext.detached("fetch")
    threading.Timer(0.2, context.cancel).start()
    started = time.perf_counter()
    with pytest.raises(CancelledError, match="slow"):
        run(req(url=f"{server}/slow?s=3"), context=context)
    assert time.perf_counter() - started < 1.5
    with pytest.raises(CancelledError):  # already cancelled: nothing is sent
        run(req(url=f"{server}/json"), context=context)


def test_spec_shape() -> None:
    spec = http_request.SPEC
    assert (
        spec.weight == 500
        and spec.needs_context
        and spec.requires == ("httpx",)
        and spec.extra == "http"
    )
    assert [p.attr for p in spec.outputs] == list(http_request.Output.__dataclass_fields__)
    assert [p.name for p in spec.inputs] == ["url", "body", "headers", "query"]


# -- compiled end to end --------------------------------------------------------------------------


def test_compiled_blueprint_fetches_json(server: str, tmp_path: Path) -> None:
    from atomiton.compiler import compile_blueprint, load_module

    path = tmp_path / "flow.yaml"
    path.write_text("""
id: http
interface:
  inputs: [{id: base, dataType: string}]
  outputs: [{id: body, dataType: any}, {id: status, dataType: integer}]
nodes:
  - id: fetch
    type: http-request
    parameters: {url: "{{ inputs.base }}/json"}
edges:
  - {source: fetch, sourceHandle: result, target: output, targetHandle: body}
  - {source: fetch, sourceHandle: status, target: output, targetHandle: status}
""")
    compiled = compile_blueprint(path)
    compile(compiled.code, str(path), "exec")
    module = load_module(compiled)
    outputs = module.run(module.Inputs(base=server))
    assert outputs.status == 200 and outputs.body == {"hello": "world", "n": [1, 2]}
