"""The events of every node, built the fast way, are the same frozen events as ever.

``node_started_event``/``node_completed_event`` fill a draft and turn it into the event class
(``events.py``); these tests pin that what comes out cannot be told from an event built with
its keyword constructor: its exact type, equality, hash, repr, pickling, ``dataclasses``
helpers, JSON form, and immutability of every field.
"""

from __future__ import annotations

import dataclasses
import pickle
from typing import Any

import pytest
import rt_flows
from rt_flows import Recorder

from atomiton import runtime as rt
from atomiton.runtime.events import (
    EVENT_TYPES,
    event_to_dict,
    node_completed_event,
    node_started_event,
)

STARTED = {
    "run_id": "run-1",
    "timestamp": 12.5,
    "node_id": "n0",
    "node_type": "python",
    "index": 3,
    "attempt": 2,
}
COMPLETED = {
    "run_id": "run-1",
    "timestamp": 13.0,
    "node_id": "n0",
    "node_type": "python",
    "index": 3,
    "duration": 0.5,
    "attempts": 2,
    "value": (1, 2),
    "supplied": "cached",
}


def _pairs() -> list[tuple[rt.Event, rt.Event]]:
    return [
        (node_started_event(*STARTED.values()), rt.NodeStarted(**STARTED)),
        (node_completed_event(*COMPLETED.values()), rt.NodeCompleted(**COMPLETED)),
    ]


@pytest.mark.parametrize("fast, slow", _pairs())
def test_a_factory_built_event_is_the_keyword_built_one(fast: rt.Event, slow: rt.Event) -> None:
    assert type(fast) is type(slow)
    assert fast == slow and hash(fast) == hash(slow) and repr(fast) == repr(slow)
    assert dataclasses.asdict(fast) == dataclasses.asdict(slow)
    assert event_to_dict(fast) == event_to_dict(slow)
    copied = pickle.loads(pickle.dumps(fast))
    assert type(copied) is type(slow) and copied == slow
    changed = dataclasses.replace(fast, node_id="other")
    assert type(changed) is type(slow) and changed.node_id == "other" and fast.node_id == "n0"


@pytest.mark.parametrize("fast, slow", _pairs())
def test_a_factory_built_event_is_frozen(fast: rt.Event, slow: rt.Event) -> None:
    for field in dataclasses.fields(fast):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(fast, field.name, None)
        with pytest.raises(dataclasses.FrozenInstanceError):
            delattr(fast, field.name)
    assert fast == slow


def _example(cls: type[rt.Event]) -> rt.Event:
    values: dict[str, Any] = {}
    for field in dataclasses.fields(cls):
        if field.default is not dataclasses.MISSING:
            continue
        values[field.name] = {"run_id": "r", "timestamp": 1.0, "index": 0}.get(field.name, "x")
    return cls(**values)


@pytest.mark.parametrize("cls", EVENT_TYPES, ids=lambda cls: cls.kind)
def test_every_event_type_stays_frozen(cls: type[rt.Event]) -> None:
    event = _example(cls)
    for field in dataclasses.fields(cls):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(event, field.name, None)


def test_a_run_delivers_only_events_of_the_public_classes() -> None:
    rec = Recorder()
    rt_flows.run(hooks=rec, concurrency=2)
    assert rec.events
    assert {type(event) for event in rec.events} <= set(EVENT_TYPES)
    started = rec.of(rt.NodeStarted)
    assert started and all(type(e) is rt.NodeStarted and e.attempt == 1 for e in started)
    completed = rec.of(rt.NodeCompleted)
    assert len(completed) == len(started)
    with pytest.raises(dataclasses.FrozenInstanceError):
        completed[0].duration = 0.0  # type: ignore[misc]
