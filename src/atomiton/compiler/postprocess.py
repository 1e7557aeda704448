"""Black over a whole generated module, in the one fixed mode.

The emitter already writes black's layout (``layout``) and records the source map as it writes
(``writer``), so ``format_code`` is for checking that and for ``CompileOptions.format``; black
keeps every line where it is in a module it would not change, so the map stays true.
"""

from __future__ import annotations

import black

from .layout import BLACK_MODE


def format_code(code: str) -> str:
    """Format generated code with black (fixed mode)."""
    return black.format_str(code, mode=BLACK_MODE)
