"""Events per second that ``atomiton serve`` delivers to 50 WebSocket clients.

A real server (``python -m atomiton serve --port 0 --no-record``, its own process) runs RUNS
flows of a chain of trivial code nodes at once while 50 clients follow every run; the figure is
the number of ``run.event`` notifications received by all clients together, divided by the wall
time from the first ``run`` request to the last client's last event. The floor is a bare
websockets server in the same kind of process broadcasting the same number of messages of the
same size to 50 clients: what the transport alone costs on this machine, in this run. Each row
is the median of REPEATS.

Run: ``python benchmarks/serve_events.py`` (prints a markdown table).
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from atomiton.client import AsyncClient

CLIENTS = 50
RUNS = 4
NODES = 100
REPEATS = 3

# Kept apart from the dedent call: black versions disagree on hugging a lone string argument.
_FLOOR_SOURCE = """
    import asyncio, sys
    from websockets.asyncio.server import serve, broadcast

    clients = set()

    async def handler(ws):
        clients.add(ws)
        try:
            async for message in ws:  # "go <count> <size>": broadcast count messages
                _, count, size = message.split()
                body = '{"jsonrpc":"2.0","method":"run.event","params":{"pad":"%s"}}' % (
                    "x" * int(size))
                for _ in range(int(count)):
                    broadcast(clients, body)
                    await asyncio.sleep(0)
        finally:
            clients.discard(ws)

    async def main():
        async with serve(handler, "127.0.0.1", 0, max_size=None) as server:
            port = server.sockets[0].getsockname()[1]
            print(f"serving on ws://127.0.0.1:{port}", file=sys.stderr, flush=True)
            await asyncio.Future()

    asyncio.run(main())
    """
FLOOR_SERVER = textwrap.dedent(_FLOOR_SOURCE)


def chain(folder: Path) -> Path:
    nodes = "".join(
        f"  - {{id: n{i}, type: code, parameters: {{code: 'return (data or 0) + 1'}}}}\n"
        for i in range(NODES)
    )
    edges = "".join(f"  - {{source: n{i - 1}, target: n{i}}}\n" for i in range(1, NODES))
    path = folder / "chain.yaml"
    path.write_text(f"id: chain\nnodes:\n{nodes}edges:\n{edges}")
    return path


def start(command: list[str], folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    log = folder / f"log-{time.monotonic_ns()}.txt"
    with log.open("wb") as err:
        process = subprocess.Popen(command, cwd=folder, stderr=err)
    while "serving on" not in (text := log.read_text()):
        if process.poll() is not None:
            raise SystemExit(f"server failed: {text}")
        time.sleep(0.05)
    url = text.split("serving on ", 1)[1].split()[0]
    return process, url


async def served_rate(url: str) -> tuple[float, int, int]:
    """(events per second, events delivered, mean message bytes) of one round."""
    clients = await asyncio.gather(*(AsyncClient.connect(url) for _ in range(CLIENTS)))
    for client in clients:
        await client.subscribe()
    starter = await AsyncClient.connect(url)
    started = time.perf_counter()
    run_ids = await asyncio.gather(*(starter.run("chain.yaml", concurrency=1) for _ in range(RUNS)))
    for client in clients:
        for run_id in run_ids:
            async for _ in client.events(run_id):
                pass
    elapsed = time.perf_counter() - started
    delivered = sum(len(c.received(r)) for c in clients for r in run_ids)
    sample = clients[0].received(run_ids[0])
    size = sum(len(json.dumps(e)) for e in sample) // max(1, len(sample)) + 60
    for client in (starter, *clients):
        await client.aclose()
    return delivered / elapsed, delivered, size


async def floor_rate(url: str, per_client: int, size: int) -> float:
    from websockets.asyncio.client import connect

    sockets = [await connect(url, max_size=None) for _ in range(CLIENTS)]
    await asyncio.sleep(0.2)

    async def drain(ws: object) -> None:
        for _ in range(per_client):
            await ws.recv()  # type: ignore[attr-defined]

    started = time.perf_counter()
    await sockets[0].send(f"go {per_client} {size}")
    await asyncio.gather(*(drain(ws) for ws in sockets))
    elapsed = time.perf_counter() - started
    for ws in sockets:
        await ws.close()
    return per_client * CLIENTS / elapsed


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        chain(folder)
        (folder / "floor.py").write_text(FLOOR_SERVER)
        server, http = start(
            [sys.executable, "-m", "atomiton", "serve", "--port", "0", "--no-record"], folder
        )
        floor, floor_url = start([sys.executable, "floor.py"], folder)
        url = http.replace("http://", "ws://").rstrip("/") + "/rpc"
        try:
            served, floors, delivered, size = [], [], 0, 0
            for _ in range(REPEATS):
                rate, delivered, size = asyncio.run(served_rate(url))
                served.append(rate)
                floors.append(asyncio.run(floor_rate(floor_url, delivered // CLIENTS, size)))
        finally:
            for process in (server, floor):
                process.terminate()
                process.wait()
    served_median, floor_median = statistics.median(served), statistics.median(floors)
    print(
        f"{CLIENTS} clients, {RUNS} concurrent runs of a {NODES}-node chain, "
        f"{delivered} events delivered per round (~{size} bytes each), "
        f"median of {REPEATS}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}\n"
    )
    print("| what | events/s to all clients | vs floor |")
    print("| --- | ---: | ---: |")
    print(f"| floor: bare websockets broadcast | {floor_median:,.0f} | 1.00x |")
    print(
        f"| atomiton serve (run.event) | {served_median:,.0f} | "
        f"{served_median / floor_median:.2f}x |"
    )


if __name__ == "__main__":
    main()
