"""Fifty clients follow ten runs each over real WebSockets and see every event, once, in order;
and neither the runtime nor a generated module imports the server's libraries."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from atomiton.client import AsyncClient

from conftest import Served

CLIENTS = 50
RUNS = 10

FANOUT = """\
id: fanout
nodes:
  - {id: src, type: code, parameters: {code: "return 1"}}
  - {id: a, type: code, parameters: {code: "import time\\ntime.sleep(0.05)\\nreturn data + 1"}}
  - {id: b, type: code, parameters: {code: "import time\\ntime.sleep(0.05)\\nreturn data + 2"}}
  - {id: c, type: code, parameters: {code: "return data"}}
edges:
  - {source: src, target: a}
  - {source: src, target: b}
  - {source: a, target: c}
"""


@pytest.mark.slow
def test_fifty_clients_following_ten_runs_each_see_every_event_in_order(server: Served) -> None:
    (server.folder / "fanout.yaml").write_text(FANOUT)

    async def scenario() -> None:
        starter = await AsyncClient.connect(server.rpc)
        followers = await asyncio.gather(*(AsyncClient.connect(server.rpc) for _ in range(CLIENTS)))
        # Half follow everything from before the runs start, half subscribe to each run late.
        for follower in followers[: CLIENTS // 2]:
            await follower.subscribe()
        run_ids = [await starter.run("fanout.yaml", concurrency=2) for _ in range(RUNS)]
        for follower in followers[CLIENTS // 2 :]:
            for run_id in run_ids:
                await follower.subscribe(run_id)
        for run_id in run_ids:
            await starter.wait(run_id)
        recorded = {
            run_id: [
                e["event"] for e in (await starter.call("runs.events", {"runId": run_id}))["events"]
            ]
            for run_id in run_ids
        }
        for follower in followers:
            for run_id in run_ids:
                seen = [event async for event in follower.events(run_id)]
                assert seen == recorded[run_id]
            assert follower.out_of_order == []
        for client in (starter, *followers):
            await client.aclose()

    asyncio.run(scenario())
    assert "Traceback" not in server.stderr()


def test_the_runtime_and_generated_modules_import_nothing_of_the_server(tmp_path: Path) -> None:
    (tmp_path / "flow.yaml").write_text(FANOUT)
    subprocess.run(
        [sys.executable, "-m", "atomiton", "compile", "flow.yaml", "-o", "gen"],
        cwd=tmp_path,
        check=True,
        capture_output=True,
    )
    probe = (
        "import sys, importlib; sys.path.insert(0, 'gen');"
        "module = importlib.import_module([p.stem for p in __import__('pathlib').Path('gen')"
        ".glob('*.py') if p.stem != '__init__'][0]); module.run();"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('starlette', 'uvicorn', 'websockets', 'playwright', 'sqlite3') or m.startswith('atomiton.serve')"
        " or m.startswith('atomiton.client')); print(bad)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
