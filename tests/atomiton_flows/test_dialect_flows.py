"""The dialect on Atomiton's own files: all 13 compile and check, the three templates run as
their authors meant, and the older complete flows give the same results as the current ones."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from atomiton.codes import CODES

from dialect_support import ALL_FILES, CURRENT, DATA, HISTORY, compile_flow, copy_flow
from dialect_support import needs_javascript, run_flow

IMAGE_FILES = [p for p in ALL_FILES if "image-processor" in p.name]
JS_FILES = [p for p in ALL_FILES if p not in IMAGE_FILES]
ISO_8601 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?")


def test_the_corpus_is_whole() -> None:
    assert len(CURRENT) == 3 and len(HISTORY) == 10
    assert (DATA / "LICENSE").exists() and (DATA / "README.md").exists()


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: p.name)
def test_every_file_compiles_with_coded_warnings(path: Path, tmp_path: Path) -> None:
    if path in JS_FILES:
        needs_javascript()
    compiled = compile_flow(path, tmp_path)
    assert compiled.warnings, "an Atomiton file is read with at least one warning"
    for warning in compiled.warnings:
        assert warning.code.startswith("W") and warning.code in CODES
        assert warning.span is not None and warning.span.line and warning.span.column
        assert warning.span.path.endswith(path.name)


@pytest.mark.slow
def test_atomiton_check_passes_on_all_13(tmp_path: Path) -> None:
    needs_javascript()
    result = subprocess.run(
        [sys.executable, "-m", "atomiton", "check", str(DATA)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "error[" not in result.stderr
    assert "13 blueprints checked" in result.stderr


HELLO_WORLD_WRITERS = [
    "hello-world.flow.yaml",
    "history/packages_atomiton_nodes_src_templates_yaml_hello-world.yaml",
    "history/examples_hello-world.yaml",
]


@pytest.mark.parametrize("name", HELLO_WORLD_WRITERS)
def test_hello_world_writes_the_formatted_message(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    needs_javascript()
    desktop = tmp_path / "desktop" / "hello-world.txt"
    flow = copy_flow(
        DATA / name, tmp_path, {"/Users/Ryan/Desktop/hello-world.txt": desktop}, "flow.yaml"
    )
    monkeypatch.chdir(tmp_path)
    run_flow(flow, tmp_path)
    written = (
        desktop if "Ryan" in (DATA / name).read_text() else tmp_path / ".tmp/hello-world-output.txt"
    )
    text = written.read_text(encoding="utf-8")
    assert "{{" not in text
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    assert lines[:3] == [
        "Hello World from Atomiton!",
        "This is a simple example showing how Flow nodes work together.",
        "Created by: Atomiton Flow System",
    ]
    stamp = lines[3].removeprefix("Generated at: ")
    assert lines[3].startswith("Generated at: ") and ISO_8601.fullmatch(stamp), lines[3]


@pytest.mark.parametrize(
    "name",
    [
        "history/apps_client_src_data_blueprints_hello-world.yaml",
        "history/packages_atomiton_nodes_src_composite_templates_hello-world.yaml",
    ],
)
def test_older_hello_world_greets_in_capitals(name: str, tmp_path: Path) -> None:
    needs_javascript()
    outputs = run_flow(DATA / name, tmp_path)
    assert list(outputs.values()) == ["HELLO, WORLD!"]


CSV = "name,amount,active\nada,10,true\nbob,5.5,false\ncy,2.5,true\ndee,,true\n"
DATA_TRANSFORMS = [
    "data-transform.flow.yaml",
    "history/packages_atomiton_nodes_src_templates_yaml_data-transform.yaml",
    "history/packages_atomiton_nodes_src_composite_templates_data-transform.yaml",
    "history/apps_client_src_data_blueprints_data-transform.yaml",
]


@pytest.mark.parametrize("name", DATA_TRANSFORMS)
def test_data_transform_totals_the_active_rows(name: str, tmp_path: Path) -> None:
    needs_javascript()
    sample = tmp_path / "sample.csv"
    sample.write_text(CSV, encoding="utf-8")
    results = tmp_path / "out" / "results.json"
    flow = copy_flow(
        DATA / name,
        tmp_path,
        {"/data/sample.csv": sample, "/output/results.json": results},
        "flow.yaml",
    )
    run_flow(flow, tmp_path)
    written = json.loads(results.read_text(encoding="utf-8"))
    assert written["total"] == 12.5 and written["count"] == 3
    if "apps_client" not in name:  # the oldest version did not compute the average yet
        assert written == {"total": 12.5, "count": 3, "average": 12.5 / 3}


def test_data_transform_input_path_is_a_flow_input(tmp_path: Path) -> None:
    """``variables`` are flow inputs, and the parameter that repeats a default reads it."""
    needs_javascript()
    module = pytest.importorskip("atomiton.compiler").load_module(
        compile_flow(DATA / "data-transform.flow.yaml", tmp_path)
    )
    sample = tmp_path / "other.csv"
    sample.write_text("amount,active\n4,true\n", encoding="utf-8")
    results = tmp_path / "r.json"
    module.run(module.Inputs(inputPath=str(sample), outputPath=str(results)))
    assert json.loads(results.read_text()) == {"total": 4, "count": 1, "average": 4}
