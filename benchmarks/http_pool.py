"""Benchmark (issue 12, row 1): 500 HTTP GETs to a local server at concurrency 16.

* floor: one shared ``httpx.Client`` and a ``ThreadPoolExecutor(16)``, written by hand;
* atomiton: a compiled flow whose ``loop`` (concurrency 16) runs one ``http-request`` node per
  URL; every node of the run shares the run's connection pool;
* atomiton, lent client: the same flow with ``run(..., http_client=client)``;
* parallel: a ``parallel`` node of 16 branches, each a loop over its share of the URLs;
* a client per request: what a node that makes its own client costs (new connection, new TLS
  context, no keep-alive), hand-written, for comparison.

The server (``ThreadingHTTPServer``, HTTP/1.1 keep-alive) runs in a subprocess on 127.0.0.1, so it
does not compete with the client threads for the GIL. Every variant is measured in the same run,
interleaved, and the median of ``--repeats`` rounds is printed.

Run: ``python benchmarks/http_pool.py [--requests 500] [--concurrency 16] [--repeats 7]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType

import httpx

from atomiton.compiler import compile_blueprint, load_module

BODY = b'{"ok": true, "items": [1, 2, 3]}'


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # a client per request opens connections in bursts


def serve() -> None:
    """The server side: print the port, serve until stdin closes."""
    httpd = _Server(("127.0.0.1", 0), _Handler)
    print(httpd.server_address[1], flush=True)
    import threading

    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    sys.stdin.read()
    httpd.shutdown()


LOOP_FLOW = """
id: http_pool
interface:
  inputs: [{id: urls, dataType: array}]
  outputs: [{id: bodies, dataType: array}]
nodes:
  - id: each
    type: loop
    parameters:
      concurrency: CONCURRENCY
      body:
        nodes:
          - {id: get, type: http-request}
edges:
  - {source: input, sourceHandle: urls, target: each, targetHandle: array}
  - {source: each, sourceHandle: results, target: output, targetHandle: bodies}
"""

PARALLEL_FLOW = """
id: http_parallel
interface:
  inputs: [{id: shares, dataType: array}]
  outputs: [{id: bodies, dataType: array}]
nodes:
  - id: fan
    type: parallel
    parameters:
      concurrency: CONCURRENCY
      branches:
BRANCHES
edges:
  - {source: input, sourceHandle: shares, target: fan}
  - {source: fan, sourceHandle: results, target: output, targetHandle: bodies}
"""

# Every branch receives the whole list of shares and takes its own.
BRANCH = """        - nodes:
            - {id: pick, type: code, parameters: {code: "return data[K]"}}
            - id: each
              type: loop
              parameters:
                body:
                  nodes: [{id: get, type: http-request}]
          edges:
            - {source: pick, target: each, targetHandle: array}
"""


def _compile(folder: Path, name: str, text: str) -> ModuleType:
    path = folder / f"{name}.yaml"
    path.write_text(text)
    return load_module(compile_blueprint(path))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument(
        "--skip-per-request", action="store_true", help="leave out the slowest reference row"
    )
    args = parser.parse_args()
    n, c = args.requests, args.concurrency

    server = subprocess.Popen(
        [sys.executable, __file__, "--serve"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        urls = [f"http://127.0.0.1:{port}/item/{k}" for k in range(n)]
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            loop = _compile(folder, "loop", LOOP_FLOW.replace("CONCURRENCY", str(c)))
            branches = "".join(BRANCH.replace("K", str(k)) for k in range(c))
            parallel = _compile(
                folder,
                "parallel",
                PARALLEL_FLOW.replace("CONCURRENCY", str(c)).replace("BRANCHES\n", branches),
            )
            _measure(urls, c, args.repeats, loop, parallel, not args.skip_per_request)
    finally:
        assert server.stdin is not None
        server.stdin.close()
        server.wait(5)


def _measure(
    urls: list[str],
    c: int,
    repeats: int,
    loop: ModuleType,
    parallel: ModuleType,
    per_request_row: bool,
) -> None:
    shares = [urls[k::c] for k in range(c)]
    shared = httpx.Client()

    def floor() -> int:
        def get(url: str) -> bytes:
            return shared.get(url).content

        with ThreadPoolExecutor(max_workers=c) as pool:
            return len(list(pool.map(get, urls)))

    def per_request() -> int:
        def get(url: str) -> bytes:
            with httpx.Client() as client:
                return client.get(url).content

        with ThreadPoolExecutor(max_workers=c) as pool:
            return len(list(pool.map(get, urls)))

    def atomiton() -> int:
        return len(loop.run(loop.Inputs(urls=urls)).bodies)

    def atomiton_lent() -> int:
        return len(loop.run(loop.Inputs(urls=urls), http_client=shared).bodies)

    def atomiton_parallel() -> int:
        out = parallel.run(parallel.Inputs(shares=shares))
        return sum(len(branch) for branch in out.bodies)

    variants: list[tuple[str, Callable[[], int]]] = [
        (f"floor: one shared httpx.Client, ThreadPoolExecutor({c})", floor),
        (f"atomiton: loop, concurrency {c} (the run's pool)", atomiton),
        ("atomiton: loop, run(http_client=shared)", atomiton_lent),
        (f"atomiton: parallel of {c} loops (the run's pool)", atomiton_parallel),
    ]
    if per_request_row:
        variants.append((f"a new httpx.Client per request, {c} threads", per_request))
    for _, fn in variants:  # warm up: imports, first connections, the flows' first runs
        assert fn() == len(urls)
    times: dict[str, list[float]] = {name: [] for name, _ in variants}
    for _ in range(repeats):
        for name, fn in variants:  # interleaved, so a burst of load hits every variant
            started = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - started)
    shared.close()
    base = statistics.median(times[variants[0][0]])
    load = os.getloadavg()[0]
    print(
        f"### {len(urls)} GETs to a local server, concurrency {c} "
        f"(median of {repeats}; load average {load:.2f} on {os.cpu_count()} cores)\n"
    )
    print("| variant | time (s) | per request (ms) | ratio to floor |")
    print("| --- | ---: | ---: | ---: |")
    for name, _ in variants:
        t = statistics.median(times[name])
        print(f"| {name} | {t:.3f} | {t / len(urls) * 1e3:.2f} | {t / base:.2f}x |")


if __name__ == "__main__":
    if sys.argv[1:] == ["--serve"]:
        serve()
    else:
        main()
