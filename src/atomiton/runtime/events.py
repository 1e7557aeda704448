"""Typed, frozen event objects that a run reports to its hooks, and their JSON form.

Every event carries when it happened (``timestamp``, seconds since the epoch) and which run it
belongs to (``run_id``, unique and sortable by start time), so one hook can watch many concurrent runs.
Building and delivering events is ``hooks.py``'s job; deciding when to emit is ``execution.py``'s.
The two events of every node have positional factories (``node_started_event``,
``node_completed_event``) that fill a draft and make it the frozen class, the cheapest way to
build a frozen dataclass in Python.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar, TypeAlias, TypeVar

if TYPE_CHECKING:
    from .trace import Trace


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Base of every event: ``kind`` names it in JSON (``node.started``)."""

    kind: ClassVar[str] = "event"

    run_id: str
    timestamp: float


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutionStarted(Event):
    """A run began."""

    kind: ClassVar[str] = "execution.started"

    blueprint_id: str
    name: str
    nodes: int
    concurrency: int
    timeout: float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutionProgress(Event):
    """Weighted progress rose; ``percent`` never decreases and is exactly 100.0 on success."""

    kind: ClassVar[str] = "execution.progress"

    blueprint_id: str
    percent: float


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutionCompleted(Event):
    """A run returned its outputs; ``trace`` is set when tracing was asked for."""

    kind: ClassVar[str] = "execution.completed"

    blueprint_id: str
    duration: float
    trace: Trace | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutionFailed(Event):
    """A run raised an error (a failed node, a flow timeout, several failures)."""

    kind: ClassVar[str] = "execution.failed"

    blueprint_id: str
    duration: float
    error: str
    error_type: str
    node_id: str | None = None
    trace: Trace | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutionCancelled(Event):
    """A run was cancelled (a token, ``Execution.cancel`` or a cancelled asyncio task)."""

    kind: ClassVar[str] = "execution.cancelled"

    blueprint_id: str
    duration: float
    reason: str
    trace: Trace | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeEvent(Event):
    """Base of the events about one node: its id, type and index in ``Blueprint.nodes``."""

    kind: ClassVar[str] = "node"

    node_id: str
    node_type: str
    index: int


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeStarted(NodeEvent):
    """A node began an attempt (``attempt`` counts from 1)."""

    kind: ClassVar[str] = "node.started"

    attempt: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeProgress(NodeEvent):
    """A running node reported progress through its context (``fraction`` in 0..1)."""

    kind: ClassVar[str] = "node.progress"

    fraction: float
    message: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeCompleted(NodeEvent):
    """A node finished; ``duration`` covers every attempt.

    ``value`` is what the node produced, set only when a hook of the run ``wants_values``
    (``hooks.py``); otherwise None, and the event costs what it did before it had the field.
    ``supplied`` says how the value was supplied instead of running the node: ``pinned``,
    ``cached`` or ``resumed`` (``supply.py``); None when the node ran.
    """

    kind: ClassVar[str] = "node.completed"

    duration: float
    attempts: int = 1
    value: object = None
    supplied: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeFailed(NodeEvent):
    """A node failed for good.

    ``timed_out`` says its last attempt hit the node timeout; ``handled`` says the node's
    ``on_error`` (continue, branch) let the run go on.
    """

    kind: ClassVar[str] = "node.failed"

    error: str
    error_type: str
    duration: float
    attempts: int = 1
    timed_out: bool = False
    handled: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeRetrying(NodeEvent):
    """A node's attempt failed and it will try again after ``delay`` seconds."""

    kind: ClassVar[str] = "node.retrying"

    attempt: int
    delay: float
    error: str
    timed_out: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeSkipped(NodeEvent):
    """A node did not run: disabled, or never started because the run failed or was cancelled."""

    kind: ClassVar[str] = "node.skipped"

    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Log(Event):
    """A message: from a node's context, or an error a hook raised (``level`` error)."""

    kind: ClassVar[str] = "log"

    message: str
    level: str = "info"
    node_id: str | None = None


EVENT_TYPES: tuple[type[Event], ...] = (
    ExecutionStarted,
    ExecutionProgress,
    ExecutionCompleted,
    ExecutionFailed,
    ExecutionCancelled,
    NodeStarted,
    NodeProgress,
    NodeCompleted,
    NodeFailed,
    NodeRetrying,
    NodeSkipped,
    Log,
)


E = TypeVar("E", bound=Event)


