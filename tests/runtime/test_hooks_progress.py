"""``ProgressTracker``: weighted percent that only rises, told in whole-percent steps.

Its per-node step has a short way (no whole percent crossed) and a long one; these tests pin
what both must give, whatever the order nodes finish in.
"""

from __future__ import annotations

import random

import pytest

from atomiton.runtime import progress
from atomiton.runtime.progress import ProgressTracker


@pytest.fixture
def every_step(monkeypatch: pytest.MonkeyPatch) -> None:
    """No throttling: every whole-percent crossing is reported."""
    monkeypatch.setattr(progress, "REPORT_INTERVAL", 0.0)


@pytest.mark.usefixtures("every_step")
@pytest.mark.parametrize("size", [1, 7, 100, 1000])
def test_each_whole_percent_is_reported_once_rising_and_100_only_at_the_end(size: int) -> None:
    tracker = ProgressTracker([100] * size)
    reported = [p for i in range(size) if (p := tracker.finish_node(i)) is not None]
    assert reported == sorted(set(reported))
    assert all(0 < p < 100 for p in reported)
    # One report per whole percent crossed (a node can cross several at once).
    assert len({int(p) for p in reported}) == len(reported)
    if size >= 100:
        assert [int(p) for p in reported] == list(range(1, 100))
    assert tracker.finish() == 100.0 and tracker.finish() is None


@pytest.mark.usefixtures("every_step")
def test_weights_count_and_a_node_finishing_twice_counts_once() -> None:
    tracker = ProgressTracker([300, 0, 100])
    assert tracker.finish_node(0) == 75.0
    assert tracker.finish_node(0) is None  # a loop body's node finishes once per item
    assert tracker.finish_node(1) is None  # weighs nothing
    assert tracker.percent == 75.0
    assert tracker.finish_node(2) is None  # 100 is the run's to say
    assert tracker.finish() == 100.0


@pytest.mark.usefixtures("every_step")
def test_fractions_credit_a_running_node_below_its_weight() -> None:
    tracker = ProgressTracker([100, 100])
    assert tracker.node_fraction(0, 0.5) == 25.0
    assert tracker.node_fraction(0, 0.4) is None  # never lower
    assert tracker.node_fraction(0, 1.0) == pytest.approx(49.5)  # capped under the full weight
    assert tracker.finish_node(0) == 50.0
    assert tracker.finish_node(1) is None


def test_all_zero_weights_report_nothing_until_the_end() -> None:
    tracker = ProgressTracker([0, 0])
    assert tracker.finish_node(0) is None and tracker.finish_node(1) is None
    assert tracker.finish() == 100.0


@pytest.mark.usefixtures("every_step")
def test_any_finishing_order_rises_to_the_same_percent() -> None:
    weights = [random.Random(7).randint(0, 300) for _ in range(500)]
    order = list(range(500))
    random.Random(3).shuffle(order)
    tracker = ProgressTracker(weights)
    reported = [p for i in order if (p := tracker.finish_node(i)) is not None]
    assert reported == sorted(reported) and len(set(map(int, reported))) == len(reported)
    assert 99.0 <= reported[-1] < 100.0 and tracker.finish() == 100.0


def test_reports_are_throttled_in_time() -> None:
    tracker = ProgressTracker([100] * 1000)
    reported = [p for i in range(1000) if (p := tracker.finish_node(i)) is not None]
    # A tight loop takes far less than 99 * REPORT_INTERVAL: the first crossing is reported,
    # most later ones are not; the percent itself keeps up at each whole-percent crossing.
    assert 1 <= len(reported) < 99
    assert tracker.percent == pytest.approx(99.0)
