"""A recorded run's node outputs as pins: record in production, replay locally or in a test.

``recorded_pins`` reads the outputs the run store kept for a run's nodes (since schema 3) and
gives them back as ``run(pins=...)`` takes them, blobs fetched and turned back into their
values. A value the store did not keep (over the size cap, or not data) cannot be a pin: that
is an error naming the node, never a silent ``None``. Validating the values against the nodes'
output types is the run's (``runtime/supply.py``); the command line's ``--pins-from`` calls this.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable

from ..runtime.supply import PinError
from .records import NodeRecord
from .runstore import RunStore
from .schema import StoreError
from .values import MARKER

# States of a node whose output was recorded as the value it gave.
_GAVE_A_VALUE = frozenset({"done", "pinned", "cached", "resumed"})


def recorded_pins(
    run_id: str,
    nodes: Iterable[str] | None = None,
    *,
    db: str | os.PathLike[str] | RunStore | None = None,
) -> dict[str, object]:
    """Node id -> the output node gave in run ``run_id`` (or a unique prefix of it).

    Args:
        run_id: the recorded run.
        nodes: the nodes to pin (None: every node that gave a value in that run and whose
            value was recorded).
        db: the run store, or its path (default: the default history).

    Raises:
        StoreError: the run is not in the store.
        PinError: a named node is not in the run, did not complete there, or its value was not
            recorded (over the size cap, or not data).
    """
    store = db if isinstance(db, RunStore) else RunStore.open(db)
    try:
        run = store.get_run(run_id)
        if run is None:
            raise StoreError(f"no run {run_id!r} in the run history {store.path}")
        by_id = {node.node_id: node for node in run.nodes}
        if nodes is None:
            wanted = [n.node_id for n in run.nodes if n.state in _GAVE_A_VALUE and n.has_output]
        else:
            wanted = list(dict.fromkeys(nodes))
        pins: dict[str, object] = {}
        for node_id in wanted:
            record = by_id.get(node_id)
            if record is None:
                known = ", ".join(sorted(by_id)) or "none"
                raise PinError(
                    f"run {run.id} has no node {node_id!r} (its nodes: {known})", node_id
                )
            try:
                pins[node_id] = _value_of(store, run.id, record)
            except PinError:
                if nodes is not None:
                    raise
                # Not named: a node whose value was not kept is left to run.
        return pins
    finally:
        if store is not db:
            store.close()


def _value_of(store: RunStore, run_id: str, record: NodeRecord) -> object:
    node = record.node_id
    if record.state not in _GAVE_A_VALUE:
        raise PinError(
            f"node {node!r} of run {run_id} gave no value to pin (its state: {record.state})", node
        )
    if not record.has_output:
        raise PinError(
            f"the output of node {node!r} was not recorded in run {run_id} (recorded by a "
            "version of atomiton that kept no node outputs)",
            node,
        )
    return _restore(store, run_id, node, record.output)


def _restore(store: RunStore, run_id: str, node: str, value: object) -> object:
    """``value`` with its blob markers replaced by what they stand for."""
    if isinstance(value, list):
        return [_restore(store, run_id, node, item) for item in value]
    if not isinstance(value, dict):
        return value
    marker = value.get(MARKER)
    if marker is None:
        return {key: _restore(store, run_id, node, item) for key, item in value.items()}
    if marker == "blob":
        data = store.blob(str(value.get("sha256")))
        if data is None:
            raise PinError(f"the output of node {node!r} of run {run_id} lost its blob", node)
        if value.get("kind") == "bytes":
            return data
        return _restore(store, run_id, node, json.loads(data))
    reason = "over the size cap" if marker == "omitted" else "not data"
    shown = value.get("repr") or value.get("type", "")
    raise PinError(
        f"the output of node {node!r} of run {run_id} was not recorded ({reason}: {shown}); "
        "pin it with a value of your own",
        node,
    )
