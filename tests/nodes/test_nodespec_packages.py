"""Node packages found by entry point: listed, compiled, run, and their clashes reported.

Each test writes a real distribution into a temporary folder (a module plus a ``.dist-info`` with
``entry_points.txt``, what an installed wheel leaves behind) and runs the real ``atomiton``
command with that folder on ``PYTHONPATH``, so ``importlib.metadata`` finds it as it finds an
installed package. The full install into a fresh environment is ``test_nodespec_plugin_venv``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

SHOUT = '''\
"""A node that upper-cases text."""

from __future__ import annotations

from typing import Annotated, Final

from pydantic import Field

from atomiton.nodes.spec import NodeParams, Port, node_spec


class Params(NodeParams):
    marks: int = Field(default=1, ge=0, description="How many '!' to add.")


def run(params: Params, *, text: Annotated[str, Port(description="What to shout.")]) -> str:
    return text.upper() + "!" * params.marks


SPEC: Final = node_spec(run, description="Shout the text.", type="{type}")
'''


def _package(root: Path, dist: str, module: str, entries: dict[str, str], source: str) -> None:
    (root / f"{module}.py").write_text(source, encoding="utf-8")
    info = root / f"{dist.replace('-', '_')}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    lines = "".join(f"{name} = {value}\n" for name, value in entries.items())
    (info / "entry_points.txt").write_text(f"[atomiton.nodes]\n{lines}", encoding="utf-8")


def _atomiton(root: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]),
    }
    return subprocess.run(
        [sys.executable, "-m", "atomiton", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


BLUEPRINT = """\
id: shouting
interface:
  inputs:
    - {id: text, dataType: string}
  outputs:
    - {id: loud, dataType: string}
nodes:
  - id: loud
    type: %s
    parameters:
      marks: 2
edges:
  - {source: input, sourceHandle: text, target: loud, targetHandle: text}
  - {source: loud, target: output, targetHandle: loud}
"""


def test_a_package_node_is_listed_compiled_checked_and_run(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    _package(
        site, "shout-nodes", "shout_node", {"shout": "shout_node"}, SHOUT.replace("{type}", "shout")
    )
    blueprint = tmp_path / "shout.yaml"
    blueprint.write_text(BLUEPRINT % "shout", encoding="utf-8")

    listed = _atomiton(site, "nodes", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert "shout" in listed.stdout.split()
    line = next(line for line in listed.stdout.splitlines() if line.startswith("shout "))
    assert "Shout the text." in line and "(package shout-nodes)" in line

    described = _atomiton(site, "nodes", "shout", cwd=tmp_path)
    assert described.returncode == 0, described.stderr
    assert "text" in described.stdout and "What to shout." in described.stdout

    compiled = _atomiton(site, "compile", str(blueprint), "-o", str(tmp_path / "out"), cwd=tmp_path)
    assert compiled.returncode == 0, compiled.stderr
    module = (tmp_path / "out" / "shout.py").read_text(encoding="utf-8")
    # Imported by its own name, like a built-in node is from atomiton.nodes.
    assert "import shout_node as _ext_shout_node" in module

    ran = _atomiton(site, "run", str(blueprint), "--input", "text=hey", "--json", cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout) == {"loud": "HEY!!"}


def test_edges_into_a_package_node_are_type_checked(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    _package(
        site, "shout-nodes", "shout_node", {"shout": "shout_node"}, SHOUT.replace("{type}", "shout")
    )
    blueprint = tmp_path / "shout.yaml"
    blueprint.write_text(
        (BLUEPRINT % "shout").replace(
            "dataType: string}\n  outputs", "dataType: integer}\n  outputs"
        ),
        encoding="utf-8",
    )
    checked = _atomiton(site, "check", "--no-mypy", str(blueprint), cwd=tmp_path)
    assert checked.returncode == 1
    assert "error[E04" in checked.stderr  # an integer into the string port 'text'
    assert "Traceback" not in checked.stderr


def test_a_package_that_declares_a_builtin_type_is_an_error(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    _package(
        site,
        "sneaky-nodes",
        "sneaky",
        {"transform": "sneaky"},
        SHOUT.replace("{type}", "transform"),
    )
    listed = _atomiton(site, "nodes", cwd=tmp_path)
    assert listed.returncode == 1
    assert "error[E0240]" in listed.stderr and "'sneaky-nodes'" in listed.stderr
    assert "'transform'" in listed.stderr

    blueprint = tmp_path / "uses.yaml"
    blueprint.write_text(
        textwrap.dedent("""\
            id: uses
            nodes:
              - id: t
                type: transform
                parameters: {operation: sort}
            """),
        encoding="utf-8",
    )
    checked = _atomiton(site, "check", "--no-mypy", str(blueprint), cwd=tmp_path)
    assert checked.returncode == 1
    assert "uses.yaml:3:5:" in checked.stderr and "error[E0240]" in checked.stderr
    assert "Traceback" not in checked.stderr


def test_two_packages_declaring_one_type_name_both_named(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    _package(site, "shout-a", "shout_a", {"shout": "shout_a"}, SHOUT.replace("{type}", "shout"))
    _package(site, "shout-b", "shout_b", {"shout": "shout_b"}, SHOUT.replace("{type}", "shout"))
    listed = _atomiton(site, "nodes", cwd=tmp_path)
    assert listed.returncode == 1
    assert "error[E0240]" in listed.stderr
    assert "'shout-a'" in listed.stderr and "'shout-b'" in listed.stderr
    assert not any(line.startswith("shout ") for line in listed.stdout.splitlines())


def test_a_package_that_fails_to_import_is_reported_not_raised(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    _package(site, "broken-nodes", "broken", {"broken": "broken"}, "import no_such_module_here\n")
    listed = _atomiton(site, "nodes", cwd=tmp_path)
    assert listed.returncode == 1
    assert "error[E0241]" in listed.stderr and "no_such_module_here" in listed.stderr

    blueprint = tmp_path / "b.yaml"
    blueprint.write_text("id: b\nnodes:\n  - id: x\n    type: broken\n", encoding="utf-8")
    checked = _atomiton(site, "check", "--no-mypy", str(blueprint), cwd=tmp_path)
    assert checked.returncode == 1
    assert "b.yaml:3:" in checked.stderr and "error[E0241]" in checked.stderr
    assert "Traceback" not in checked.stderr


def test_an_entry_point_whose_spec_is_for_another_type_is_reported(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    _package(site, "mixed-nodes", "mixed", {"shout": "mixed"}, SHOUT.replace("{type}", "yell"))
    _package(site, "odd-nodes", "odd", {"odd": "odd:NOT_A_SPEC"}, "NOT_A_SPEC = 42\n")
    listed = _atomiton(site, "nodes", cwd=tmp_path)
    assert listed.returncode == 1
    assert "its spec is for type 'yell'" in listed.stderr
    assert "odd:NOT_A_SPEC" in listed.stderr or "odd.NOT_A_SPEC is not a NodeSpec" in listed.stderr
    assert listed.stderr.count("error[E0241]") == 2
    described = _atomiton(site, "nodes", "shout", cwd=tmp_path)
    assert described.returncode == 1 and "E0241" in described.stderr
    assert "Traceback" not in described.stderr
