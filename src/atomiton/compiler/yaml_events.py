"""Build a YAML document's plain data from the parser's events, within the compiler's limits.

The events are built into plain dicts, lists and scalars by an explicit stack (no recursion),
each value's position recorded in a ``SourceMap`` under its path (``("nodes", 2, "type")``).
Building from events rather than from PyYAML's composed nodes is what lets every hostile input
end as a positioned diagnostic: the nesting depth is counted as it grows, an alias is seen where
it is written (so a recursive one is caught, and the values aliases copy are counted against
``Limits.max_alias_values`` before they are copied), and merge keys (``<<``) are applied once per
key rather than once per path through the aliases. Duplicate keys, which YAML would silently
collapse, become diagnostics here, as do scalars Python cannot convert (an integer past
``sys.get_int_max_str_digits()``, a date like ``2024-13-45``). Reading and decoding the file,
the ``SourceMap`` itself and the parser's own errors are ``source``'s.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn

import yaml

from .. import codes
from ..codes import ErrorCode
from ..diagnostics import DiagnosticSink, Span
from .options import Limits

if TYPE_CHECKING:  # source imports this module to build with it
    from .source import Path_, SourceMap

_STR_TAG = "tag:yaml.org,2002:str"
_INT_TAG = "tag:yaml.org,2002:int"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_VALUE_TAG = "tag:yaml.org,2002:value"

_Position = tuple[int, int]
# Plain decimal integers, which Python's int() reads exactly as YAML 1.1 does (a leading 0
# means octal there, so it is left to PyYAML).
_DECIMAL = re.compile(r"[-+]?(?:0|[1-9][0-9]*)\Z")
_NOTHING = object()
# Scalars up to this length have their tag and value remembered, up to this many entries.
_MEMO_LENGTH = 32
_MEMO_ENTRIES = 50_000


class StopReading(Exception):
    """A limit was hit: the diagnostic is recorded, nothing more of the file is read."""


@dataclass(slots=True)
class _Built:
    """A finished value: where it was built (its positions are recorded under that path),
    how many values it holds and how deeply they nest."""

    value: Any
    path: Path_
    size: int  # values in it, itself included
    height: int  # collections nested in it, itself included: 0 for a scalar
    position: _Position
    # The mappings a sequence written as a merge key's value holds (``<<: [*a, *b]``).
    merge_sources: list[_Built] | None = None


@dataclass(slots=True)
class _Frame:
    """A mapping or sequence being built."""

    is_map: bool
    path: Path_
    value: Any
    record: bool
    anchor: str | None
    position: _Position
    size: int = 1
    height: int = 1
    # A collection written as a mapping key: built, then turned into text.
    as_key: bool = False
    # Mapping state: the key waiting for its value, and whether it is a duplicate or ``<<``.
    key: Any = None
    key_position: _Position = (0, 0)
    key_pending: bool = False
    key_kind: str = ""  # "" written once so far, "dup" written before, "merge" a merge key
    written: set[Any] = field(default_factory=set)
    merges: list[tuple[list[_Built], _Position]] = field(default_factory=list)
    # A sequence that is a merge key's value: the mappings it names.
    merge_list: list[_Built] | None = None


class EventBuilder:
    """Turns the parser's events for one document into plain data, positions and diagnostics.

    An alias copies its anchor's value and the positions recorded under the anchor's path, so
    that every path of the result has its own object and its own position. Positions go into
    the ``SourceMap`` it is given, whose ``path`` is the name diagnostics show.
    """

    def __init__(
        self, loader: yaml.SafeLoader, positions: SourceMap, limits: Limits, sink: DiagnosticSink
    ) -> None:
        self.loader = loader
        self.display = positions.path
        self.limits = limits
        self.sink = sink
        self.positions = positions
        self.anchors: dict[str, _Built | None] = {}  # None: the anchored value is still open
        self.values = 0
        self.copied = 0
        self.failed = False
        self.stack: list[_Frame] = []
        self.result: Any = None
        self.done = False
        self.tags: dict[str, str] = {}
        self.constructed: dict[tuple[str, str], Any] = {}
        self.first_characters = frozenset(loader.yaml_implicit_resolvers)

    # -- driving ------------------------------------------------------------------------------

    def document(self) -> Any:
        """Build the stream's single document (None for an empty stream)."""
        loader = self.loader
        loader.get_event()  # stream start
        if loader.check_event(yaml.StreamEndEvent):
            return None
        loader.get_event()  # document start
        get_event, scalar, close = loader.get_event, self._scalar, self._close
        # The event types by identity, the common ones first: a blueprint's events are mostly
        # scalars and the ends of collections (the rest go through ``_event``).
        scalar_event, ends = yaml.ScalarEvent, (yaml.MappingEndEvent, yaml.SequenceEndEvent)
        while not self.done:
            event = get_event()
            kind = type(event)
            if kind is scalar_event:
                mark = event.start_mark
                scalar(event, (mark.line + 1, mark.column + 1))
            elif kind in ends:
                close()
            else:
                self._event(event)
        loader.get_event()  # document end
        if not loader.check_event(yaml.StreamEndEvent):
            event = loader.get_event()
            raise yaml.composer.ComposerError(
                "expected a single document in the stream",
                None,
                "but found another document",
                event.start_mark,
            )
        return self.result

    def _event(self, event: yaml.Event) -> None:
        mark = event.start_mark
        position = (mark.line + 1, mark.column + 1)
        if isinstance(event, yaml.ScalarEvent):
            self._scalar(event, position)
        elif isinstance(event, yaml.AliasEvent):
            self._alias(event, position)
        elif isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            self._open(event, position)
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            self._close()

    def _error(self, code: ErrorCode, position: _Position, **fields: Any) -> None:
        self.sink.error(code, Span(self.display, *position), **fields)
        self.failed = True

    # -- the place of the next value ----------------------------------------------------------

    def _expecting_key(self) -> bool:
        return bool(self.stack) and self.stack[-1].is_map and not self.stack[-1].key_pending

    def _in_merge(self) -> bool:
        """Whether the next value is what a merge key merges (or an item of that list)."""
        if not self.stack:
            return False
        parent = self.stack[-1]
        if parent.is_map:
            return parent.key_pending and parent.key_kind == "merge"
        return parent.merge_list is not None

    def _next_path(self) -> tuple[Path_, bool]:
        """The path of the next value, and whether its positions are recorded."""
        if not self.stack:
            return (), True
        parent = self.stack[-1]
        if parent.is_map:
            if not parent.key_pending:
                return parent.path, False  # a key: its position is recorded with its value
            return (*parent.path, parent.key), parent.record and parent.key_kind != "dup"
        return (*parent.path, len(parent.value)), parent.record

    # -- events -------------------------------------------------------------------------------

    def _scalar(self, event: yaml.ScalarEvent, position: _Position) -> None:
        tag = event.tag
        if tag is None or tag == "!":
            text = event.value
            # A quoted scalar, or a word no implicit resolver claims: text (most of them).
            if not event.implicit[0] or (text and text[0] not in self.first_characters):
                tag = _STR_TAG
            else:
                tag = self._resolve(event)
        parent = self.stack[-1] if self.stack else None
        if parent is not None and parent.is_map and not parent.key_pending:
            if tag == _MERGE_TAG:
                parent.key, parent.key_position = "<<", position
                parent.key_pending, parent.key_kind = True, "merge"
                return
            key = event.value if tag == _STR_TAG else self._construct(event, tag, position)
            self._take_key(parent, key, position)
            return
        self.values += 1
        if self.values > self.limits.max_values:
            self._count(0, position)
        if (
            parent is not None
            and event.anchor is None
            and parent.merge_list is None
            and parent.key_kind != "merge"
        ):
            # The common case, kept short: a plain value into its list or under its key.
            value = event.value if tag == _STR_TAG else self._construct(event, tag, position)
            parent.size += 1
            if not parent.is_map:
                if parent.record:
                    self.positions.values[(*parent.path, len(parent.value))] = position
                parent.value.append(value)
                return
            parent.key_pending = False
            if parent.key_kind == "":
                path = (*parent.path, parent.key)
                parent.value[parent.key] = value
                parent.written.add(parent.key)
                if parent.record:
                    self.positions.values[path] = position
                    self.positions.keys[path] = parent.key_position
            return
        path, record = self._next_path()
        if record:
            self.positions.values[path] = position
        built = _Built(self._construct(event, tag, position), path, 1, 0, position)
        if event.anchor is not None:
            self.anchors[event.anchor] = built
        self._deliver(built)

    def _resolve(self, event: yaml.ScalarEvent) -> str:
        """The implicit tag of a scalar, as PyYAML's resolver gives it, with shortcuts: most
        scalars of a blueprint are words no resolver claims, and the rest repeat."""
        value = event.value
        if not event.implicit[0]:
            return _STR_TAG  # quoted
        if value and value[0] not in self.first_characters:
            return _STR_TAG
        if len(value) > _MEMO_LENGTH:
            return str(self.loader.resolve(yaml.ScalarNode, value, event.implicit))
        tag = self.tags.get(value)
        if tag is None:
            tag = str(self.loader.resolve(yaml.ScalarNode, value, event.implicit))
            if len(self.tags) < _MEMO_ENTRIES:
                self.tags[value] = tag
        return tag

    def _construct(self, event: yaml.ScalarEvent, tag: str, position: _Position) -> Any:
        if tag in (_STR_TAG, _MERGE_TAG, _VALUE_TAG):
            return event.value
        text = event.value
        memo_key = (tag, text)
        found = self.constructed.get(memo_key, _NOTHING)
        if found is not _NOTHING:
            return found  # scalars YAML constructs are immutable: sharing them is safe
        try:
            if tag == _INT_TAG and _DECIMAL.match(text):
                value: Any = int(text)
            else:
                node = yaml.ScalarNode(tag, text, event.start_mark, event.end_mark, event.style)
                value = self.loader.construct_object(node, deep=True)
                self.loader.constructed_objects.pop(node, None)
        except yaml.MarkedYAMLError:
            raise  # an unknown tag: reported as invalid YAML, at its mark
        except Exception as exc:  # int() past the digit limit, a date like 2024-13-45, ...
            shown = (
                repr(text) if len(text) <= 40 else f"{text[:20]!r}... ({len(text):,} characters)"
            )
            kind = tag.rsplit(":", 1)[-1] if tag.startswith("tag:yaml.org,2002:") else tag
            reason = str(exc).split(";")[0]
            hint = "quote it to keep it as text"
            if kind == "int" and "digits" in reason:
                hint = "Python reads integers of at most a few thousand digits; " + hint
            self._error(
                codes.UNREADABLE_VALUE, position, value=shown, kind=kind, reason=reason, hint=hint
            )
            return None
        if len(text) <= _MEMO_LENGTH and len(self.constructed) < _MEMO_ENTRIES:
            self.constructed[memo_key] = value
        return value

    def _alias(self, event: yaml.AliasEvent, position: _Position) -> None:
        name = event.anchor
        if name not in self.anchors:
            raise yaml.composer.ComposerError(
                None, None, f"found undefined alias {name!r}", event.start_mark
            )
        target = self.anchors[name]
        if target is None:
            self._error(
                codes.RECURSIVE_ALIAS,
                position,
                name=name,
                hint="an alias can only repeat a value that is complete where the alias is written",
            )
            target = _Built(None, (), 1, 0, position)
        if self._expecting_key():
            key = self._copy(target, (), False, position).value
            self._take_key(self.stack[-1], key, position)
            return
        if self._in_merge():
            self._deliver(target)
            return
        path, record = self._next_path()
        self._deliver(self._copy(target, path, record, position))

    def _open(
        self, event: yaml.MappingStartEvent | yaml.SequenceStartEvent, position: _Position
    ) -> None:
        stack = self.stack
        if len(stack) >= self.limits.max_depth:
            self._too_deep(position)
        is_map = isinstance(event, yaml.MappingStartEvent)
        parent = stack[-1] if stack else None
        if parent is not None and parent.key_kind == "" and parent.merge_list is None:
            # The common case, kept short: a collection as a value (under a key written once
            # so far, or in a list), not as a key, nothing merged (see the general case below).
            if parent.is_map and not parent.key_pending:
                as_key, path, record = True, parent.path, False
            else:
                as_key = False
                self.values += 1
                if self.values > self.limits.max_values:
                    self._count(0, position)
                if parent.is_map:
                    path, record = (*parent.path, parent.key), parent.record
                else:
                    path, record = (*parent.path, len(parent.value)), parent.record
            merge_list = False
        else:
            as_key = self._expecting_key()
            if not as_key:
                self._count(1, position)
            merge_list = not is_map and self._in_merge() and stack[-1].is_map
            path, record = self._next_path()
        frame = _Frame(
            is_map,
            path,
            {} if is_map else [],
            record and not as_key,
            event.anchor,
            position,
            as_key=as_key,
            merge_list=[] if merge_list else None,
        )
        if frame.record:
            self.positions.values[path] = position
        if event.anchor is not None:
            self.anchors[event.anchor] = None
        self.stack.append(frame)

    def _close(self) -> None:
        frame = self.stack.pop()
        if frame.is_map and frame.merges:
            self._merge(frame)
        stack = self.stack
        if frame.anchor is None and not frame.as_key and frame.merge_list is None and stack:
            parent = stack[-1]
            if parent.merge_list is None and parent.key_kind != "merge":
                # The common case, kept short (``_deliver`` without a ``_Built``): a plain
                # collection into its list, or under a key written once so far.
                parent.size += frame.size
                if frame.height >= parent.height:
                    parent.height = frame.height + 1
                if not parent.is_map:
                    parent.value.append(frame.value)
                    return
                parent.key_pending = False
                if parent.key_kind == "":
                    parent.value[parent.key] = frame.value
                    parent.written.add(parent.key)
                    if parent.record:
                        self.positions.keys[(*parent.path, parent.key)] = parent.key_position
                return
        built = _Built(
            frame.value,
            frame.path,
            frame.size,
            frame.height,
            frame.position,
            merge_sources=frame.merge_list,
        )
        if frame.anchor is not None:
            self.anchors[frame.anchor] = built
        if frame.as_key:
            self._take_key(self.stack[-1], frame.value, frame.position)
            return
        self._deliver(built)

    # -- assembling ---------------------------------------------------------------------------

    def _take_key(self, parent: _Frame, key: Any, position: _Position) -> None:
        if (
            type(key) is not str
            and not isinstance(key, (str, int, float, bool))
            and key is not None
        ):
            key = str(key)
        parent.key, parent.key_position, parent.key_pending = key, position, True
        if key in parent.written:
            self.sink.error(codes.DUPLICATE_KEY, Span(self.display, *position), key=key)
            parent.key_kind = "dup"
        else:
            parent.key_kind = ""

    def _deliver(self, built: _Built) -> None:
        """Hand a finished value to the collection it is in (or make it the document)."""
        if not self.stack:
            self.result = built.value
            self.done = True
            return
        parent = self.stack[-1]
        if parent.merge_list is not None:
            if not isinstance(built.value, dict):
                self._not_mergeable(built)
            parent.merge_list.append(built)
            return
        if parent.is_map and parent.key_kind == "merge":
            # What is merged is counted when ``_merge`` copies it, not here.
            parent.key_pending = False
            parent.merges.append((self._merge_sources(built), parent.key_position))
            return
        parent.size += built.size
        parent.height = max(parent.height, built.height + 1)
        if not parent.is_map:
            parent.value.append(built.value)
            return
        parent.key_pending = False
        if parent.key_kind == "":
            parent.value[parent.key] = built.value
            parent.written.add(parent.key)
            if parent.record:
                self.positions.keys[(*parent.path, parent.key)] = parent.key_position

    def _merge_sources(self, built: _Built) -> list[_Built]:
        """The mappings a merge key's value names, first to last."""
        if built.merge_sources is not None:
            return built.merge_sources
        if isinstance(built.value, dict):
            return [built]
        if not isinstance(built.value, list):
            self._not_mergeable(built)
        # An alias of a list of mappings: each item, under the list's path.
        sources = []
        for index, item in enumerate(built.value):
            if not isinstance(item, dict):
                self._not_mergeable(built)
            sources.append(
                _Built(item, (*built.path, index), built.size, built.height - 1, built.position)
            )
        return sources

    def _not_mergeable(self, built: _Built) -> NoReturn:
        raise yaml.constructor.ConstructorError(
            None,
            None,
            "expected a mapping or list of mappings for merging",
            yaml.Mark(self.display, 0, built.position[0] - 1, built.position[1] - 1, None, None),
        )

    def _merge(self, frame: _Frame) -> None:
        """Apply a mapping's merge keys as PyYAML does: a key written here wins, else the first
        mapping merged that has it. Each merged key is copied once, with its positions (those
        of the anchor it comes from)."""
        winner: dict[Any, _Built] = {}
        at: dict[Any, _Position] = {}
        for sources, key_position in frame.merges:
            for source in sources:
                for key in source.value:
                    if key not in winner:
                        winner[key] = source
                        at[key] = key_position
        depth = len(self.stack) + 1
        result: dict[Any, Any] = {}
        for key, source in winner.items():
            if key in frame.written:
                result[key] = frame.value[key]
                continue
            if depth + source.height - 1 > self.limits.max_depth:
                self._too_deep(at[key])
            old, new = (*source.path, key), (*frame.path, key)
            if frame.record and old in self.positions.keys:
                self.positions.keys[new] = self.positions.keys[old]
            value, count, height = self._replay(source.value[key], old, new, frame.record)
            self._count_copies(count, at[key])
            frame.size += count
            frame.height = max(frame.height, height + 1)
            result[key] = value
        for key, value in frame.value.items():
            if key not in result:
                result[key] = value
        frame.value = result

    def _copy(self, target: _Built, path: Path_, record: bool, position: _Position) -> _Built:
        """A fresh copy of an anchored value for an alias written at ``position``."""
        if len(self.stack) + target.height > self.limits.max_depth:
            self._too_deep(position)
        self._count_copies(target.size, position)
        value, _, _ = self._replay(target.value, target.path, path, record)
        if record:
            self.positions.values[path] = position
        return _Built(value, path, target.size, target.height, position)

    def _replay(self, value: Any, old: Path_, new: Path_, record: bool) -> tuple[Any, int, int]:
        """A copy of ``value`` (written at ``old``) for ``new``, with its positions when
        ``record``: (copy, values in it, its height). Recursion is bounded by the depth limit."""
        if record:
            values, keys = self.positions.values, self.positions.keys
            if old in values:
                values[new] = values[old]
        if isinstance(value, dict):
            total, height, copied = 1, 1, {}
            for key, item in value.items():
                if record and (*old, key) in keys:
                    keys[(*new, key)] = keys[(*old, key)]
                copied[key], count, inner = self._replay(item, (*old, key), (*new, key), record)
                total, height = total + count, max(height, inner + 1)
            return copied, total, height
        if isinstance(value, list):
            total, height, items = 1, 1, []
            for index, item in enumerate(value):
                new_item, count, inner = self._replay(item, (*old, index), (*new, index), record)
                items.append(new_item)
                total, height = total + count, max(height, inner + 1)
            return items, total, height
        return value, 1, 0

    def _count(self, count: int, position: _Position) -> None:
        self.values += count
        limit = self.limits.max_values
        if self.values > limit:
            self._error(
                codes.TOO_MANY_VALUES,
                position,
                limit=limit,
                hint=f"the limit is Limits.max_values = {limit:,}; move data to a file the flow "
                "reads, split the blueprint, or raise the limit in CompileOptions",
            )
            raise StopReading

    def _count_copies(self, count: int, position: _Position) -> None:
        self.copied += count
        limit = self.limits.max_alias_values
        if self.copied > limit:
            self._error(
                codes.ALIASES_TOO_LARGE,
                position,
                limit=limit,
                hint=f"the limit is Limits.max_alias_values = {limit:,}; aliases that repeat "
                "aliases multiply (the 'billion laughs' pattern): write the values out, or "
                "raise the limit in CompileOptions",
            )
            raise StopReading
        self._count(count, position)

    def _too_deep(self, position: _Position) -> None:
        limit = self.limits.max_depth
        self._error(
            codes.NESTED_TOO_DEEP,
            position,
            limit=limit,
            hint=f"the limit is Limits.max_depth = {limit}; flatten the value, or raise the "
            "limit in CompileOptions",
        )
        raise StopReading
