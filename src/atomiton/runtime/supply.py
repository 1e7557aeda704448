"""Supplying a node's value instead of running it: pins, injected failures, and the seam a cache
or a resumed run plugs into.

This module owns the ``Supplier`` protocol (asked before a node runs, told after a node ran),
``Supplied`` (a value and how it was supplied), ``Supply`` (a run's ordered suppliers and which
node calls of each thread were supplied) and the two suppliers of the Python API: ``Pinned``
(``run(pins=...)``: a node's value is given, validated against its output type before the run
starts) and ``Failing`` (``run(fail=...)``: a node fails as if it had). Generated code asks
``Execution.serve`` (``execution.py``), which asks the run's ``Supply``; building the suppliers
from ``run()``'s arguments is ``runner.py``'s; a cache and resuming a run are ``cache.py``'s.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

from ..errors import AtomitonError
from .model import Blueprint, NodeInfo

if TYPE_CHECKING:
    from .execution import Execution

SuppliedKind = Literal["pinned", "cached", "resumed"]


class PinError(AtomitonError, ValueError):
    """A pin or an injected failure does not fit the flow: an unknown node, or a value of the
    wrong type. Raised before the run starts; ``node_id`` names the node ("" when several)."""

    def __init__(self, message: str, node_id: str = "") -> None:
        self.node_id = node_id
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class Supplied:
    """A node's value, supplied instead of running the node, and how (``pinned``, ``cached``,
    ``resumed``): the ``node.completed`` event and the run store say it."""

    value: object
    kind: SuppliedKind


class Supplier(Protocol):
    """Something that may give a node's value instead of running it.

    ``supply`` is asked before each call of a node (each loop item's call of a body node):
    a ``Supplied``, or None to let the node run; raising makes the node fail with that error,
    through its retries and ``onError`` like a real failure (each attempt asks again).
    ``key_values`` are the values the node's call depends on, in an order the compiler fixed.
    ``completed`` is told the value of each node call that ran (not of supplied ones), on the
    thread that asked ``supply`` for it: per-call state is kept per thread. ``bind`` is called
    once, before any node runs, with the run's ``Execution`` (its id, warnings, resources).
    """

    def bind(self, ex: Execution) -> None: ...

    def supply(
        self, node: NodeInfo, index: int, key_values: tuple[object, ...]
    ) -> Supplied | None: ...

    def completed(self, node: NodeInfo, index: int, value: object) -> None: ...


class Supply:
    """A run's suppliers, asked in order, and which node calls of this thread were supplied."""

    __slots__ = ("suppliers", "_local")

    def __init__(self, suppliers: Sequence[Supplier]) -> None:
        self.suppliers = tuple(suppliers)
        self._local = threading.local()

    def ask(self, node: NodeInfo, index: int, key_values: tuple[object, ...]) -> Supplied | None:
        """The first supplier's answer for this call of node ``index`` (None: run it)."""
        for supplier in self.suppliers:
            supplied = supplier.supply(node, index, key_values)
            if supplied is not None:
                return supplied
        return None

    def mark(self, index: int, kind: SuppliedKind) -> None:
        """This thread's call of node ``index`` was supplied (``take`` reads it at completion)."""
        marks = self._marks()
        marks[index] = kind

    def take(self, index: int) -> SuppliedKind | None:
        """How this thread's call of node ``index`` was supplied (None: it ran); forgets it."""
        return self._marks().pop(index, None)

    def completed(self, node: NodeInfo, index: int, value: object) -> None:
        """Tell every supplier that a call of node ``index`` ran and gave ``value``."""
        for supplier in self.suppliers:
            supplier.completed(node, index, value)

    def _marks(self) -> dict[int, SuppliedKind]:
        marks: dict[int, SuppliedKind] | None = getattr(self._local, "marks", None)
        if marks is None:
            marks = self._local.marks = {}
        return marks


def _node_indexes(blueprint: Blueprint, given: Mapping[str, object], what: str) -> dict[str, int]:
    """The index of each node id in ``given``; unknown or disabled ids are a ``PinError``."""
    indexes = {info.id: i for i, info in enumerate(blueprint.nodes) if info.enabled}
    unknown = sorted(str(key) for key in given if key not in indexes)
    if unknown:
        known = ", ".join(sorted(indexes)) or "none"
        raise PinError(
            f"{what} name no node of flow {blueprint.id!r}: {', '.join(unknown)} "
            f"(its nodes: {known})",
            unknown[0] if len(unknown) == 1 else "",
        )
    return {str(key): indexes[str(key)] for key in given}


class Pinned:
    """``run(pins=...)``: each pinned node's value is the given one, for every call of it
    (every loop item of a pinned body node). Values are validated by ``validate_pins``."""

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[int, Supplied]) -> None:
        self._values = dict(values)

    @classmethod
    def build(
        cls, blueprint: Blueprint, pins: Mapping[str, object], types: object = None
    ) -> Pinned:
        """Pins by node id, checked against ``blueprint`` and converted by the module's
        ``Pins`` TypedDict (``types``; None: taken as they are).

        Raises:
            PinError: an unknown node id, or a value that does not fit the node's output type.
        """
        indexes = _node_indexes(blueprint, pins, "pins")
        values = validate_pins(pins, types) if types is not None else dict(pins)
        return cls({indexes[node]: Supplied(value, "pinned") for node, value in values.items()})

    def supply(self, node: NodeInfo, index: int, key_values: tuple[object, ...]) -> Supplied | None:
        return self._values.get(index)

    def bind(self, ex: Execution) -> None:
        pass

    def completed(self, node: NodeInfo, index: int, value: object) -> None:
        pass


