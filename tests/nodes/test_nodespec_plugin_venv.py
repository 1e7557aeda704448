"""``examples/plugin`` installs into a fresh environment and its node works there end to end.

A new virtual environment sees this one's packages (atomiton, pydantic, the build backend)
through a ``.pth`` file, then ``pip install --no-deps --no-build-isolation`` builds and installs
the example package into it. Every step runs the real commands with that environment's Python:
``atomiton nodes`` lists the node with its package, the example blueprint compiles, ``atomiton
check`` type-checks it (mypy on a module that imports the package), and ``atomiton run`` runs it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

PLUGIN = Path(__file__).resolve().parents[2] / "examples" / "plugin"


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_example_plugin_installs_lists_compiles_checks_and_runs(tmp_path: Path) -> None:
    env = tmp_path / "env"
    made = _run(
        sys.executable,
        "-m",
        "venv",
        "--system-site-packages",
        "--without-pip",
        str(env),
        cwd=tmp_path,
    )
    assert made.returncode == 0, made.stderr
    python = str(env / "bin" / "python")
    purelib = _run(
        python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))", cwd=tmp_path
    )
    # This environment's site folder, with its .pth files (the editable atomiton) processed.
    here = sysconfig.get_path("purelib")
    (Path(purelib.stdout.strip()) / "_parent_env.pth").write_text(
        f"import site; site.addsitedir({here!r})\n", encoding="utf-8"
    )
    source = tmp_path / "plugin"
    shutil.copytree(PLUGIN, source)  # pip builds in place: keep the checkout clean

    installed = _run(
        python, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index",
        str(source), cwd=tmp_path,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stdout + installed.stderr

    listed = _run(python, "-m", "atomiton", "nodes", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    line = next(line for line in listed.stdout.splitlines() if line.startswith("slugify "))
    assert "(package atomiton-slugify)" in line
    described = _run(python, "-m", "atomiton", "nodes", "slugify", cwd=tmp_path)
    assert described.returncode == 0, described.stderr
    assert "maxLength" in described.stdout and "The title to turn into a slug." in described.stdout
    # docs/nodes.md documents atomiton itself, whatever packages are installed.
    page = _run(python, "-m", "atomiton.nodes.catalogue", cwd=tmp_path)
    assert page.returncode == 0 and "## transform" in page.stdout
    assert "slugify" not in page.stdout

    blueprint = str(source / "slug_titles.yaml")
    compiled = _run(python, "-m", "atomiton", "compile", blueprint, "-o", "flows", cwd=tmp_path)
    assert compiled.returncode == 0, compiled.stderr
    module = (tmp_path / "flows" / "slug_titles.py").read_text(encoding="utf-8")
    assert "from atomiton_slugify import slugify as _ext_atomiton_slugify_slugify" in module

    checked = _run(python, "-m", "atomiton", "check", "--no-cache", blueprint, cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert "ok: 1 blueprint checked" in checked.stdout + checked.stderr

    ran = _run(
        python, "-m", "atomiton", "run", blueprint, "--input", "title=Crème brûlée, 2 ways!",
        "--json", cwd=tmp_path,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout) == {
        "slug": "creme-brulee-2-ways",
        "page": "/posts/creme-brulee-2-ways.html",
    }

    # The generated module runs in a plain interpreter of that environment too.
    imported = _run(
        python, "-c",
        "import sys; sys.path.insert(0, 'flows'); import slug_titles as m;"
        "print(m.run(m.Inputs(title='Hello, World')).slug)",
        cwd=tmp_path,
    )  # fmt: skip
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.strip() == "hello-world"
