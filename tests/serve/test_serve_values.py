"""Node values over the protocol: ``view.get`` gives each completed node's value for a run of
this server (kept in memory, encoded on request) and for a run read back from the history."""

from __future__ import annotations

import signal
from pathlib import Path

from atomiton.client import Client

from conftest import ServerFactory


def test_view_get_gives_node_values_live_and_from_the_history(
    flows: Path, server_factory: ServerFactory
) -> None:
    db = flows / "history.db"
    first = server_factory("--db", str(db))
    with Client.connect(first.rpc) as client:
        done = client.run("steps.yaml")
        failed = client.run("fails.yaml")
        client.wait(done)
        client.wait(failed)
        assert client.view(run_id=done).values == {"first": 1, "middle": 2, "last": 20}
        assert client.view(run_id=failed).values == {"start": 1}
    first.process.send_signal(signal.SIGTERM)
    first.process.wait(timeout=30)

    second = server_factory("--db", str(db))
    with Client.connect(second.rpc) as client:
        assert client.view(run_id=done).values == {"first": 1, "middle": 2, "last": 20}
        view = client.view(run_id=failed)
        assert view.values == {"start": 1}
        assert [(e.source, e.target) for e in view.edges] == [("start", "boom")]
