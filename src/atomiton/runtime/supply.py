"""Supplying a node's value instead of running it (contract B of issue 14; the "pins" branch
owns this module: this copy holds only the shapes the cache plugs into, until that merge)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from .model import NodeInfo

SuppliedHow = Literal["pinned", "cached", "resumed"]


@dataclass(frozen=True, slots=True)
class Supplied:
    """A node's value given instead of running it, and how it was given."""

    value: object
    kind: SuppliedHow


class Supplier(Protocol):
    """Something that may give a node's value instead of running the node."""

    def supply(
        self, node: NodeInfo, index: int, key_values: tuple[object, ...]
    ) -> Supplied | None: ...

    def completed(self, node: NodeInfo, index: int, value: object) -> None: ...
