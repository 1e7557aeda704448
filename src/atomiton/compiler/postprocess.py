"""After rendering: the line map from generated lines to YAML positions, and black.

The emitter already writes black's layout (``layout``), so ``format_code`` — black over the whole
module, in the one fixed mode — is for checking that and for ``CompileOptions.format``.
"""

from __future__ import annotations

import black

from ..diagnostics import Span
from .codegen import RenderedModule
from .layout import BLACK_MODE


def format_code(code: str) -> str:
    """Format generated code with black (fixed mode)."""
    return black.format_str(code, mode=BLACK_MODE)


def map_lines(rendered: RenderedModule, code: str) -> tuple[tuple[int, Span], ...]:
    """(first generated line of a node's block, the node's YAML span), in line order.

    Each node's code opens with a comment naming its YAML position; everything until the next
    such comment belongs to that node.
    """
    pairs = []
    for number, line in enumerate(code.splitlines(), start=1):
        span = rendered.markers.get(line.strip())
        if span is not None:
            pairs.append((number, span))
    return tuple(pairs)
