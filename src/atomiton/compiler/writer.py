"""The code writer: the generated module's lines, each recorded with where it came from.

``codegen`` writes every line of a module through a ``CodeWriter``, saying as it writes which
blueprint position the line stands for (a node's block, one line of a node's ``code:``), so the
source map is a by-product of writing, never recovered from the text afterwards. This module owns
that record, its runs of lines (``Origin``s), and the compact text form the module keeps as
``_SOURCE_MAP`` (decoded at run time by ``atomiton.runtime.debug``, which owns the reading side
of the format described in ``encode``). What a line says, and how it is laid out, is codegen's
and layout's business.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Final

from ..diagnostics import Span

# Each string of the stored map stays short enough that the module's lines stay within black's
# line length (the map is one exploded tuple, one string per line).
_CHUNK: Final = 72


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a run of generated lines comes from.

    Attributes:
        span: the blueprint position (a node, or one line of its code).
        node: the index of the node (into ``BLUEPRINT.nodes``) the lines belong to, or -1.
        included_from: where the file of ``span`` was included from, innermost first.
    """

    span: Span
    node: int = -1
    included_from: tuple[Span, ...] = ()


# (first generated line of a run, its origin or None for the module's own framing), by line.
LineMap = tuple[tuple[int, Origin | None], ...]


class CodeWriter:
    """Lines of a module in the making, and the origin of each run of them."""

    def __init__(self) -> None:
        self._lines: list[str] = []
        self._runs: list[tuple[int, Origin | None]] = []
        self._origin: Origin | None = None
        # Lines (0-based) where a top-level statement starts: the module may be compiled in
        # parts split there (``verify.check_module``).
        self._starts: list[int] = [0]

    @property
    def line_count(self) -> int:
        return len(self._lines)

    def at(self, origin: Origin | None) -> None:
        """Lines written from now on come from ``origin`` (None: from no blueprint position)."""
        if origin == self._origin:
            return
        self._origin = origin
        line = len(self._lines) + 1
        if self._runs and self._runs[-1][0] == line:
            self._runs.pop()  # nothing was written under the previous origin
        if not self._runs or self._runs[-1][1] != origin:
            self._runs.append((line, origin))

    @property
    def origin(self) -> Origin | None:
        return self._origin

    def write(self, text: str, indent: int = 0) -> None:
        """``text`` (one or more lines, continuation lines already indented) at ``indent``."""
        pad = " " * indent
        if "\n" not in text:
            self._lines.append(pad + text if text else "")
            return
        first, *rest = text.split("\n")
        self._lines.append(pad + first)
        self._lines.extend(rest)

    def lines(self, lines: Iterable[str]) -> None:
        """Lines as they stand (indented already)."""
        self._lines.extend(lines)

    def blank(self, count: int = 1) -> None:
        self._lines.extend([""] * count)

    def top_level(self) -> None:
        """A statement at the module's top level starts with the next line written."""
        if self._starts[-1] != len(self._lines):
            self._starts.append(len(self._lines))

    def text(self) -> str:
        return "\n".join(self._lines) + "\n"

    def parts(self) -> list[tuple[int, str]]:
        """The module's text in parts split where top-level statements start: (first line,
        text) each; joined, they are ``text()``."""
        bounds = [*self._starts, len(self._lines)]
        return [
            (start + 1, "\n".join(self._lines[start:end]) + "\n")
            for start, end in zip(bounds, bounds[1:])
            if end > start
        ]

    def line_map(self) -> LineMap:
        return tuple(self._runs)


def encode(
    line_map: LineMap,
    files: dict[tuple[str, tuple[str, ...]], int],
    rebase: Callable[[str], str],
) -> list[str]:
    """The map as the module stores it: strings to be joined, of space-separated runs.

    A run is ``gap`` (lines since the previous run's first line; the first run counts from line
    0) when its lines come from no blueprint position, or ``gap:file:line:column:node`` where
    ``file`` indexes the module's file table (``files`` collects it: (path, included from...))
    and ``node`` indexes ``BLUEPRINT.nodes`` (-1: none). A file is its path and the places it
    was included from (``path:line:column``, innermost first);
    ``rebase`` spells a path as the module records paths.
    """
    chunks: list[str] = []
    current: list[str] = []
    width = 0
    previous = 0
    indexes: dict[tuple[str, tuple[Span, ...]], int] = {}
    for line, origin in line_map:
        gap = line - previous
        previous = line
        if origin is None:
            entry = f"{gap}"
        else:
            span = origin.span
            # Every run of an included file repeats its places of inclusion: spelled once.
            place = (span.path, origin.included_from)
            index = indexes.get(place)
            if index is None:
                key = (
                    rebase(span.path),
                    tuple(f"{rebase(s.path)}:{s.line}:{s.column}" for s in origin.included_from),
                )
                index = indexes[place] = files.setdefault(key, len(files))
            entry = f"{gap}:{index}:{span.line}:{span.column}:{origin.node}"
        if current and width + len(entry) + 1 > _CHUNK:
            chunks.append(" ".join(current) + " ")
            current, width = [], 0
        current.append(entry)
        width += len(entry) + 1
    if current:
        chunks.append(" ".join(current))
    return chunks


def origin_of(line_map: LineMap, line: int) -> Origin | None:
    """The origin of generated ``line`` (1-based) in ``line_map``."""
    found: Origin | None = None
    low, high = 0, len(line_map)
    while low < high:  # the last run starting at or before ``line``
        middle = (low + high) // 2
        if line_map[middle][0] <= line:
            found = line_map[middle][1]
            low = middle + 1
        else:
            high = middle
    return found
