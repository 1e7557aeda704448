"""Hooks: how code outside a run watches it, and the fan-out that keeps a bad hook harmless.

A hook is any object with a keyword-only ``on_event(*, event)`` method (the ``Hooks`` protocol).
``BaseHooks`` turns that into one keyword-only method per event kind (``on_node_failed(*, event)``)
for those who prefer overriding; ``Subscriptions`` maps event types to plain callables. A run
wraps whatever it was given in a ``HookSet``: it calls every hook in order, and turns an exception
raised by a hook into a ``Log`` event at level ``error`` instead of failing the run.

A hook may declare the events it wants with an ``event_types`` attribute (event classes; a base
class such as ``NodeEvent`` stands for its subclasses); ``BaseHooks`` declares the kinds whose
``on_<kind>`` method a subclass overrides, ``Subscriptions`` the types it subscribed. A run builds
only the events some hook wants, and gives each hook only those it wants.

A hook that sets ``wants_trace = True`` makes the run record a trace, delivered on the final
execution event. A hook that sets ``wants_values = True`` makes each ``NodeCompleted`` carry the
node's value (its output, as the next nodes see it); without one no value is handed over at all.
Hooks are called from the run's threads (scheduler and workers), one event at a time per run, so
a hook shared by several concurrent runs must be thread-safe.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import ClassVar, Protocol, TypeAlias, TypeVar, runtime_checkable

from .events import (
    EVENT_TYPES,
    Event,
    ExecutionCancelled,
    ExecutionCompleted,
    ExecutionFailed,
    ExecutionProgress,
    ExecutionStarted,
    Log,
    NodeCompleted,
    NodeFailed,
    NodeProgress,
    NodeRetrying,
    NodeSkipped,
    NodeStarted,
)
from .runstate import describe

E = TypeVar("E", bound=Event)


@runtime_checkable
class Hooks(Protocol):
    """What a run calls with each of its events. Methods are keyword-only."""

    def on_event(self, *, event: Event) -> None:
        """Receive one event of the run."""


HooksArg: TypeAlias = "Hooks | Iterable[Hooks] | None"


class BaseHooks:
    """A hook that dispatches each event to a typed, keyword-only method per kind.

    Subclass and override only the methods you need; the rest do nothing, and their events are
    not even built (unless another hook of the run wants them). ``on_event`` is still the single
    entry point, so a subclass may also override it to see every event; setting ``event_types``
    declares the wanted types outright.
    """

    wants_trace: bool = False
    wants_values: bool = False
    event_types: ClassVar[tuple[type[Event], ...] | None] = None

    def on_event(self, *, event: Event) -> None:
        """Dispatch ``event`` to ``on_<kind>`` (``node.failed`` -> ``on_node_failed``)."""
        method = _METHODS.get(type(event))
        if method is not None:
            getattr(self, method)(event=event)

    def on_execution_started(self, *, event: ExecutionStarted) -> None:
        """A run began."""

    def on_execution_progress(self, *, event: ExecutionProgress) -> None:
        """Weighted progress rose."""

    def on_execution_completed(self, *, event: ExecutionCompleted) -> None:
        """A run finished with outputs."""

    def on_execution_failed(self, *, event: ExecutionFailed) -> None:
        """A run raised an error."""

    def on_execution_cancelled(self, *, event: ExecutionCancelled) -> None:
        """A run was cancelled."""

    def on_node_started(self, *, event: NodeStarted) -> None:
        """A node began an attempt."""

    def on_node_progress(self, *, event: NodeProgress) -> None:
        """A node reported progress."""

    def on_node_completed(self, *, event: NodeCompleted) -> None:
        """A node finished."""

    def on_node_failed(self, *, event: NodeFailed) -> None:
        """A node failed for good."""

    def on_node_retrying(self, *, event: NodeRetrying) -> None:
        """A node will try again."""

    def on_node_skipped(self, *, event: NodeSkipped) -> None:
        """A node did not run."""

    def on_log(self, *, event: Log) -> None:
        """A log message."""


_METHODS: dict[type[Event], str] = {cls: "on_" + cls.kind.replace(".", "_") for cls in EVENT_TYPES}
_ALL: frozenset[type[Event]] = frozenset(EVENT_TYPES)


def wanted_event_types(hook: object) -> frozenset[type[Event]]:
    """The event types ``hook`` declares it wants (all of them when it declares nothing).

    Raises:
        TypeError: ``event_types`` is not an iterable of ``Event`` subclasses.
    """
    declared = getattr(hook, "event_types", None)
    if declared is None:
        if isinstance(hook, BaseHooks) and _dispatches(hook):
            # The kinds whose on_<kind> method differs from BaseHooks' do-nothing default.
            return frozenset(
                cls
                for cls, name in _METHODS.items()
                if getattr(getattr(hook, name), "__func__", None) is not getattr(BaseHooks, name)
            )
        return _ALL
    if isinstance(declared, type):
        declared = (declared,)
    try:
        types = tuple(declared)
    except TypeError:
        raise TypeError(f"event_types must be event classes, got {declared!r}") from None
    for item in types:
        if not (isinstance(item, type) and issubclass(item, Event)):
            raise TypeError(f"event_types must be event classes, got {item!r}")
    return frozenset(cls for cls in EVENT_TYPES if issubclass(cls, types))


def _dispatches(hook: BaseHooks) -> bool:
    """Whether ``hook`` keeps BaseHooks' own ``on_event`` (so only on_<kind> methods matter)."""
    return getattr(getattr(hook, "on_event", None), "__func__", None) is BaseHooks.on_event


