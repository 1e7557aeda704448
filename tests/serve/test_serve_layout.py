"""The server-side layout and the reading of a run's events: unit tests on plain data."""

from __future__ import annotations

import random
import re
from pathlib import Path

from atomiton.serve.layout import NODE_HEIGHT, NODE_WIDTH, group_of, lay_out
from atomiton.serve.page import render_page
from atomiton.serve.protocol import render_markdown
from atomiton.serve.view import build_view, critical_path, fold_events

ROOT = Path(__file__).resolve().parents[2]


def test_two_hundred_nodes_do_not_overlap_and_every_edge_points_right() -> None:
    rng = random.Random(7)
    ids = [f"g{i // 10}.n{i}" if i % 3 else f"n{i}" for i in range(200)]
    edges = [(ids[rng.randrange(i)], ids[i]) for i in range(1, 200) for _ in range(2)]
    layout = lay_out(ids, edges)
    at = {p.id: p for p in layout.nodes}
    assert [p.id for p in layout.nodes] == ids
    for source, target in edges:
        assert at[source].x + NODE_WIDTH < at[target].x
    boxes = sorted((p.x, p.y) for p in layout.nodes)
    assert len(set(boxes)) == 200
    for p in layout.nodes:
        assert 0 <= p.x and p.x + NODE_WIDTH <= layout.width
        assert 0 <= p.y and p.y + NODE_HEIGHT <= layout.height
    # One box per sub-blueprint, around all of its nodes.
    groups = {g.id: g for g in layout.groups}
    assert set(groups) == {group_of(i) for i in ids if group_of(i)}
    for p in layout.nodes:
        if p.group:
            box = groups[p.group]
            assert box.x <= p.x and p.x + NODE_WIDTH <= box.x + box.width


def test_members_of_a_sub_blueprint_stay_together_in_a_layer() -> None:
    ids = ["src", "a.one", "b.one", "a.two", "b.two", "end"]
    edges = [("src", n) for n in ids[1:5]] + [(n, "end") for n in ids[1:5]]
    column = sorted((p for p in lay_out(ids, edges).nodes if p.layer == 1), key=lambda p: p.y)
    groups = [p.group for p in column]
    assert groups in (["a", "a", "b", "b"], ["b", "b", "a", "a"])


def test_a_cycle_cannot_hang_the_layout() -> None:
    layout = lay_out(["a", "b"], [("a", "b"), ("b", "a")])
    assert len(layout.nodes) == 2


def _event(kind: str, t: float, **fields: object) -> dict[str, object]:
    return {"event": kind, "timestamp": t, "run_id": "r", **fields}


EVENTS = [
    _event("execution.started", 100.0),
    _event("node.started", 100.0, node_id="a", node_type="code", attempt=1),
    _event("node.completed", 101.0, node_id="a", node_type="code", duration=1.0),
    _event("node.started", 101.0, node_id="b", node_type="code", attempt=1),
    _event("node.started", 101.0, node_id="c", node_type="code", attempt=1),
    _event("node.retrying", 101.5, node_id="c", node_type="code", attempt=1, delay=0.1, error="x"),
    _event("node.completed", 101.2, node_id="b", node_type="code", duration=0.2),
    _event("node.started", 101.6, node_id="c", node_type="code", attempt=2),
    _event(
        "node.failed",
        103.0,
        node_id="c",
        node_type="code",
        error="boom",
        error_type="E",
        duration=2.0,
        attempts=2,
    ),
    _event("node.skipped", 103.0, node_id="d", node_type="code", reason="run failed"),
    _event("execution.failed", 103.1, error="boom", error_type="E", duration=3.1),
]


def test_retries_show_as_bars_and_the_critical_path_follows_the_latest_upstream() -> None:
    fold = fold_events(EVENTS)
    states = {n.id: n.state for n in fold.nodes.values()}
    assert states == {"a": "done", "b": "done", "c": "failed", "d": "skipped"}
    bars = [(b.node, b.attempt, b.outcome) for b in fold.bars]
    assert ("c", 1, "retried") in bars and ("c", 2, "failed") in bars
    c_bars = [b for b in fold.bars if b.node == "c"]
    assert c_bars[0].start == 1.0 and c_bars[0].end == 1.5
    assert critical_path(fold, [("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")]) == ["a", "c"]
    view = build_view(None, EVENTS, None, title="t")
    # Without the graph there are no edges: the path is the node that ended last.
    assert [f.node for f in view.failures] == ["c"] and view.criticalPath == ["c"]


def test_the_page_inlines_its_assets_and_escapes_embedded_data() -> None:
    view = build_view(None, EVENTS, None, title="</script><script>alert(1)</script>{{JS}}")
    page = render_page(view)
    # Nothing loaded from elsewhere (the SVG namespace URI is a name, never fetched).
    assert not re.findall(r"\b(?:src|href)\s*=|<link|https://|url\(", page)
    assert page.count("</script>") == 2  # the data block and the script, nothing injected
    assert "{{JS}}" in page.split('id="atomiton-data">')[1].split("</script>")[0]


def test_docs_protocol_md_is_generated_from_the_models() -> None:
    written = (ROOT / "docs" / "protocol.md").read_text(encoding="utf-8")
    assert (
        written == render_markdown()
    ), "docs/protocol.md is stale: run `python -m atomiton.serve.protocol`"
