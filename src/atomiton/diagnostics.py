"""Diagnostics: what the compiler says about a blueprint, and where.

A ``Diagnostic`` names a position in a YAML file (``Span``), a code from ``atomiton.codes`` and a
message, optionally a hint and notes (``included from parent.yaml:7:5``). ``DiagnosticSink``
collects them across a stage so that every problem is reported at once, mypy-style.
"""

from __future__ import annotations

import difflib
import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

from .codes import ErrorCode
from .errors import BlueprintError


@dataclass(frozen=True, slots=True, order=True)
class Span:
    """A 1-based position in a blueprint file."""

    path: str
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}" if self.line else self.path


class Severity(enum.Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One problem found in a blueprint."""

    code: str
    message: str
    span: Span | None = None
    severity: Severity = Severity.ERROR
    hint: str | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def with_note(self, note: str) -> Diagnostic:
        return replace(self, notes=(*self.notes, note))

    def format(self) -> str:
        """``path:line:col: error[E0203]: message`` followed by indented hint and notes."""
        where = f"{self.span}: " if self.span is not None else ""
        lines = [f"{where}{self.severity.value}[{self.code}]: {self.message}"]
        if self.hint:
            lines.append(f"  hint: {self.hint}")
        lines.extend(f"  note: {note}" for note in self.notes)
        return "\n".join(lines)


class DiagnosticSink:
    """Collects diagnostics; ``raise_if_errors`` ends a stage that found any error."""

    def __init__(self) -> None:
        self.items: list[Diagnostic] = []

    def error(
        self, code: ErrorCode, span: Span | None, *, hint: str | None = None, **fields: object
    ) -> Diagnostic:
        """Record the error ``code`` whose message template is filled from ``fields``."""
        diagnostic = Diagnostic(code, code.message(**fields), span, hint=hint)
        self.items.append(diagnostic)
        return diagnostic

    def warning(
        self, code: ErrorCode, span: Span | None, *, hint: str | None = None, **fields: object
    ) -> Diagnostic:
        diagnostic = Diagnostic(code, code.message(**fields), span, Severity.WARNING, hint=hint)
        self.items.append(diagnostic)
        return diagnostic

    def extend(self, diagnostics: Iterable[Diagnostic]) -> None:
        self.items.extend(diagnostics)

    @property
    def has_errors(self) -> bool:
        return any(d.is_error for d in self.items)

    def raise_if_errors(self) -> None:
        if self.has_errors:
            raise BlueprintError(sorted_diagnostics(self.items))


def sorted_diagnostics(items: Iterable[Diagnostic]) -> list[Diagnostic]:
    """Stable order for output: by file, line, column, then code."""

    def key(d: Diagnostic) -> tuple[str, int, int, str]:
        span = d.span or Span("")
        return (span.path, span.line, span.column, d.code)

    return sorted(items, key=key)


def did_you_mean(word: str, choices: Sequence[str]) -> str | None:
    """A hint naming the closest choice, or None if nothing is close."""
    matches = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"did you mean {matches[0]!r}?" if matches else None


def one_of(choices: Iterable[str]) -> str:
    """``'a', 'b' or 'c'`` for messages that list the valid choices."""
    quoted = [repr(c) for c in choices]
    if not quoted:
        return "nothing"
    if len(quoted) == 1:
        return quoted[0]
    return ", ".join(quoted[:-1]) + " or " + quoted[-1]