def _install_fast_init(cls: type[Event]) -> None:
    """Give a frozen event class an ``__init__`` that sets its slots through their descriptors.

    A frozen dataclass's own ``__init__`` goes through ``object.__setattr__`` once per field,
    which made building an event the larger part of a hooked node's cost. Setting the slot
    descriptors directly is about twice as fast; signature, defaults and immutability stay.
    """
    namespace: dict[str, object] = {}
    params, body = [], []
    for f in dataclasses.fields(cls):
        namespace[f"_set_{f.name}"] = getattr(cls, f.name).__set__
        if f.default is not dataclasses.MISSING:
            namespace[f"_default_{f.name}"] = f.default
            params.append(f"{f.name}=_default_{f.name}")
        else:
            params.append(f.name)
        body.append(f"    _set_{f.name}(self, {f.name})")
    source = f"def __init__(self, *, {', '.join(params)}):\n" + "\n".join(body or ["    pass"])
    exec(source, namespace)  # noqa: S102 - our own field names, from dataclasses.fields
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"  # type: ignore[attr-defined]
    setattr(cls, "__init__", init)


for _event_type in EVENT_TYPES:
    _install_fast_init(_event_type)


# The base classes' frozen ``__setattr__``/``__delattr__`` go: only the classes of events that
# are built (EVENT_TYPES) keep theirs, so those stay frozen, while a draft (below), whose bases
# are the same, takes plain attribute stores. ``Event`` and ``NodeEvent`` are abstract: the
# runtime never builds one.
for _base in (Event, NodeEvent):
    del _base.__setattr__, _base.__delattr__


def _positional_factory(cls: type[E], doc: str) -> Callable[..., E]:
    """A positional constructor of ``cls``: the events of every node.

    It fills a draft, a class with ``cls``'s base and slots but no frozen ``__setattr__``, with
    plain attribute stores, then makes it a ``cls`` (``__class__`` assignment, allowed between
    classes of the same layout). That is about twice as fast as setting each slot through its
    descriptor, which was the larger part of what a hook costs per node.
    """
    names = [f.name for f in dataclasses.fields(cls)]
    draft = type(
        f"{cls.__name__}Draft",
        cls.__bases__,
        {"__slots__": cls.__slots__, "__init__": object.__init__, "__module__": __name__},
    )
    namespace: dict[str, object] = {"_draft": draft, "_cls": cls}
    body = "".join(f"    event.{name} = {name}\n" for name in names)
    exec(
        f"def make({', '.join(names)}):\n    event = _draft()\n{body}"
        "    event.__class__ = _cls\n    return event\n",
        namespace,
    )  # noqa: S102 - our own field names, from dataclasses.fields
    make = namespace["make"]
    make.__doc__ = doc
    return make  # type: ignore[return-value]


# The generated functions themselves, not wrappers: a wrapper's call cost as much as three fields.
node_started_event: Callable[[str, float, str, str, int, int], NodeStarted] = _positional_factory(
    NodeStarted,
    "``NodeStarted(run_id, timestamp, node_id, node_type, index, attempt)``, positionally.",
)
_CompletedFactory: TypeAlias = Callable[
    [str, float, str, str, int, float, int, object, str | None], NodeCompleted
]
node_completed_event: _CompletedFactory = _positional_factory(
    NodeCompleted,
    "``NodeCompleted(run_id, timestamp, node_id, node_type, index, duration, attempts, value,"
    " supplied)`` (``value``: None unless a hook wants values).",
)


def event_to_dict(event: object) -> dict[str, object]:
    """The JSON-ready form of an event: ``{"event": kind, "timestamp": ..., <fields>}``.

    Values are plain JSON types; a trace becomes its own dict (``Trace.to_dict``). A node's
    ``value`` is left out: it is not JSON in general, and an event stream (``run --events``,
    the run history's, the server's) stays the same size with values asked for or not; the
    run history stores values by its own rules (``store/values.py``).

    Args:
        event: an ``Event``.

    Raises:
        TypeError: ``event`` is not an ``Event``.
    """
    if not isinstance(event, Event):
        raise TypeError(f"not an atomiton event: {event!r}")
    data: dict[str, object] = {"event": event.kind}
    for f in dataclasses.fields(event):
        value = getattr(event, f.name)
        if f.name == "trace":
            if value is None:
                continue
            value = value.to_dict()
        elif f.name == "value" or (f.name == "supplied" and value is None):
            continue  # ``supplied`` only for a supplied node: a stream of nodes that ran is as before
        data[f.name] = value
    return data
