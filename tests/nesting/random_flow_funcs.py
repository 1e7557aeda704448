"""The typed function the random flows' ``python`` nodes call (their multi-input nodes)."""

from __future__ import annotations


def total(values: list[float]) -> float:
    """The sum of ``values``."""
    return sum(values)
