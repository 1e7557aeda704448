"""Property: whatever YAML it is given, the compiler answers with diagnostics or a module.

Random YAML documents, random text, and random mutations of the example and golden blueprints
(keys, values and structure changed, lines deleted, duplicated or re-indented) go through
``compile_blueprint``. Every outcome must be one of: a ``BlueprintError`` whose diagnostics all
have a line and a column, or a module that imports. Anything else (a traceback of another type,
a diagnostic at no position, a module that fails to import) is a bug. Examples are derandomized
so that a run is reproducible; bugs found in other stages are pinned below as strict xfails, each
with its minimal blueprint.
"""

from __future__ import annotations

import copy
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from atomiton.compiler import CompileOptions, compile_blueprint, load_module
from atomiton.errors import BlueprintError

ROOT = Path(__file__).resolve().parent.parent.parent
SEED_FOLDERS = sorted(
    {p.parent for p in (ROOT / "tests" / "golden").glob("*/blueprint.yaml")} | {ROOT / "examples"}
)

FUZZ = settings(
    max_examples=50,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

WORDS = [
    "id", "type", "name", "nodes", "edges", "parameters", "interface", "inputs", "outputs",
    "source", "target", "sourceHandle", "targetHandle", "dataType", "default", "code",
    "transform", "spreadsheet", "file-system", "blueprint", "group", "loop", "parallel",
    "python", "function", "path", "enabled", "timeout", "retries", "onError", "input",
    "output", "data", "result", "integer", "string", "number", "array<number>", "any",
]  # fmt: skip

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False),
    st.sampled_from(WORDS),
    st.text(max_size=12),
    st.sampled_from(
        [
            "{{ inputs.x }}",
            "{{ $input }}",
            "return data",
            "return (",
            "import os",
            "pkg.mod:fn",
            "-1",
            "1e309",
            "",
            " ",
            "\\",
            "'",
            '"',
            "${x}",
        ]
    ),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.sampled_from(WORDS) | st.text(max_size=6), inner, max_size=4),
    max_leaves=20,
)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of every seed folder, so that mutated files sit next to the files they include."""
    folder = tmp_path_factory.mktemp("fuzz")
    for index, seed in enumerate(SEED_FOLDERS):
        shutil.copytree(seed, folder / f"{index}-{seed.name}")
    return folder


def check(path: Path, text: str | bytes) -> None:
    note(f"blueprint:\n{text!r}")
    outcome(path, text)


def outcome(path: Path, text: str | bytes) -> None:
    """Compile ``text`` written at ``path``: diagnostics with positions, or a module that imports."""
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8")
    else:
        path.write_bytes(text)
    options = CompileOptions(root=path.parent, search_path=(), store=path.parent / "store")
    try:
        compiled = compile_blueprint(path, options=options)
    except BlueprintError as exc:
        unplaced = [
            d.format()
            for d in exc.diagnostics
            if d.span is None or d.span.line < 1 or d.span.column < 1
        ]
        assert not unplaced, "diagnostics without a line and column:\n" + "\n".join(unplaced)
        return
    load_module(compiled)


# -- random documents --------------------------------------------------------------------------------


@FUZZ
@given(document=values, flow=st.booleans())
def test_random_yaml_documents(workspace: Path, document: Any, flow: bool) -> None:
    text = yaml.safe_dump(document, default_flow_style=flow, allow_unicode=True)
    check(workspace / "fuzzed.yaml", text)


@FUZZ
@given(
    text=st.lists(
        st.sampled_from(list("ab:-[]{},&*!|>'\"#%@`?<=~ \n\t\r0129.") + WORDS[:8]), max_size=60
    ).map("".join)
)
def test_random_text(workspace: Path, text: str) -> None:
    check(workspace / "fuzzed.yaml", text)


@FUZZ
@given(
    document=st.fixed_dictionaries(
        {"id": st.sampled_from(["a", "flow-1", ""]) | st.text(max_size=4)},
        optional={
            "nodes": st.lists(
                st.fixed_dictionaries(
                    {"id": st.sampled_from(["n1", "n2", "n3"]), "type": st.sampled_from(WORDS)},
                    optional={"parameters": values, "inputs": values, "nodes": values},
                ),
                max_size=3,
            ),
            "edges": st.lists(
                st.fixed_dictionaries(
                    {
                        "source": st.sampled_from(["n1", "n2", "n3", "input", "input.x"]),
                        "target": st.sampled_from(["n1", "n2", "n3", "output", "output.y"]),
                    },
                    optional={"targetHandle": scalars, "sourceHandle": scalars},
                ),
                max_size=3,
            ),
            "interface": values,
        },
    )
)
def test_random_blueprint_shaped_documents(workspace: Path, document: Any) -> None:
    check(workspace / "fuzzed.yaml", yaml.safe_dump(document, sort_keys=False, allow_unicode=True))


# -- mutations of valid blueprints ---------------------------------------------------------------


def _paths(value: Any, here: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield here
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*here, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*here, index))


def _mutate(document: Any, draw: Any) -> Any:
    """One structural change at a random place: delete, replace, rename, duplicate, insert."""
    paths = [p for p in _paths(document) if p]
    if not paths:
        return draw(values)
    where = draw(st.sampled_from(paths))
    parent: Any = document
    for step in where[:-1]:
        parent = parent[step]
    last = where[-1]
    action = draw(
        st.sampled_from(["delete", "replace", "rename", "duplicate", "insert", "type", "copy"])
    )
    if action == "copy":
        # A value from elsewhere in the same blueprint: plausible, so it gets further.
        source: Any = document
        for step in draw(st.sampled_from(paths)):
            source = source[step]
        parent[last] = copy.deepcopy(source)
    elif action == "delete":
        del parent[last]
    elif action == "replace":
        parent[last] = draw(values)
    elif action == "rename" and isinstance(parent, dict):
        parent[draw(st.sampled_from(WORDS) | st.text(max_size=6))] = parent.pop(last)
    elif action == "duplicate" and isinstance(parent, list):
        parent.insert(last, parent[last])
    elif action == "insert" and isinstance(parent, dict):
        parent[draw(st.sampled_from(WORDS))] = draw(values)
    elif action == "type" and isinstance(parent, dict) and "type" in parent:
        parent["type"] = draw(st.sampled_from(WORDS))
    else:
        parent[last] = draw(values)
    return document


def _seed_files() -> list[str]:
    """Seed blueprints, as paths relative to the workspace (folders numbered as copied)."""
    found = []
    for index, seed in enumerate(SEED_FOLDERS):
        for path in sorted(seed.glob("*.yaml")):
            found.append(f"{index}-{seed.name}/{path.name}")
    return found


SEEDS = _seed_files()


@FUZZ
@given(seed=st.sampled_from(SEEDS), data=st.data(), changes=st.integers(1, 3))
def test_structural_mutations_of_valid_blueprints(
    workspace: Path, seed: str, data: st.DataObject, changes: int
) -> None:
    original = workspace / seed
    document = yaml.safe_load(original.read_text(encoding="utf-8"))
    for _ in range(changes):
        document = _mutate(document, data.draw)
    check(original.parent / "fuzzed.yaml", yaml.safe_dump(document, sort_keys=False))


@FUZZ
@given(seed=st.sampled_from(SEEDS), data=st.data())
def test_line_mutations_of_valid_blueprints(
    workspace: Path, seed: str, data: st.DataObject
) -> None:
    original = workspace / seed
    lines = original.read_text(encoding="utf-8").split("\n")
    index = data.draw(st.integers(0, len(lines) - 1))
    action = data.draw(st.sampled_from(["delete", "duplicate", "indent", "dedent", "insert"]))
    if action == "delete":
        del lines[index]
    elif action == "duplicate":
        lines.insert(index, lines[index])
    elif action == "indent":
        lines[index] = " " * data.draw(st.integers(1, 3)) + lines[index]
    elif action == "dedent":
        lines[index] = lines[index][data.draw(st.integers(1, 3)) :]
    else:
        column = data.draw(st.integers(0, len(lines[index])))
        extra = data.draw(st.text(alphabet=":-[]{}&*!|'\"# \t\x00\x07é", min_size=1, max_size=3))
        lines[index] = lines[index][:column] + extra + lines[index][column:]
    check(original.parent / "fuzzed.yaml", "\n".join(lines))


# -- bugs the fuzzing found in other stages, kept as regression tests ----------------------------

DUPLICATE_INTERFACE_OUTPUT = """\
id: dup
interface:
  outputs:
    - {id: y, dataType: any}
    - {id: y, dataType: any}
nodes:
  - {id: a, type: code, parameters: {code: "return 1"}}
edges:
  - {source: a, target: output, targetHandle: y}
"""


def test_duplicate_interface_outputs_are_reported_not_compiled(tmp_path: Path) -> None:
    # Found by the fuzzing: this compiled to a module that repeated a keyword argument.
    path = tmp_path / "dup.yaml"
    path.write_text(DUPLICATE_INTERFACE_OUTPUT, encoding="utf-8")
    with pytest.raises(BlueprintError) as raised:
        compile_blueprint(path, options=CompileOptions(root=tmp_path, search_path=()))
    found = [(d.code, d.span.line if d.span else 0) for d in raised.value.diagnostics]
    assert found == [("E0219", 5)]
