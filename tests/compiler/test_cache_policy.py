"""Each node's resolved cache policy in the generated module (``NodeInfo.cache``): from its
type's purity, its parameters, ``pure: true`` and ``cache: auto|always|never``; and the
blueprint's ``settings.cache``, with positioned diagnostics for bad values."""

from __future__ import annotations

from pathlib import Path

import pytest

from atomiton.compiler import compile_blueprint, module_from_code
from atomiton.errors import BlueprintError
from atomiton.runtime.model import NodeInfo

BLUEPRINT = """\
id: policies
settings: {cache: auto}
nodes:
  - id: compute
    type: code
    parameters: {code: "return 1"}
  - id: fields
    type: edit-fields
    parameters: {values: {a: 1}}
  - id: read
    type: file-system
    parameters: {operation: read, path: data.txt}
  - id: write
    type: file-system
    parameters: {operation: write, path: out.txt, content: x}
  - id: get
    type: http-request
    parameters: {url: "http://127.0.0.1:1/", method: GET}
  - id: post
    type: http-request
    parameters: {url: "http://127.0.0.1:1/", method: post}
  - id: sheet
    type: spreadsheet
    parameters: {operation: read, path: a.csv}
  - id: shell
    type: shell-command
    parameters: {program: echo, args: [hi]}
  - id: shell_pure
    type: shell-command
    parameters: {program: echo, args: [hi], pure: true}
  - id: forced
    type: shell-command
    parameters: {program: echo, args: [hi], cache: always}
  - id: refused
    type: code
    parameters: {code: "return 2", cache: never}
  - id: each
    type: loop
    parameters:
      loopType: forEach
      body:
        nodes:
          - {id: inner, type: code, parameters: {code: "return 3"}}
  - id: items
    type: code
    parameters: {code: "return [1, 2]"}
edges:
  - {source: items, target: each, targetHandle: array}
"""

EXPECTED = {
    "compute": "on",
    "fields": "on",
    "read": "files",
    "write": "off",
    "get": "on",
    "post": "off",
    "sheet": "files",
    "shell": "off",
    "shell_pure": "on",
    "forced": "on",
    "refused": "off",
    "each": "off",
    "each.body.inner": "on",
    "items": "on",
}


def _nodes(tmp_path: Path, text: str) -> tuple[object, dict[str, NodeInfo]]:
    path = tmp_path / "flow.yaml"
    path.write_text(text)
    compiled = compile_blueprint(path)
    _, _, code = module_from_code(compiled)
    namespace: dict[str, object] = {}
    exec(code, namespace)
    blueprint = namespace["BLUEPRINT"]
    return blueprint, {n.id: n for n in blueprint.nodes}  # type: ignore[attr-defined]


def test_each_node_gets_the_policy_its_type_parameters_and_settings_give(tmp_path: Path) -> None:
    blueprint, nodes = _nodes(tmp_path, BLUEPRINT)
    assert {node_id: node.cache for node_id, node in nodes.items()} == EXPECTED
    assert blueprint.cache is True  # type: ignore[attr-defined]


def test_without_settings_cache_the_blueprint_leaves_the_cache_to_the_caller(
    tmp_path: Path,
) -> None:
    blueprint, _ = _nodes(tmp_path, BLUEPRINT.replace("settings: {cache: auto}\n", ""))
    assert blueprint.cache is False  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        (BLUEPRINT.replace("{cache: auto}", "{cache: always}"), "settings: {cache: always}"),
        (BLUEPRINT.replace("cache: never", "cache: sometimes"), "cache: sometimes"),
        (BLUEPRINT.replace("pure: true", "pure: yes please"), "pure: yes please"),
    ],
)
def test_a_bad_cache_setting_is_a_positioned_diagnostic(
    tmp_path: Path, text: str, needle: str
) -> None:
    path = tmp_path / "flow.yaml"
    path.write_text(text)
    with pytest.raises(BlueprintError) as caught:
        compile_blueprint(path)
    [diagnostic] = caught.value.diagnostics
    line = next(i for i, row in enumerate(text.splitlines(), 1) if needle in row)
    assert diagnostic.span is not None and diagnostic.span.line == line
    assert diagnostic.code in ("E0209", "E0218", "E0220")


STREAMED = """\
id: streamed
settings: {cache: auto}
nodes:
  - id: rows
    type: spreadsheet
    parameters: {operation: read, path: a.csv, stream: true}
  - id: count
    type: code
    parameters: {code: "return sum(1 for _ in data)"}
  - id: quiet
    type: code
    parameters: {code: "return 1", cache: never}
edges:
  - {source: rows, sourceHandle: records, target: count}
  - {source: rows, sourceHandle: records, target: quiet}
"""


def test_a_node_asked_to_cache_a_stream_gets_w0260_and_is_not_cached(tmp_path: Path) -> None:
    path = tmp_path / "flow.yaml"
    path.write_text(STREAMED)
    compiled = compile_blueprint(path)
    [warning] = [w for w in compiled.warnings if w.code == "W0260"]
    assert warning.span is not None and warning.span.line == 7
    assert "'count'" in warning.message and "'rows'" in warning.message
    _, nodes = _nodes(tmp_path, STREAMED)
    assert (nodes["rows"].cache, nodes["count"].cache, nodes["quiet"].cache) == ("off",) * 3
    # Without a wish to cache, no warning.
    path.write_text(STREAMED.replace("settings: {cache: auto}\n", ""))
    assert not [w for w in compile_blueprint(path).warnings if w.code == "W0260"]
