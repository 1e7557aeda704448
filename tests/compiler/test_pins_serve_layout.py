"""The ``ex.serve`` test every node's call stands under is laid out by hand as black would."""

from __future__ import annotations

from pathlib import Path

import black
import pytest
import yaml

from atomiton.compiler import CompileOptions, compile_blueprint
from atomiton.compiler.layout import serve_header as _serve_header
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


def test_long_node_ids_in_pins_and_fails_stay_black_stable(tmp_path: Path) -> None:
    """A node id too long for one line of ``Pins``/``Fails`` is laid out as black would."""
    long_id = "a" + "0" * 62
    doc = {
        "id": "long-ids",
        "interface": {"inputs": [{"id": "value", "dataType": "any", "default": 0}]},
        "nodes": [
            {"id": long_id, "type": "code", "parameters": {"code": "a = _0"}},
            {"id": "b" * 70, "type": "edit-fields", "parameters": {"values": {"x": 1}}},
        ],
        "edges": [{"source": long_id, "target": "b" * 70}],
    }
    path = tmp_path / "flow.yaml"
    path.write_text(yaml.safe_dump(doc))
    code = compile_blueprint(path, options=CompileOptions(root=tmp_path)).code
    assert black.format_str(code, mode=BLACK_MODE) == code
    assert f'"{long_id}": BaseException,' in code