class Subscriptions:
    """A hook built from callables subscribed to event types (a type also matches subclasses).

    Example::

        hooks = Subscriptions().on(NodeFailed, report).on(ExecutionProgress, bar.update)

    A run reads the subscribed types when it starts: subscribe before passing it to a run.
    """

    def __init__(self, *, wants_trace: bool = False, wants_values: bool = False) -> None:
        self.wants_trace = wants_trace
        self.wants_values = wants_values
        self._handlers: list[tuple[type[Event], Callable[[Event], None]]] = []

    def on(self, event_type: type[E], handler: Callable[[E], None]) -> Subscriptions:
        """Call ``handler(event)`` for every event of ``event_type``; returns self for chaining."""
        self._handlers.append((event_type, handler))  # type: ignore[arg-type]
        return self

    @property
    def event_types(self) -> tuple[type[Event], ...]:
        """The subscribed types: a run builds no other event for this hook."""
        return tuple(event_type for event_type, _ in self._handlers)

    def on_event(self, *, event: Event) -> None:
        """Call each subscribed handler whose type matches ``event``."""
        for event_type, handler in self._handlers:
            if isinstance(event, event_type):
                handler(event)


class HookSet:
    """The hooks of one run: routes each event to the hooks that want it and isolates failures."""

    __slots__ = ("hooks", "wants_trace", "wants_values", "run_id", "_routes")

    def __init__(self, hooks: tuple[Hooks, ...], run_id: str) -> None:
        """Read each hook's declared ``event_types`` once, for the whole run.

        Raises:
            TypeError: a hook's ``event_types`` is not made of event classes.
        """
        self.hooks = hooks
        self.run_id = run_id
        self.wants_trace = any(getattr(h, "wants_trace", False) is True for h in hooks)
        self.wants_values = any(getattr(h, "wants_values", False) is True for h in hooks)
        wanted = [wanted_event_types(hook) for hook in hooks]
        # Per event type, the hooks to call in order: ``emit`` is one dict lookup per event.
        self._routes: dict[type[Event], tuple[Hooks, ...]]
        if len(hooks) == 1:
            # One hook, the common case, made without a loop per type (a run makes its HookSet).
            types = wanted[0]
            self._routes = {cls: hooks if cls in types else () for cls in EVENT_TYPES}
        else:
            self._routes = {
                cls: tuple(hook for hook, types in zip(hooks, wanted) if cls in types)
                for cls in EVENT_TYPES
            }

    def route(self, event_type: type[Event]) -> tuple[Hooks, ...]:
        """The hooks that want ``event_type``, in order (``emit`` delivers to exactly these).

        A type outside ``EVENT_TYPES`` (an event class of one's own) goes to every hook, as before
        hooks could declare anything.
        """
        return self._routes.get(event_type, self.hooks)

    def wants(self, event_type: type[Event]) -> bool:
        """Whether any hook wants events of ``event_type`` (else the run need not build them)."""
        return bool(self._routes.get(event_type, self.hooks))

    @classmethod
    def build(cls, hooks: HooksArg, run_id: str) -> HookSet | None:
        """Normalise a ``hooks=`` argument; None when nothing would listen.

        Raises:
            TypeError: an item has no ``on_event`` method.
        """
        if hooks is None:
            return None
        items: tuple[object, ...] = (hooks,) if hasattr(hooks, "on_event") else tuple(hooks)
        for item in items:
            if not callable(getattr(item, "on_event", None)):
                raise TypeError(f"hooks must have an on_event(*, event) method, got {item!r}")
        if not items:
            return None
        return cls(items, run_id)  # type: ignore[arg-type]

    def emit(self, event: Event) -> None:
        """Deliver ``event`` to the hooks that want it; one that raises is reported as a ``Log``."""
        for hook in self._routes.get(type(event), self.hooks):
            try:
                hook.on_event(event=event)
            except Exception as exc:  # a hook must never fail the run
                self.report(hook, event, exc)

    def report(self, failed: Hooks, event: Event, exc: Exception) -> None:
        """Tell the hooks that want logs that ``failed`` raised ``exc`` on ``event``."""
        listeners = self._routes[Log]
        if not listeners:
            return
        log = Log(
            run_id=self.run_id,
            timestamp=time.time(),
            message=f"hook {type(failed).__name__} raised on {event.kind}: {describe(exc)}",
            level="error",
            node_id=getattr(event, "node_id", None),
        )
        for hook in listeners:
            try:
                hook.on_event(event=log)
            except Exception:  # noqa: S110 - reporting a report's failure could loop forever
                pass
