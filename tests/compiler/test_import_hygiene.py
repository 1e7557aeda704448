"""A generated module imports the runtime, its node modules and pydantic, never the compiler.

The module is compiled here, written to a temporary folder, then imported by a fresh interpreter
that reports which of the build-time packages ended up in ``sys.modules``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from flowfiles import compile_data

BUILD_TIME = [
    "yaml",
    "jinja2",
    "black",
    "mypy",
    "click",
    "rich",
    "atomiton.compiler",
    "atomiton.cli",
]

CHECK = """
import importlib.util, json, sys
path, forbidden = sys.argv[1], json.loads(sys.argv[2])
spec = importlib.util.spec_from_file_location("flow_under_test", path)
module = importlib.util.module_from_spec(spec)
sys.modules["flow_under_test"] = module
spec.loader.exec_module(module)
outputs = module.run(module.Inputs(name="hygiene"))
loaded = sorted(m for m in forbidden if m in sys.modules)
print(json.dumps({"loaded": loaded, "outputs": outputs.model_dump(mode="json")}))
"""


def test_generated_module_imports_no_build_time_package(tmp_path: Path) -> None:
    blueprint = {
        "id": "hygiene",
        "interface": {"inputs": [{"id": "name", "dataType": "string", "default": "world"}]},
        "nodes": [
            {
                "id": "greet",
                "type": "edit-fields",
                "parameters": {"values": {"greeting": "Hello {{ inputs.name }}"}},
            },
            {
                "id": "rows",
                "type": "transform",
                "parameters": {"operation": "map", "transformFunction": "item * 2"},
            },
            {"id": "calc", "type": "code", "parameters": {"code": "return len(data)"}},
        ],
        "edges": [
            {"source": "input", "sourceHandle": "name", "target": "calc"},
        ],
    }
    blueprint["variables"] = {"numbers": {"type": "array", "defaultValue": [1, 2]}}
    blueprint["edges"].append({"source": "input", "sourceHandle": "numbers", "target": "rows"})
    compiled = compile_data(tmp_path / "src", blueprint, name="hygiene")
    module_path = tmp_path / "hygiene_flow.py"
    module_path.write_text(compiled.code, encoding="utf-8")

    process = subprocess.run(
        [sys.executable, "-c", CHECK, str(module_path), json.dumps(BUILD_TIME)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert process.returncode == 0, f"importing the generated module failed:\n{process.stderr}"
    report = json.loads(process.stdout.strip().splitlines()[-1])
    assert (
        report["loaded"] == []
    ), f"a generated module pulled in build-time packages: {report['loaded']}"
    assert report["outputs"] == {"greet": {"greeting": "Hello hygiene"}, "rows": [2, 4], "calc": 7}
