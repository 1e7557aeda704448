"""Typed user functions that the type corpus's ``python`` nodes call."""

from __future__ import annotations


def split_words(text: str) -> list[str]:
    """Split ``text`` on whitespace."""
    return text.split()


def double(value: int) -> int:
    """Twice ``value``."""
    return value * 2


def shout(text: str) -> str:
    """``text`` in capitals."""
    return text.upper()
