"""Hostile text in a blueprint stays data: the generated module parses, type-checks, imports and
runs, and never executes any of it.

Every string from YAML must reach the module through ``repr()``, an escaped docstring or comment,
or a validated identifier (DESIGN.md, "Generated module"). The cases put quotes, backslashes,
line breaks, triple quotes, comment and template look-alikes, control and bidi characters and a
shell-out payload into every place a blueprint holds free text.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from atomiton.compiler import CompiledModule

from flowfiles import compile_data, import_file

PAYLOAD = "__import__('os').system('touch PWNED')"
NASTY = [
    PAYLOAD,
    f'"; {PAYLOAD} #',
    f"'; {PAYLOAD} #",
    f'"""\n{PAYLOAD}\n"""',
    f"'''\n{PAYLOAD}\n'''",
    f"\\\n{PAYLOAD}",
    "back\\slash\\",
    'trailing quote"',
    "trailing single'",
    "ends with backslash\\",
    "line one\nline two\r\nline three\rend",
    "# not a comment",
    "{ not a template }",
    "{% block %}{# comment #}${x}%(name)s{0}",
    "}} closes nothing",
    "nul \x00 bell \x07 escape \x1b[31m vertical \x0b form \x0c",
    "rtl \u202e gnp.exe \u202c and \u200f marks \u2066isolate\u2069",
    "emoji \U0001f600\U0001f4a5 and zwj \U0001f468\u200d\U0001f469",
    "line\u2028separator\u2029paragraph\x85next",
    "\ufeffbyte order mark",
    'f\'{__import__("os").system("touch PWNED")}\'',
    "\t\ttabs\t",
    "",
    " ",
]
# Node ids within the allowed charset that collide with Python or with the module's own names.
NODE_IDS = [
    "class",
    "1st",
    "__import__",
    "import-os",
    "_",
    "None",
    "True",
    "s",
    "ex",
    "inputs",
    "run",
    "a-b",
    "a_b",
    "A_B",
    "Inputs",
    "BLUEPRINT",
    "_task_0",
    "_rt",
    "exc",
    "model_config",
    "match",
]
INPUT_IDS = [
    "path",
    "class",
    "1st",
    "a b",
    "a-b",
    "a_b",
    "model_config",
    "x\ny",
    PAYLOAD,
    'q"uote',
    "é",
    "\U0001f600",
    "",
]


def nasty_blueprint(index: int, text: str) -> dict[str, Any]:
    """A blueprint that carries ``text`` in every free-text place."""
    node_ids = NODE_IDS
    inputs = [
        {"id": input_id or "blank", "dataType": "string", "default": text, "description": text}
        for input_id in INPUT_IDS
    ]
    nodes: list[dict[str, Any]] = [
        {
            "id": node_id,
            "type": "edit-fields",
            "name": text,
            "description": text,
            "parameters": {"values": {"text": text, "k": [text, {text: text}]}},
        }
        for node_id in node_ids
    ]
    return {
        "id": f"nasty-{index}",
        "name": text,
        "version": text,
        "description": text,
        "metadata": {"note": text, text: [text, 1, None], "nested": {"deep": text}},
        "interface": {"inputs": inputs},
        "nodes": nodes,
    }


def expected_values(text: str) -> dict[str, Any]:
    return {"text": text, "k": [text, {text: text}]}


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Path, CompiledModule, str]]:
    root = tmp_path_factory.mktemp("injection")
    modules = []
    for index, text in enumerate(NASTY):
        result = compile_data(
            root / f"case{index}", nasty_blueprint(index, text), name=f"nasty_{index}"
        )
        target = root / "modules" / f"nasty_{index}.py"
        target.parent.mkdir(exist_ok=True)
        target.write_text(result.code, encoding="utf-8")
        modules.append((target, result, text))
    return modules


def test_every_module_parses(compiled: list[tuple[Path, CompiledModule, str]]) -> None:
    for path, result, text in compiled:
        tree = ast.parse(result.code, filename=str(path))
        calls = [
            n
            for n in ast.walk(tree)
            if isinstance(n, ast.Call)
            and isinstance(n.func, ast.Name)
            and n.func.id in {"__import__", "eval", "exec"}
        ]
        assert not calls, f"{path.name} calls {[ast.unparse(c) for c in calls]} for text {text!r}"


def test_text_survives_as_data(compiled: list[tuple[Path, CompiledModule, str]]) -> None:
    for path, result, text in compiled:
        tree = ast.parse(result.code)
        constants = {
            n.value
            for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str)
        }
        assert text in constants, f"{path.name}: {text!r} is not a string constant of the module"
        docstring = ast.get_docstring(tree, clean=False) or ""
        assert "Do not edit." in docstring


def test_mypy_strict_accepts_every_module(compiled: list[tuple[Path, CompiledModule, str]]) -> None:
    from mypy import api

    paths = [str(path) for path, _, _ in compiled]
    stdout, stderr, status = api.run(
        ["--strict", "--no-incremental", "--no-error-summary", "--follow-imports=silent", *paths]
    )
    assert status == 0, f"mypy --strict rejects generated modules:\n{stdout}{stderr}"


def test_modules_import_and_run_without_executing_text(
    compiled: list[tuple[Path, CompiledModule, str]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    for path, _, text in compiled:
        module = import_file(path)
        outputs = module.run()
        values = list(outputs.model_dump().values())
        assert len(values) == len(
            NODE_IDS
        ), f"{path.name}: {len(values)} outputs for {len(NODE_IDS)} sink nodes"
        for value in values:
            assert value == expected_values(
                text
            ), f"{path.name}: text changed on its way: {value!r}"
        defaults = module.Inputs().model_dump()
        assert all(
            v == text for v in defaults.values()
        ), f"{path.name}: defaults changed: {defaults!r}"
    assert not (tmp_path / "PWNED").exists(), "a string from YAML was executed"
    assert not (Path(os.getcwd()) / "PWNED").exists()


def test_node_ids_become_distinct_identifiers(
    compiled: list[tuple[Path, CompiledModule, str]],
) -> None:
    _, result, _ = compiled[0]
    tree = ast.parse(result.code)
    state = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "_State")
    fields = [
        n.target.id
        for n in state.body
        if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name)
    ]
    assert len(fields) == len(set(fields)) == len(NODE_IDS), fields


# Arbitrary text, minus what YAML cannot carry (surrogates) and what a string parameter treats as
# a template opener.
any_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=60)


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(name=any_text, description=any_text, value=any_text.filter(lambda t: "{{" not in t))
def test_arbitrary_text_compiles_to_a_safe_module(
    tmp_path_factory: pytest.TempPathFactory, name: str, description: str, value: str
) -> None:
    folder = tmp_path_factory.mktemp("hypothesis")
    data = {
        "id": "generated",
        "name": name,
        "description": description,
        "metadata": {"name": name, description: value},
        "interface": {
            "inputs": [
                {"id": "text", "dataType": "string", "default": value, "description": description}
            ]
        },
        "nodes": [
            {
                "id": "step",
                "type": "edit-fields",
                "name": name,
                "description": description,
                "parameters": {"values": {"value": value, "name": name}},
            }
        ],
    }
    result = compile_data(folder, data)
    ast.parse(result.code)
    path = folder / "generated_module.py"
    path.write_text(result.code, encoding="utf-8")
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        module = import_file(path)
        outputs = module.run()
    finally:
        os.chdir(cwd)
    assert outputs.model_dump() == {"step": {"value": value, "name": name}}
    assert module.Inputs().text == value
    assert module.BLUEPRINT.name == (name or "generated")  # an empty name falls back to the id
    assert not (folder / "PWNED").exists()
