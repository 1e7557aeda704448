"""Read a blueprint's YAML into plain data plus a ``SourceMap`` of where every value was written.

PyYAML's composer gives nodes with marks; we build plain dicts, lists and scalars from them
ourselves so each value's position is recorded under its path (``("nodes", 2, "type")``).
Duplicate keys, which YAML would silently collapse, become diagnostics here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..diagnostics import DiagnosticSink, Span

# The C loader is several times faster; fall back to the pure-Python one where it isn't built.
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

Path_ = tuple[str | int, ...]

_MERGE_TAG = "tag:yaml.org,2002:merge"


@dataclass(slots=True)
class SourceMap:
    """Positions of values (and of mapping keys) by their path in the document."""

    path: str
    values: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Path_, tuple[int, int]] = field(default_factory=dict)

    def span(self, loc: Path_, *, key: bool = False) -> Span:
        """The span of the value at ``loc`` (or of its key), else of its nearest ancestor."""
        table = self.keys if key else self.values
        probe = tuple(loc)
        while probe:
            if probe in table:
                line, column = table[probe]
                return Span(self.path, line, column)
            if probe in self.values:
                line, column = self.values[probe]
                return Span(self.path, line, column)
            probe = probe[:-1]
        line, column = self.values.get((), (1, 1))
        return Span(self.path, line, column)


@dataclass(frozen=True, slots=True)
class SourceFile:
    """A blueprint file as read: its text, its data and where each value came from."""

    path: Path
    display: str
    text: str
    data: Any
    positions: SourceMap


def read_source(path: Path, display: str, sink: DiagnosticSink) -> SourceFile | None:
    """Read and parse ``path``; on failure record diagnostics in ``sink`` and return None."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        sink.error("E0002", Span(display), path=display, reason=exc.strerror or str(exc))
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        # Point at the undecodable byte, so an editor can jump to it.
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        reason = f"byte 0x{raw[exc.start]:02x} is not UTF-8 ({exc.reason})"
        sink.error(
            "E0002",
            Span(display, line, column),
            path=display,
            reason=reason,
            hint="save the file as UTF-8",
        )
        return None
    return parse_source(text, path, display, sink)


def parse_source(text: str, path: Path, display: str, sink: DiagnosticSink) -> SourceFile | None:
    """Parse YAML ``text``; ``display`` is the path shown in diagnostics."""
    positions = SourceMap(display)
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
        data = _build(root, (), loader, positions, sink) if root is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        span = Span(display, mark.line + 1, mark.column + 1) if mark else Span(display)
        problem = exc.problem or exc.context or "cannot parse"
        sink.error("E0001", span, problem=problem)
        return None
    except yaml.YAMLError as exc:
        sink.error("E0001", Span(display), problem=str(exc))
        return None
    finally:
        loader.dispose()
    return SourceFile(path, display, text, data, positions)


def _build(
    node: yaml.Node,
    loc: Path_,
    loader: yaml.SafeLoader,
    positions: SourceMap,
    sink: DiagnosticSink,
) -> Any:
    positions.values[loc] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        written = sum(1 for key_node, _ in node.value if key_node.tag != _MERGE_TAG)
        loader.flatten_mapping(node)  # resolves YAML merge keys (<<): merged pairs come first
        merged = len(node.value) - written
        result: dict[Any, Any] = {}
        written_keys: set[Any] = set()
        for index, (key_node, value_node) in enumerate(node.value):
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, (str, int, float, bool)) and key is not None:
                key = str(key)
            child = (*loc, key)
            key_pos = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            # A key written here overrides a merged one, and a later merge overrides an
            # earlier one (YAML's merge rules); only a key written twice here is a mistake.
            if index >= merged:
                if key in written_keys:
                    sink.error("E0003", Span(positions.path, *key_pos), key=key)
                    continue
                written_keys.add(key)
            positions.keys[child] = key_pos
            result[key] = _build(value_node, child, loader, positions, sink)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [
            _build(item, (*loc, index), loader, positions, sink)
            for index, item in enumerate(node.value)
        ]
    return loader.construct_object(node, deep=True)
