"""``node_spec`` reads a node from its ``run`` function; the registry finds node modules lazily."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Annotated, Any

import pytest

from atomiton.nodes import registry
from atomiton.nodes.spec import (
    Code,
    NodeParams,
    NodeSpecError,
    Port,
    Subflow,
    node_spec,
    port_type,
)


class Params(NodeParams):
    source: str = ""
    steps: list[str] = []
    limit: int = 0


@dataclass(frozen=True, slots=True)
class Output:
    rows: Annotated[list[dict[str, Any]], Port(description="The rows.")]
    row_count: int | None
    target: Annotated[str, Port(type="path")]


def full_run(
    params: Params,
    *,
    data: Annotated[list[Any], Port(description="Items.")],
    target_path: str | os.PathLike[str] | None = None,
    parts: Annotated[list[list[int]], Port(multiple=True)] = [],  # noqa: B006 - never called
    function: Annotated[Callable[[Any], Any], Code("source", kind="body", args=("data",))],
    steps: Annotated[Sequence[Callable[[Any], Any]], Subflow("step")],
    context: UndefinedContext | None = None,  # noqa: F821 - never evaluated
) -> Output:
    raise AssertionError("only its signature is read")


def test_ports_code_parameters_subflows_and_context_come_from_the_signature() -> None:
    spec = node_spec(full_run, type="sample", description="A sample.", weight=7)
    assert spec.type == "sample" and spec.module == __name__ and spec.params is Params
    assert [(p.name, p.type, p.required, p.multiple, p.description) for p in spec.inputs] == [
        ("data", "array", True, False, "Items."),
        ("targetPath", "path", False, False, ""),
        ("parts", "array<integer>", False, True, ""),
    ]
    assert [(p.name, p.type, p.description) for p in spec.outputs] == [
        ("rows", "array<object>", "The rows."),
        ("rowCount", "integer?", ""),
        ("target", "path", ""),
    ]
    code = spec.code_params["source"]
    assert (code.kwarg, code.kind, code.args, code.required) == (
        "function",
        "body",
        ("data",),
        True,
    )
    assert [(s.name, s.prefix, s.many, s.yaml_name) for s in spec.subflows] == [
        ("steps", "step", True, "steps")
    ]
    # The context's annotation is never evaluated: it may be imported for type checks only.
    assert spec.needs_context and spec.weight == 7


def single(params: Params, *, text: str | None = None) -> dict[str, Any]:
    raise AssertionError


def test_a_single_output_is_the_return_value_named_result_by_default() -> None:
    spec = node_spec(single, description="One.")
    assert spec.type == "test-nodespec-signature"  # the module's name, '-' for '_'
    assert [(p.name, p.type) for p in spec.outputs] == [("result", "object")]
    assert [(p.name, p.type, p.required) for p in spec.inputs] == [("text", "string", False)]
    named = node_spec(single, description="One.", output=Port("record", description="It."))
    assert [(p.name, p.type, p.description) for p in named.outputs] == [("record", "object", "It.")]
    assert not named.needs_context and named.code_params == {} and named.subflows == ()


def positional_port(params: Params, data: Any = None) -> Any:
    raise AssertionError


def no_params(*, data: Any = None) -> Any:
    raise AssertionError


def untyped_params(params: dict[str, Any], *, data: Any = None) -> Any:
    raise AssertionError


def code_without_parameter(
    params: Params, *, function: Annotated[Callable[[Any], Any], Code("missing")]
) -> Any:
    raise AssertionError


def subflow_without_parameter(
    params: Params, *, body: Annotated[Callable[[Any], Any], Subflow("body")]
) -> Any:
    raise AssertionError


@dataclass
class OneField:
    value: int


def one_field_output(params: Params) -> OneField:
    raise AssertionError


@pytest.mark.parametrize(
    ("run", "message"),
    [
        (positional_port, "'data' must be keyword-only"),
        (no_params, "must take the node's parameters first"),
        (untyped_params, "typed with a NodeParams model"),
        (code_without_parameter, "Params has no parameter 'missing'"),
        (subflow_without_parameter, "Params has no parameter 'body'"),
        (one_field_output, "returns the value itself"),
    ],
)
def test_a_run_that_breaks_the_convention_is_refused(run: Callable[..., Any], message: str) -> None:
    with pytest.raises(NodeSpecError, match=message):
        node_spec(run, description="Broken.")


@pytest.mark.parametrize(
    ("annotation", "nullable", "expected"),
    [
        (Any, True, "any"),
        (object, False, "any"),
        (str, False, "string"),
        (int | None, True, "integer?"),
        (int | None, False, "integer"),
        (float, False, "number"),
        (bool, False, "boolean"),
        (bytes, False, "buffer"),
        (Path, False, "path"),
        (PurePath | None, True, "path?"),
        (str | os.PathLike[str], False, "path"),
        (str | bytes | None, True, "any"),
        (dict[str, Any], False, "object"),
        (Mapping[str, str] | None, False, "object"),
        (list[Any], False, "array"),
        (Sequence[Any], False, "array"),
        (Sequence[str], False, "array<string>"),
        (list[str], False, "array<string>"),
        (tuple[int, ...], False, "array<integer>"),
        (list[dict[str, Any]], False, "array<object>"),
        (Annotated[list[int], Port()], False, "array<integer>"),
        (Params, False, "any"),
    ],
)
def test_port_type_of_annotations(annotation: object, nullable: bool, expected: str) -> None:
    assert port_type(annotation, nullable=nullable) == expected


def test_a_new_node_module_is_found_by_its_file(tmp_path: Path) -> None:
    (tmp_path / "word_count.py").write_text("SPEC: Final = node_spec(run, description='x')\n")
    (tmp_path / "shared_parsing.py").write_text("def parse(): ...\n")  # no SPEC: not a node
    (tmp_path / "_engine.py").write_text("SPEC = 1\n")  # private
    (tmp_path / "spec.py").write_text("SPEC = 1\n")  # the package's own machinery
    found = registry.builtin_sources(tmp_path, "pkg.nodes")
    assert list(found) == ["word-count"]
    assert found["word-count"].module == "pkg.nodes.word_count"
    assert found["word-count"].package is None


def test_every_builtin_summary_is_its_spec_description() -> None:
    for name in registry.sources():
        spec = registry.get(name)
        assert spec is not None
        assert registry.summary(name) == spec.description.strip().splitlines()[0]


def test_listing_types_imports_no_node_module() -> None:
    probe = (
        "import sys\n"
        "from atomiton.nodes import registry\n"
        "names = [registry.summary(n) for n in registry.sources()]\n"
        "assert len(names) >= 11, names\n"
        "loaded = sorted(m for m in sys.modules if m.startswith(('atomiton.nodes.', 'pydantic',"
        " 'httpx', 'PIL', 'openpyxl')) and m != 'atomiton.nodes.registry')\n"
        "print(loaded)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_asking_for_one_type_imports_only_its_module() -> None:
    probe = (
        "import sys\n"
        "from atomiton.nodes import registry\n"
        "assert registry.get('merge') is not None\n"
        "print(sorted(m for m in sys.modules if m.startswith('atomiton.nodes.')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    # merge reuses transform's path lookup; nothing else is loaded.
    assert result.stdout.strip() == str(
        ["atomiton.nodes.merge", "atomiton.nodes.registry", "atomiton.nodes.spec",
         "atomiton.nodes.transform"]
    )  # fmt: skip


def _metadata_probe(site: Path) -> str:
    # -S: no site-packages, so only the folders named here are on sys.path.
    source = Path(registry.__file__).resolve().parents[2]
    probe = (
        "import sys\n"
        "from atomiton.nodes import registry\n"
        "print(registry._may_declare_nodes(), 'importlib.metadata' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-S", "-c", probe],
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(source), str(site)])},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_entry_points_are_read_only_when_a_package_declares_nodes(tmp_path: Path) -> None:
    other = tmp_path / "other-1.0.dist-info"
    other.mkdir()
    (other / "entry_points.txt").write_text("[console_scripts]\nother = other:main\n")
    assert _metadata_probe(tmp_path) == "False False"
    plugin = tmp_path / "plugin-1.0.dist-info"
    plugin.mkdir()
    (plugin / "entry_points.txt").write_text("[atomiton.nodes]\nshout = shout_node\n")
    assert _metadata_probe(tmp_path) == "True False"  # the look itself imports nothing


def test_every_builtin_module_holds_the_spec_of_its_files_type() -> None:
    builtin = [name for name, source in registry.sources().items() if source.package is None]
    assert len(builtin) >= 11
    for name in builtin:
        spec = registry.get(name)
        assert spec is not None and spec.type == name
        assert spec.module == registry.sources()[name].module


def test_a_spec_written_by_hand_still_works() -> None:
    from atomiton.nodes.spec import NodeSpec

    spec = NodeSpec(
        type="by-hand",
        module=__name__,
        params=Params,
        inputs=(Port("data"),),
        outputs=(Port("result", "string"),),
        description="Written out.",
    )
    assert [(p.name, p.type) for p in (*spec.inputs, *spec.outputs)] == [
        ("data", "any"),
        ("result", "string"),
    ]
