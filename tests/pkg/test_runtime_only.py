"""The runtime-only distribution (packaging/runtime): a generated module runs with it and pydantic
alone, without the compiler's libraries.

The wheel is built from this checkout and installed into a bare folder; the module then runs in
an interpreter started with ``-S`` (no site-packages) whose path holds only that folder and
pydantic with the packages it needs.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import atomiton
from atomiton.compiler import compile_blueprint

ROOT = Path(__file__).resolve().parents[2]
COMPILER_LIBRARIES = ("yaml", "jinja2", "black", "mypy", "click", "rich")
PYDANTIC_AND_ITS_NEEDS = (
    "pydantic",
    "pydantic_core",
    "annotated_types",
    "typing_extensions",
    "typing_inspection",
)

FLOW = """\
id: shout
variables:
  name: {type: string, defaultValue: world}
nodes:
  - id: greet
    type: edit-fields
    parameters:
      values: {text: "hello {{ inputs.name }}"}
  - id: loud
    type: code
    parameters:
      code: |
        text = data["text"].upper()
        return {"text": text, "length": len(text)}
  - id: save
    type: file-system
    parameters: {operation: write, path: out/shout.json}
edges:
  - {source: greet, target: loud}
  - {source: loud, target: save, targetHandle: content}
  - {source: loud, target: output, targetHandle: shout}
"""

RUN = """\
import json, sys
import shout
outputs = shout.run(shout.Inputs(name="ada"))
loaded = sorted(n for n in sys.modules if n.split(".")[0] in LIBRARIES)
try:
    import atomiton.compiler
except ModuleNotFoundError as missing:
    compiler = str(missing)
else:
    compiler = "importable"
print(json.dumps({"shout": outputs.shout, "loaded": loaded, "compiler": compiler}))
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation"]
        + [str(ROOT / "packaging" / "runtime"), "--wheel-dir", str(folder)],
        check=True,
        capture_output=True,
    )
    (built,) = folder.glob(f"atomiton_runtime-{atomiton.__version__}-*.whl")
    return built


def test_the_wheel_holds_the_runtime_and_nodes_but_not_the_compiler(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert "atomiton/runtime/runner.py" in names
    assert "atomiton/nodes/transform.py" in names
    assert "atomiton/py.typed" in names
    assert "atomiton/naming.py" in names  # the node library's case conversion
    for part in ("compiler", "cli", "templates"):
        assert not any(n.startswith(f"atomiton/{part}/") for n in names), part
    metadata = zipfile.ZipFile(wheel).read(
        next(n for n in names if n.endswith(".dist-info/METADATA"))
    )
    requires = [line for line in metadata.decode().splitlines() if line.startswith("Requires-Dist")]
    assert requires[0].startswith("Requires-Dist: pydantic")
    assert all("extra ==" in line for line in requires[1:])


@pytest.mark.slow
def test_a_generated_module_runs_on_the_runtime_alone(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(site)]
        + [str(wheel)],
        check=True,
        capture_output=True,
    )
    for name in PYDANTIC_AND_ITS_NEEDS:
        module = importlib.import_module(name)
        source = Path(module.__file__ or "")
        origin = source.parent if source.name == "__init__.py" else source
        (site / origin.name).symlink_to(origin)
    work = tmp_path / "work"
    work.mkdir()
    (work / "shout.yaml").write_text(FLOW, encoding="utf-8")
    compiled = compile_blueprint(work / "shout.yaml")
    (work / "shout.py").write_text(compiled.code, encoding="utf-8")

    script = f"LIBRARIES = {COMPILER_LIBRARIES!r}\n" + RUN
    done = subprocess.run(
        [sys.executable, "-S", "-c", script],
        cwd=work,
        env={"PYTHONPATH": f"{work}:{site}", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["shout"] == {"text": "HELLO ADA", "length": 9}
    assert report["loaded"] == []
    assert "atomiton.compiler" in report["compiler"]
    written = json.loads((work / "out" / "shout.json").read_text(encoding="utf-8"))
    assert written == {"text": "HELLO ADA", "length": 9}
