"""Weighted progress of one run (NODES.md section 4): a number that only rises and ends at 100.

Each node counts for its ``NodeInfo.weight``. A finished node (completed, failed and handled,
or skipped) counts fully; a running node that reports progress through its context counts for
its reported fraction. ``execution.py`` decides when to ask and emits the events.
"""

from __future__ import annotations

from collections.abc import Sequence
from time import perf_counter
from typing import Final

# Least time between two progress reports of one run (the final 100 is always reported).
REPORT_INTERVAL: Final = 0.02


class ProgressTracker:
    """Weighted progress in percent; not thread-safe (the execution holds its lock)."""

    __slots__ = ("_weights", "_total", "_done", "_credit", "percent", "_reported_at", "_next")

    def __init__(self, weights: Sequence[int]) -> None:
        """``weights``: each node's weight, never negative (``Blueprint.weights``)."""
        self._weights = weights
        self._total = sum(weights)
        self._done = 0.0
        self._credit = [0.0] * len(weights)
        self.percent = 0.0
        self._reported_at = -REPORT_INTERVAL
        self._next = 0.0
        self._aim()

    def finish_node(self, i: int) -> float | None:
        """Node ``i`` finished: count all of its weight.

        Returns:
            The new percent when it rose, else None (a node finishing twice counts once).
        """
        # The common case written out (this runs once per node of an observed run): no whole
        # percent crossed, so nothing to report; ``percent`` catches up at the next crossing.
        credit = self._weights[i]
        previous = self._credit[i]
        if credit <= previous:  # counted already (or weighs nothing, as when all weigh 0)
            return None
        done = self._done + credit - previous
        if done < self._next:
            self._done = done
            self._credit[i] = credit
            return None
        return self._credit_node(i, float(credit))

    def node_fraction(self, i: int, fraction: float) -> float | None:
        """Node ``i`` reported ``fraction`` (0..1) of its work done; returns the percent if it rose.

        A running node is capped just under its full weight so that only finishing completes it.
        """
        fraction = min(max(fraction, 0.0), 0.99)
        return self._credit_node(i, self._weights[i] * fraction)

    def finish(self) -> float | None:
        """The run succeeded: progress is exactly 100.0; returns it unless it already was."""
        if self.percent == 100.0:
            return None
        self.percent = 100.0
        self._aim()
        return 100.0

    def _credit_node(self, i: int, credit: float) -> float | None:
        previous = self._credit[i]
        if credit <= previous:
            return None
        done = self._done = self._done + credit - previous
        self._credit[i] = credit
        total = self._total
        if total == 0:
            return None
        # 100 is said only by ``finish``, once the run itself succeeded (the outputs may still
        # fail to build); never lower than before (rounding of a sum of fractions could wobble).
        percent = 100.0 * done / total
        before = self.percent
        if percent >= 100.0 or percent <= before:
            return None
        self.percent = percent
        whole = int(percent)
        self._next = (whole + 1) * total / 100  # ``_aim``, written out: this runs once a percent
        # Report in whole-percent steps, at most every REPORT_INTERVAL seconds: a progress event
        # costs every hook a call, and a display cannot show more (a 100-node flow of quick
        # nodes would otherwise say one per node).
        if whole == int(before):
            return None
        now = perf_counter()
        if now - self._reported_at < REPORT_INTERVAL:
            return None
        self._reported_at = now
        return percent

    def _aim(self) -> None:
        """Set the done weight at which the next whole percent is crossed (or 100 reached)."""
        self._next = (
            float("inf") if self.percent >= 100.0 else (int(self.percent) + 1) * self._total / 100
        )
