"""Every example in examples/ runs end to end through the real ``atomiton`` command."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def atomiton(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "atomiton", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_hello_world_writes_the_greeting(tmp_path: Path) -> None:
    target = tmp_path / "greetings" / "hello.txt"
    result = atomiton(
        "run", str(EXAMPLES / "hello_world.yaml"),
        "--input", "name=Ada", "--input", f"outPath={target}", "--json",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    outputs = json.loads(result.stdout)
    assert target.read_text() == "Hello, Ada!\n"
    assert outputs["message"] == "Hello, Ada!\n"
    assert Path(outputs["path"]).resolve() == target.resolve()


def test_hello_world_default_path_is_under_the_working_directory(tmp_path: Path) -> None:
    result = atomiton("run", str(EXAMPLES / "hello_world.yaml"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out" / "hello.txt").read_text() == "Hello, world!\n"


def test_data_transform_totals_large_orders(tmp_path: Path) -> None:
    target = tmp_path / "totals.json"
    result = atomiton(
        "run", str(EXAMPLES / "data_transform.yaml"),
        "--input", f"ordersPath={EXAMPLES / 'data' / 'orders.csv'}",
        "--input", "threshold=100", "--input", f"outPath={target}", "--json",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    written = json.loads(target.read_text())

    # The same numbers computed directly from the CSV.
    import csv

    with open(EXAMPLES / "data" / "orders.csv", newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if float(r["amount"]) > 100]
    expected: dict[str, float] = {}
    for row in rows:
        expected[row["customer"]] = expected.get(row["customer"], 0.0) + float(row["amount"])
    assert written["orders"] == len(rows)
    assert written["customers"] == {k: expected[k] for k in sorted(expected)}
    assert written["total"] == round(sum(expected.values()), 2)
    assert json.loads(result.stdout)["summary"] == written


def test_every_example_compiles_and_type_checks(tmp_path: Path) -> None:
    out = tmp_path / "flows"
    result = atomiton("compile", str(EXAMPLES), "-o", str(out), cwd=ROOT)
    assert result.returncode == 0, result.stderr
    modules = sorted(out.glob("*.py"))
    assert {m.stem for m in modules} >= {"hello_world", "data_transform", "__init__"}
    from mypy import api

    stdout, stderr, status = api.run(["--strict", "--no-incremental", *map(str, modules)])
    assert status == 0, stdout + stderr
