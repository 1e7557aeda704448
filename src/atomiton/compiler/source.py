"""Read a blueprint file into plain data plus a ``SourceMap`` of where every value was written.

This module owns the file's side: reading it within ``Limits.max_file_bytes``, decoding it (UTF-8,
or UTF-16/32 as YAML detects them, with or without a byte order mark), checking it for
characters YAML forbids so that each such problem has a line and column, the ``SourceMap`` that
answers "where was this value written", and turning the parser's own errors into positioned
diagnostics (with a hint when the mistake looks like indentation). Building the data from the
parser's events, with the limits on depth, aliases and merge keys, is ``yaml_events``'s job.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .. import codes
from ..diagnostics import DiagnosticSink, Span
from .options import Limits
from .yaml_events import EventBuilder, StopReading

# The C parser is several times faster; fall back to the pure-Python one where it isn't built.
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

Path_ = tuple[str | int, ...]

# What YAML 1.1 allows in a stream; PyYAML refuses the rest with a character offset, no line.
_NOT_PRINTABLE = re.compile(
    "[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
)
_CONTROL_NAMES = {0x00: "NUL", 0x07: "BEL", 0x08: "backspace", 0x1B: "ESC", 0x7F: "DEL"}
_MAX_CHARACTER_REPORTS = 5

# Byte order marks, longest first (a UTF-32-LE mark begins with the UTF-16-LE one).
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

# Parser messages that an indentation mistake produces (libyaml's and PyYAML's wordings).
_DEDENT_PROBLEMS = (
    "did not find expected key",
    "did not find expected '-'",
    "expected <block end>",
)
_OVERINDENT_PROBLEMS = ("mapping values are not allowed",)


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


def read_source(
    path: Path, display: str, sink: DiagnosticSink, limits: Limits = Limits()
) -> SourceFile | None:
    """Read and parse ``path``; on failure record diagnostics in ``sink`` and return None."""
    try:
        with path.open("rb") as stream:
            # Read one byte past the limit rather than trusting the size a stat reports:
            # a device or a growing file has none.
            raw = stream.read(limits.max_file_bytes + 1)
    except OSError as exc:
        sink.error(
            codes.UNREADABLE_FILE, Span(display), path=display, reason=exc.strerror or str(exc)
        )
        return None
    if len(raw) > limits.max_file_bytes:
        try:
            size = max(path.stat().st_size, len(raw))
        except OSError:
            size = len(raw)
        sink.error(
            codes.FILE_TOO_LARGE,
            Span(display, 1, 1),
            path=display,
            size=size,
            limit=limits.max_file_bytes,
            hint=f"the limit is Limits.max_file_bytes = {limits.max_file_bytes:,}; "
            "split the blueprint into sub-blueprints, or raise the limit in CompileOptions",
        )
        return None
    text = _decode(raw, display, sink)
    if text is None:
        return None
    return parse_source(text, path, display, sink, limits)


def _decode(raw: bytes, display: str, sink: DiagnosticSink) -> str | None:
    """The file's text, decoded as YAML detects encodings (YAML 1.2, section 5.2)."""
    encoding, start = _detect_encoding(raw)
    try:
        return raw[start:].decode(encoding)
    except UnicodeDecodeError as exc:
        # Point at the undecodable bytes, so an editor can jump to them: decode what comes
        # before them to count lines and columns in characters, as YAML's own marks do.
        before = raw[start : start + exc.start].decode(encoding, errors="replace")
        line, column = _line_column(before, len(before))
        chunk = exc.object[exc.start : exc.end][:4]
        bad = " ".join(f"0x{byte:02x}" for byte in chunk)
        what = f"byte {bad} is" if len(chunk) == 1 else f"bytes {bad} are"
        name = "UTF-8" if encoding == "utf-8" else encoding.upper().rsplit("-", 1)[0]
        sink.error(
            codes.UNREADABLE_FILE,
            Span(display, line, column),
            path=display,
            reason=f"{what} not {name} ({exc.reason})",
            hint="save the file as UTF-8",
        )
        return None


def _detect_encoding(raw: bytes) -> tuple[str, int]:
    """(codec, bytes to skip): a byte order mark decides, else the pattern of zero bytes that
    ASCII text makes in UTF-16 or UTF-32 (the first four bytes, as YAML specifies)."""
    for bom, encoding in _BOMS:
        if raw.startswith(bom):
            return encoding, len(bom)
    head = raw[:4]
    if len(head) == 4:
        zero = [b == 0 for b in head]
        if zero == [True, True, True, False]:
            return "utf-32-be", 0
        if zero == [False, True, True, True]:
            return "utf-32-le", 0
        if zero == [True, False, True, False]:
            return "utf-16-be", 0
        if zero == [False, True, False, True]:
            return "utf-16-le", 0
    return "utf-8", 0


