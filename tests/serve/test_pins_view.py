"""A supplied node shows as such: the event stream says ``supplied`` only for supplied nodes,
and the live view folds it into the node's state (``pinned``, ``cached``, ``resumed``)."""

from __future__ import annotations

from atomiton.runtime import NodeCompleted, event_to_dict
from atomiton.serve.protocol import NodeStateItem
from atomiton.serve.view import fold_events, node_states


def _completed(node: str, supplied: str | None) -> NodeCompleted:
    return NodeCompleted(
        run_id="r",
        timestamp=2.0,
        node_id=node,
        node_type="code",
        index=0,
        duration=0.0,
        supplied=supplied,
    )


def test_supplied_rides_on_node_completed_only_when_supplied() -> None:
    assert event_to_dict(_completed("a", "pinned"))["supplied"] == "pinned"
    assert "supplied" not in event_to_dict(_completed("a", None))


def test_the_view_shows_supplied_nodes_in_their_own_state() -> None:
    events = [{"event": "execution.started", "timestamp": 1.0}]
    for node, supplied in (("fetch", "pinned"), ("sum", "cached"), ("old", "resumed")):
        events.append({"event": "node.started", "timestamp": 1.5, "node_id": node})
        events.append(event_to_dict(_completed(node, supplied)))
    events.append({"event": "node.started", "timestamp": 1.5, "node_id": "ran"})
    events.append(event_to_dict(_completed("ran", None)))
    fold = fold_events(events)
    states = node_states(fold, [("fetch", "code"), ("sum", "code"), ("old", "code")], {})
    assert [item.state for item in states] == ["pinned", "cached", "resumed", "done"]
    assert all(isinstance(item, NodeStateItem) for item in states)
