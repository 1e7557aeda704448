"""``atomiton migrate``: each of the 13 files becomes a native blueprint that compiles without a
warning and gives the same outputs as the original."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from dialect_support import ALL_FILES, DATA, compile_flow, copy_flow, needs_javascript, run_flow

from atomiton.compiler.dialects.detect import detect
from atomiton.compiler.source import parse_source
from atomiton.diagnostics import DiagnosticSink


def migrate(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "atomiton", "migrate", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """All 13 files migrated by the real command into one folder."""
    out = tmp_path_factory.mktemp("migrated")
    result = migrate(*(str(p) for p in ALL_FILES), "-o", str(out), cwd=out)
    assert result.returncode == 0, result.stderr
    return out


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: p.name)
def test_migrated_file_is_native_and_compiles_without_warnings(
    path: Path, migrated: Path, tmp_path: Path
) -> None:
    if "image-processor" not in path.name:
        needs_javascript()
    target = migrated / path.name
    data = parse_source(target.read_text(), target, target.name, DiagnosticSink()).data
    assert detect(data) == "native"
    compiled = compile_flow(target, tmp_path)
    assert compiled.warnings == ()


def test_migrate_keeps_comments_and_order(migrated: Path) -> None:
    text = (migrated / "examples_hello-world.yaml").read_text()
    assert "  # Edit Fields node - creates the hello world data\n  - id: create_message" in text
    assert "  # Connect transform node to file system node\n  - id: content_to_file" in text
    current = (migrated / "image-processor.flow.yaml").read_text()
    keys = [line.split(":")[0] for line in current.splitlines() if line and line[0].isalpha()]
    assert keys[:4] == ["id", "name", "description", "category"]


def test_migrated_data_transform_gives_the_same_json(migrated: Path, tmp_path: Path) -> None:
    needs_javascript()
    sample = tmp_path / "sample.csv"
    sample.write_text("amount,active\n3,true\n4,false\n5,true\n", encoding="utf-8")
    results: list[object] = []
    for source in (DATA / "data-transform.flow.yaml", migrated / "data-transform.flow.yaml"):
        out = tmp_path / f"{len(results)}.json"
        flow = copy_flow(
            source, tmp_path, {"/data/sample.csv": sample, "/output/results.json": out}, "f.yaml"
        )
        run_flow(flow, tmp_path)
        results.append(json.loads(out.read_text()))
    assert results[0] == results[1] == {"total": 8, "count": 2, "average": 4}


def test_migrated_hello_world_writes_the_same_text(
    migrated: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    needs_javascript()
    monkeypatch.chdir(tmp_path)
    texts = []
    for source in (DATA / "hello-world.flow.yaml", migrated / "hello-world.flow.yaml"):
        run_flow(source, tmp_path)
        text = (tmp_path / ".tmp/hello-world-output.txt").read_text()
        texts.append(text.rsplit("Generated at:", 1)[0])
    assert texts[0] == texts[1] and texts[0].startswith("Hello World from Atomiton!")


def test_migrated_image_processor_writes_the_same_images(migrated: Path, tmp_path: Path) -> None:
    image = pytest.importorskip("PIL.Image", reason="image flows need atomiton[image]")
    source = tmp_path / "in"
    source.mkdir()
    image.new("RGB", (900, 900), (10, 200, 90)).save(source / "a.png")
    image.new("RGBA", (40, 20), (255, 255, 255, 255)).save(tmp_path / "mark.png")
    outputs = []
    for index, flow_file in enumerate(
        (DATA / "image-processor.flow.yaml", migrated / "image-processor.flow.yaml")
    ):
        out = tmp_path / f"out{index}"
        paths = {
            "/images/input": source,
            "/images/output": out,
            "/assets/watermark.png": tmp_path / "mark.png",
        }
        run_flow(copy_flow(flow_file, tmp_path, paths, "f.yaml"), tmp_path)
        outputs.append({p.name: p.read_bytes() for p in out.iterdir()})
    assert list(outputs[0]) == ["a.jpg"] and outputs[0] == outputs[1]


def test_check_and_diff_write_nothing(tmp_path: Path) -> None:
    flow = copy_flow(DATA / "hello-world.flow.yaml", tmp_path, {})
    before = flow.read_text()
    checked = migrate(str(flow), "--check", cwd=tmp_path)
    assert checked.returncode == 1 and flow.read_text() == before
    diffed = migrate(str(flow), "--diff", cwd=tmp_path)
    assert diffed.returncode == 0 and flow.read_text() == before
    assert "-    inputPorts:" in diffed.stdout and "+      runtime: javascript" in diffed.stdout
    done = migrate(str(flow), cwd=tmp_path)
    assert done.returncode == 0 and flow.read_text() != before
    again = migrate(str(flow), "--check", cwd=tmp_path)
    assert again.returncode == 0 and "native already" in again.stderr


def test_a_broken_file_is_reported_and_left_alone(tmp_path: Path) -> None:
    flow = tmp_path / "broken.yaml"
    flow.write_text("dialect: klingon\nnodes: []\n")
    result = migrate(str(flow), cwd=tmp_path)
    assert result.returncode == 1
    assert "broken.yaml:1:10: error[E1001]" in result.stderr
    assert flow.read_text() == "dialect: klingon\nnodes: []\n"
