"""Every example in examples/ runs end to end through the real ``atomiton`` command."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def atomiton(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "atomiton", *args],
        cwd=cwd,
        capture_output=True,
        check=False,
        text=True,
        timeout=120,
    )


def test_hello_world_writes_the_greeting(tmp_path: Path) -> None:
    target = tmp_path / "greetings" / "hello.txt"
    result = atomiton(
        "run",
        str(EXAMPLES / "hello_world.yaml"),
        "--input",
        "name=Ada",
        "--input",
        f"outPath={target}",
        "--json",
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
        "run",
        str(EXAMPLES / "data_transform.yaml"),
        "--input",
        f"ordersPath={EXAMPLES / 'data' / 'orders.csv'}",
        "--input",
        "threshold=100",
        "--input",
        f"outPath={target}",
        "--json",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    written = json.loads(target.read_text())

    # The same numbers computed directly from the CSV.
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


def test_image_thumbnails_makes_one_jpeg_per_png(tmp_path: Path) -> None:
    image = pytest.importorskip("PIL.Image")
    out = tmp_path / "thumbs"
    size = 40
    result = atomiton(
        "run",
        str(EXAMPLES / "image_thumbnails.yaml"),
        "--input",
        f"sourceDir={EXAMPLES / 'images'}",
        "--input",
        f"outDir={out}",
        "--input",
        f"size={size}",
        "--json",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    outputs = json.loads(result.stdout)
    pngs = sorted((EXAMPLES / "images").glob("*.png"))
    assert pngs, "examples/images has no PNG to thumbnail"
    assert outputs["count"] == len(pngs)
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{p.stem}.jpg" for p in pngs)
    for png, thumb in zip(pngs, outputs["thumbnails"]):  # results are in item order
        target = out / f"{png.stem}.jpg"
        assert Path(thumb["path"]).resolve() == target.resolve()
        with image.open(target) as picture:
            assert picture.format == "JPEG"
            assert max(picture.size) == size
            assert picture.size == (thumb["width"], thumb["height"])
        with image.open(png) as original:
            # "inside" keeps the aspect ratio: the short side follows it, to the pixel.
            width, height = original.size
            expected = (
                (size, round(height * size / width))
                if width >= height
                else (round(width * size / height), size)
            )
        assert abs(picture.size[0] - expected[0]) <= 1 and abs(picture.size[1] - expected[1]) <= 1


def test_shell_report_matches_du(tmp_path: Path) -> None:
    if shutil.which("du") is None:
        pytest.skip("no du program on PATH")
    folder = tmp_path / "measured"
    (folder / "sub").mkdir(parents=True)
    for name, kilobytes in (
        ("big.bin", 40),
        ("sub/medium.bin", 12),
        ("small.txt", 1),
        ("sub/tiny.txt", 0),
    ):
        (folder / name).write_bytes(b"x" * (kilobytes * 1024))
    target = tmp_path / "report" / "usage.csv"
    result = atomiton(
        "run",
        str(EXAMPLES / "shell_report.yaml"),
        "--input",
        f"folder={folder}",
        "--input",
        f"outPath={target}",
        "--json",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    with target.open(newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        rows = [(path, int(kilobytes)) for path, kilobytes in reader]
    assert header == ["path", "kilobytes"]
    sizes = [kilobytes for _, kilobytes in rows]
    assert sizes == sorted(sizes, reverse=True)

    direct = subprocess.run(
        ["du", "-a", "-k", str(folder)], capture_output=True, text=True, check=True
    )
    expected = [
        (path, int(size))
        for size, _, path in (line.partition("\t") for line in direct.stdout.splitlines())
    ]
    assert sorted(rows) == sorted(expected)
    assert rows[0] == (str(folder), max(sizes))  # the folder itself holds everything below it
    assert json.loads(result.stdout) == {"rows": len(expected), "path": str(target)}


def test_every_example_has_an_end_to_end_test() -> None:
    tested = {"hello_world", "data_transform", "image_thumbnails", "shell_report", "fan_in"}
    assert {p.stem for p in EXAMPLES.glob("*.yaml")} == tested


def test_bad_examples_are_skipped_by_compile_and_reported_by_check(tmp_path: Path) -> None:
    compiled = atomiton("compile", str(EXAMPLES), "-o", str(tmp_path / "flows"), cwd=ROOT)
    assert compiled.returncode == 0, compiled.stderr  # examples/bad holds an .atomitonignore
    assert not any(p.stem in {"typos", "miswired", "cycle"} for p in (tmp_path / "flows").iterdir())

    bad = sorted(str(p) for p in (EXAMPLES / "bad").glob("*.yaml"))
    checked = atomiton("check", "--no-mypy", *bad, cwd=ROOT)
    assert checked.returncode == 1
    codes = {
        line.split("error[")[1][:5] for line in checked.stderr.splitlines() if "error[" in line
    }
    assert codes == {"E0202", "E0203", "E0206", "E0207", "E0301", "E0401"}
    assert "Traceback" not in checked.stderr


def test_fan_in_joins_both_branches_onto_the_known_customers(tmp_path: Path) -> None:
    result = atomiton(
        "run",
        str(EXAMPLES / "fan_in.yaml"),
        "--input",
        f"ordersPath={EXAMPLES / 'data' / 'orders.csv'}",
        "--json",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    outputs = json.loads(result.stdout)

    # The same numbers computed directly from the CSV.
    totals: dict[str, float] = {}
    counts: dict[str, int] = {}
    with open(EXAMPLES / "data" / "orders.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            totals[row["customer"]] = totals.get(row["customer"], 0.0) + float(row["amount"])
            counts[row["customer"]] = counts.get(row["customer"], 0) + 1
    report = {row["customer"]: row for row in outputs["report"]}
    assert list(report) == ["acme", "hooli", "initech", "wayne"]  # the left side's order
    for name in ("acme", "hooli", "initech"):
        assert report[name]["total"] == round(totals[name], 2)
        assert report[name]["orders"] == counts[name]
    assert report["wayne"] == {"customer": "wayne", "region": "US"}  # left join: no orders
    assert outputs["customers"] == 4
