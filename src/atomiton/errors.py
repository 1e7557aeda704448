"""The public exception tree: one base class, grouped by who raises it.

``BlueprintError`` comes from the compiler (it carries diagnostics); the others come from the
runtime while a compiled flow executes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .diagnostics import Diagnostic


class AtomitonError(Exception):
    """Base class of every error atomiton raises on purpose."""


class BlueprintError(AtomitonError):
    """A blueprint could not be compiled; ``diagnostics`` says every reason found."""

    def __init__(self, diagnostics: Sequence[Diagnostic]) -> None:
        self.diagnostics = tuple(diagnostics)
        count = len(self.diagnostics)
        first = self.diagnostics[0].format() if self.diagnostics else "no diagnostics"
        more = f" (and {count - 1} more)" if count > 1 else ""
        super().__init__(f"{first}{more}")


class NodeError(AtomitonError):
    """A node failed while a flow ran.

    Attributes:
        node_id: the node's id, with its sub-blueprint path (``totals.sum``).
        node_type: the node's type name (``transform``).
        source: the blueprint file the node was written in.
        line: 1-based line of the failure in ``source``: the failing statement of the node's
            ``code:`` when the traceback shows it, else the node's own line.
        column: 1-based column of the failure in ``source`` (as ``line``).
        node_line: 1-based line of the node itself in ``source``.
        node_column: 1-based column of the node itself in ``source``.
        statement: where the failing statement is when it is known: ``file:line:column`` in
            the blueprint for node code, ``file:line`` of a ``python`` node's function; else "".
        included_from: where ``source`` was included from (``file:line:column``), innermost
            first; empty for a node of the blueprint itself.
    """

    def __init__(
        self,
        message: str,
        *,
        node_id: str,
        node_type: str,
        source: str = "",
        line: int = 0,
        column: int = 0,
        node_line: int | None = None,
        node_column: int | None = None,
        statement: str = "",
        included_from: tuple[str, ...] = (),
    ) -> None:
        self.message = message
        self.node_id = node_id
        self.node_type = node_type
        self.source = source
        self.line = line
        self.column = column
        self.node_line = line if node_line is None else node_line
        self.node_column = column if node_column is None else node_column
        self.statement = statement
        self.included_from = included_from
        where = f"{source}:{line}:{column}: " if source else ""
        super().__init__(f"{where}node {node_id!r} ({node_type}) failed: {message}")


class OutputError(AtomitonError):
    """A flow's result does not fit its declared outputs (and no single node can be blamed)."""


class CancelledError(AtomitonError):
    """The run was cancelled before it finished."""


class RunTimeoutError(AtomitonError, TimeoutError):
    """The run, or one node of it, took longer than its timeout."""
