"""The ``ex.serve`` test every node's call stands under is laid out by hand as black would."""

from __future__ import annotations

import black
import pytest

from atomiton.compiler.codegen import _serve_header
from atomiton.compiler.layout import BLACK_MODE


def _black(header: str, indent: int) -> str:
    # Formatted where it stands: inside as many blocks as its indentation says.
    blocks = "".join(f"{' ' * level}if x:\n" for level in range(0, indent, 4))
    source = f"{blocks}{' ' * indent}{header}\n{' ' * (indent + 4)}pass\n"
    return black.format_str(source, mode=BLACK_MODE)


@pytest.mark.parametrize("indent", [4, 8, 12, 16])
@pytest.mark.parametrize("keys", [0, 1, 2, 3, 5, 8, 12])
@pytest.mark.parametrize("policy", [False, True])
def test_serve_header_is_what_black_writes(indent: int, keys: int, policy: bool) -> None:
    values = [f"s.node_number_{k}.result" for k in range(keys)]
    key = f"({', '.join(values)}{',' if len(values) == 1 else ''})"
    args = f"{keys * 7}, s, \"slot_{'x' * keys}\", {key}" + (", True" if policy else "")
    header = _serve_header(args, indent)
    blocks = "".join(f"{' ' * level}if x:\n" for level in range(0, indent, 4))
    ours = f"{blocks}{' ' * indent}{header}\n{' ' * (indent + 4)}pass\n"
    assert _black(header, indent) == ours