def parse_source(
    text: str, path: Path, display: str, sink: DiagnosticSink, limits: Limits = Limits()
) -> SourceFile | None:
    """Parse YAML ``text``; ``display`` is the path shown in diagnostics."""
    if text.startswith("\ufeff"):
        text = text[1:]
    if not _check_characters(text, display, sink):
        return None
    loader = _Loader(text)
    positions = SourceMap(display)
    builder = EventBuilder(loader, positions, limits, sink)
    try:
        data = builder.document()
    except StopReading:
        return None
    except yaml.MarkedYAMLError as exc:
        _yaml_error(exc, text, display, sink)
        return None
    except yaml.YAMLError as exc:
        # Only the reader's errors come without a mark; they carry a character offset.
        position = getattr(exc, "position", None)
        span = (
            Span(display, *_line_column(text, position))
            if isinstance(position, int)
            else Span(display, 1, 1)
        )
        sink.error(codes.INVALID_YAML, span, problem=str(exc).split("\n")[0])
        return None
    finally:
        loader.dispose()
    if builder.failed:
        return None
    return SourceFile(path, display, text, data, positions)


# -- characters and positions --------------------------------------------------------------------


def _check_characters(text: str, display: str, sink: DiagnosticSink) -> bool:
    """Report characters YAML forbids (NUL, other control characters), each at its position."""
    found = _NOT_PRINTABLE.search(text)
    if found is None:
        return True
    for count, match in enumerate(_NOT_PRINTABLE.finditer(text)):
        if count == _MAX_CHARACTER_REPORTS:
            break
        code = ord(match.group())
        name = _CONTROL_NAMES.get(code)
        what = f"the control character U+{code:04X}" + (f" ({name})" if name else "")
        escape = f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
        hint = f"delete it; to put it in a value, write {escape} inside a double-quoted string"
        if code == 0:
            hint = (
                "delete it; a NUL byte often means the file was saved as UTF-16 without a "
                "byte order mark, or is not text at all"
            )
        sink.error(
            codes.FORBIDDEN_CHARACTER,
            Span(display, *_line_column(text, match.start())),
            what=what,
            hint=hint,
        )
    return False


def _line_column(text: str, index: int) -> tuple[int, int]:
    """1-based line and column (in characters) of ``text[index]``."""
    line_start = text.rfind("\n", 0, index) + 1
    return text.count("\n", 0, index) + 1, index - line_start + 1


def _yaml_error(exc: yaml.MarkedYAMLError, text: str, display: str, sink: DiagnosticSink) -> None:
    mark = exc.problem_mark or exc.context_mark
    problem = exc.problem or exc.context or "cannot parse"
    if mark is None:
        sink.error(codes.INVALID_YAML, Span(display, 1, 1), problem=problem)
        return
    line, column = mark.line + 1, mark.column + 1
    if "maximum nesting depth" in problem:  # the C parser's own bound, met while scanning ahead
        limit = Limits().max_depth
        sink.error(
            codes.NESTED_TOO_DEEP,
            Span(display, line, column),
            limit=limit,
            hint=f"the limit is Limits.max_depth = {limit}; flatten the value",
        )
        return
    hint = None
    lines = text.split("\n")
    indentation = _indentation_hint(problem, lines, line)
    if indentation is not None:
        line, column, hint = indentation
    elif "\t" in lines[line - 1 if line <= len(lines) else -1][: max(column, 1)]:
        hint = "YAML indents with spaces, not tabs"
    sink.error(codes.INVALID_YAML, Span(display, line, column), problem=problem, hint=hint)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _content(line: str) -> bool:
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith("#")


def _indentation_hint(problem: str, lines: list[str], line: int) -> tuple[int, int, str] | None:
    """Where an indentation mistake starts, and what is wrong with it, for parser errors that
    such a mistake produces; None when the text does not look like one."""
    if not 1 <= line <= len(lines) or not _content(lines[line - 1]):
        return None
    current = _indent(lines[line - 1])
    above = [(n, lines[n - 1]) for n in range(line - 1, 0, -1) if _content(lines[n - 1])]
    if problem.startswith(_OVERINDENT_PROBLEMS):
        # A key indented deeper than the key before it: YAML reads the line as more of that
        # key's value, then meets the ':'. The mistake is the first line after that key.
        for number, text in above:
            if _indent(text) < current:
                if text.rstrip().endswith(":"):
                    return None  # the block was opened there: the problem is elsewhere
                start = number + 1
                while not _content(lines[start - 1]):
                    start += 1
                column = _indent(lines[start - 1]) + 1
                return (
                    start,
                    column,
                    f"probably indentation: line {start} is indented more than line {number} "
                    f"above it; a key lines up with the keys beside it (column {_indent(text) + 1})",
                )
        return None
    if problem.startswith(_DEDENT_PROBLEMS):
        # A line dedented to a column where no enclosing block starts.
        levels: list[int] = []
        for _, text in above:
            level = _indent(text)
            if not levels or level < levels[-1]:
                levels.append(level)
            if level == 0:
                break
        if current in levels:
            return None
        columns = ", ".join(str(level + 1) for level in levels)
        return (
            line,
            current + 1,
            f"probably indentation: line {line} starts at column {current + 1}, where no block "
            f"above it starts (they start at columns {columns}); line it up with the keys it "
            "belongs with",
        )
    return None