def validate_pins(pins: Mapping[str, object], types: object) -> dict[str, object]:
    """``pins`` validated and converted by ``types`` (a module's ``Pins`` TypedDict), each value
    by its node's output type.

    Raises:
        PinError: a value does not fit its node's output type; the message names the node.
    """
    from pydantic import TypeAdapter, ValidationError

    annotations: Mapping[str, object] = getattr(types, "__annotations__", {})
    values: dict[str, object] = {}
    for node, value in pins.items():
        annotation = annotations.get(node)
        if annotation is None:
            values[node] = value
            continue
        try:
            values[node] = TypeAdapter(annotation).validate_python(value)  # type: ignore[arg-type]
        except ValidationError as exc:
            problems = exc.errors()
            first = problems[0]
            where = ".".join(str(part) for part in first["loc"])
            more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
            raise PinError(
                f"the pin of node {node!r} does not fit its output type: {first['msg']}"
                f"{f' at {where}' if where else ''} (got {first.get('input')!r}){more}",
                node,
            ) from None
    return values


class Failing:
    """``run(fail=...)``: each named node fails with the given exception, at every call and
    every attempt, so its retries and ``onError`` run as after a real failure."""

    __slots__ = ("_errors",)

    def __init__(self, errors: Mapping[int, BaseException]) -> None:
        self._errors = dict(errors)

    @classmethod
    def build(cls, blueprint: Blueprint, fail: Mapping[str, object]) -> Failing:
        """Failures by node id (an exception, or an exception class made with no arguments).

        Raises:
            PinError: an unknown node id, or a value that is not an exception.
        """
        indexes = _node_indexes(blueprint, fail, "fail")
        errors: dict[int, BaseException] = {}
        for node, error in fail.items():
            if isinstance(error, type) and issubclass(error, BaseException):
                error = error()
            if not isinstance(error, BaseException):
                raise PinError(
                    f"fail of node {node!r} must be an exception, got {type(error).__name__}",
                    str(node),
                )
            errors[indexes[str(node)]] = error
        return cls(errors)

    def supply(self, node: NodeInfo, index: int, key_values: tuple[object, ...]) -> Supplied | None:
        error = self._errors.get(index)
        if error is None:
            return None
        # A copy per call: one instance raised by several attempts or threads would chain
        # their tracebacks into each other.
        try:
            fresh = copy.copy(error)
        except Exception:  # an exception that cannot be copied is raised as it is
            fresh = error
        raise fresh

    def bind(self, ex: Execution) -> None:
        pass

    def completed(self, node: NodeInfo, index: int, value: object) -> None:
        pass


def suppliers_for(
    blueprint: Blueprint,
    pins: Mapping[str, object] | None,
    fail: Mapping[str, object] | None,
    pin_types: object = None,
) -> list[Supplier]:
    """The suppliers of ``run(pins=..., fail=...)``, failures first.

    Raises:
        PinError: see ``Pinned.build`` and ``Failing.build``.
    """
    suppliers: list[Supplier] = []
    if fail:
        suppliers.append(Failing.build(blueprint, fail))
    if pins:
        suppliers.append(Pinned.build(blueprint, pins, pin_types))
    return suppliers
