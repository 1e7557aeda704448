"""``atomiton run`` records runs; ``atomiton runs`` lists, shows, prints and cleans them up."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from atomiton.cli import main
from atomiton.store import RunStore

TWO_NODES_FILE = "flow.yaml"


def cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture
def flow(workdir: Path, two_nodes: object) -> Path:
    """``flow.yaml`` (the two-node blueprint) in the current folder."""
    return workdir / TWO_NODES_FILE


def history() -> Path:
    return Path(os.environ["ATOMITON_HOME"]) / "history.db"


def _runs_json(*args: str) -> list[dict[str, object]]:
    result = cli("runs", "--json", *args)
    assert result.exit_code == 0, result.stderr
    runs: list[dict[str, object]] = json.loads(result.stdout)
    return runs


def test_every_run_is_recorded_with_its_own_id(flow: Path) -> None:
    assert cli("run", TWO_NODES_FILE, "--input", "n=1").exit_code == 0
    assert cli("run", TWO_NODES_FILE, "--input", "n=-1").exit_code == 3
    runs = _runs_json()
    assert [r["status"] for r in runs] == ["failed", "completed"]  # newest first
    assert len({r["id"] for r in runs}) == 2
    with RunStore.open(history()) as store:
        detail = store.get_run(str(runs[1]["id"]))
    assert detail is not None
    assert detail.inputs == {"n": 1} and detail.outputs == {"total": 3}
    assert detail.path == str(flow.absolute())


def test_no_record_writes_nothing_and_db_picks_the_file(workdir: Path, flow: Path) -> None:
    assert cli("run", TWO_NODES_FILE, "--no-record").exit_code == 0
    assert not history().exists()
    assert cli("run", TWO_NODES_FILE, "--db", "elsewhere/runs.db").exit_code == 0
    assert not history().exists()
    assert [r["status"] for r in _runs_json("--db", "elsewhere/runs.db")] == ["completed"]


def test_a_history_that_cannot_be_written_is_a_warning(workdir: Path, flow: Path) -> None:
    (workdir / "a-file").write_text("not a folder")
    result = cli("run", TWO_NODES_FILE, "--db", "a-file/runs.db")
    assert result.exit_code == 0
    assert "the run was not recorded" in result.stderr and "a-file" in result.stderr


def test_the_table_and_its_filters(flow: Path, compile_flow: object) -> None:
    for n in ("1", "-1", "2"):
        cli("run", TWO_NODES_FILE, "--input", f"n={n}")
    table = cli("runs").stdout.splitlines()
    assert table[0].split() == ["ID", "BLUEPRINT", "STATUS", "STARTED", "DURATION"]
    assert [line.split()[2] for line in table[1:]] == ["completed", "failed", "completed"]
    assert {line.split()[1] for line in table[1:]} == {"two-nodes"}
    assert [r["status"] for r in _runs_json("--status", "failed")] == ["failed"]
    assert len(_runs_json("--last", "2")) == 2
    assert len(_runs_json("--blueprint", "two-nodes")) == 3
    assert _runs_json("--blueprint", "other") == []
    assert cli("runs", "--status", "bogus").exit_code == 2


def test_show_accepts_a_unique_prefix_and_shows_errors_at_their_position(
    workdir: Path, flow: Path
) -> None:
    (workdir / "sub").mkdir()
    os.chdir(workdir / "sub")  # positions are shown from the current folder
    cli("run", f"../{TWO_NODES_FILE}", "--input", "n=-1")
    (run,) = _runs_json()
    run_id = str(run["id"])
    result = cli("runs", "show", run_id[:-4])
    assert result.exit_code == 0, result.stderr
    assert f"run {run_id}: Two nodes (two-nodes 1.2.0) failed" in result.stdout
    assert "../flow.yaml:15:5: node 'check' (code) failed: ValueError: negative input" in (
        result.stdout
    )
    nodes = {line.split()[0]: line.split()[2] for line in result.stdout.splitlines()[6:9]}
    assert nodes == {"NODE": "STATE", "double": "done", "check": "failed"}
    shown = json.loads(cli("runs", "show", run_id, "--json").stdout)
    assert shown["nodes"][1]["position"] == "flow.yaml:15:5"


def test_unknown_and_ambiguous_ids(flow: Path) -> None:
    cli("run", TWO_NODES_FILE)
    cli("run", TWO_NODES_FILE)
    unknown = cli("runs", "show", "ffffffff")
    assert unknown.exit_code == 1 and "no run 'ffffffff'" in unknown.stderr
    ambiguous = cli("runs", "show", "0")
    assert ambiguous.exit_code == 2 and "ambiguous" in ambiguous.stderr
    assert cli("runs", "events", "ffffffff").exit_code == 1


def test_events_print_what_run_events_wrote(flow: Path) -> None:
    assert cli("run", TWO_NODES_FILE, "--events", "events.jsonl").exit_code == 0
    (run,) = _runs_json()
    result = cli("runs", "events", str(run["id"])[:13])
    assert result.exit_code == 0
    assert result.stdout == Path("events.jsonl").read_text(encoding="utf-8")
    after = cli("runs", "events", str(run["id"]), "--after", "2").stdout
    assert after.splitlines() == result.stdout.splitlines()[2:]


def test_gc_keeps_the_newest_or_drops_the_old(flow: Path) -> None:
    for _ in range(4):
        cli("run", TWO_NODES_FILE)
    newest = _runs_json()[:2]
    kept = cli("runs", "gc", "--keep", "2")
    assert kept.exit_code == 0 and "deleted 2 runs" in kept.stderr
    assert _runs_json() == newest
    assert "deleted 0 runs" in cli("runs", "gc", "--older-than", "1d").stderr
    time.sleep(0.05)
    assert "deleted 2 runs" in cli("runs", "gc", "--older-than", "0s").stderr
    assert _runs_json() == []
    assert cli("runs", "gc").exit_code == 2
    bad = cli("runs", "gc", "--older-than", "soon")
    assert bad.exit_code == 2 and "30d" in bad.stderr


def test_reading_an_empty_history_creates_nothing(workdir: Path) -> None:
    result = cli("runs")
    assert result.exit_code == 0 and "no runs recorded" in result.stderr
    assert _runs_json() == []
    assert cli("runs", "show", "01").exit_code == 1
    assert not history().exists()


def test_help_imports_no_sqlite(tmp_path: Path) -> None:
    probe = textwrap.dedent("""\
        import sys
        from atomiton.cli import main
        for args in (["--help"], ["runs", "--help"], ["runs", "show", "--help"]):
            try:
                main(args)
            except SystemExit:
                pass
        print("sqlite3" in sys.modules, "atomiton.store" in sys.modules)
    """)
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert result.stdout.splitlines()[-1] == "False False"
