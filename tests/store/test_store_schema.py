"""The history's file: where it is, WAL mode, and migrating a database of an older schema."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from atomiton.store import SCHEMA_VERSION, RunStore, StoreError, default_db_path
from atomiton.store.schema import MIGRATIONS, connect, schema_version


def test_a_new_history_is_at_the_current_schema_in_wal_mode(tmp_path: Path) -> None:
    with RunStore.open(tmp_path / "h.db") as store:
        assert store.list_runs() == []
    conn = sqlite3.connect(tmp_path / "h.db")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert schema_version(conn) == SCHEMA_VERSION == len(MIGRATIONS)
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"runs", "nodes", "events", "blobs", "run_blobs"} <= tables


def test_a_version_1_database_is_migrated_and_keeps_its_runs(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = connect(path, target=1)
    assert schema_version(old) == 1
    assert old.execute("SELECT name FROM sqlite_master WHERE name = 'blobs'").fetchone() is None
    old.execute(
        "INSERT INTO runs (id, blueprint_id, name, status, started, ended)"
        " VALUES ('01old', 'legacy', 'Legacy', 'completed', 100.0, 102.5)"
    )
    old.execute("INSERT INTO events VALUES ('01old', 1, 1, '[{\"event\": \"execution.started\"}]')")
    old.close()

    with RunStore.open(path) as store:
        runs = store.list_runs(blueprint="legacy")  # the index added by step 2 serves this
        assert [(r.id, r.status, r.duration) for r in runs] == [("01old", "completed", 2.5)]
        assert store.events("01old") == [{"event": "execution.started", "seq": 1}]
        assert store.blob("0" * 64) is None  # the blobs table exists now
    assert schema_version(sqlite3.connect(path)) == SCHEMA_VERSION


def test_a_database_from_a_newer_atomiton_is_refused_not_damaged(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    RunStore.open(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(StoreError, match="schema version"):
        RunStore.open(path)
    assert schema_version(sqlite3.connect(path)) == SCHEMA_VERSION + 1


def test_a_file_that_is_not_a_database_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="junk.db"):
        RunStore.open(path)


def test_the_default_history_is_under_the_project_or_atomiton_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    (project / "flows" / "deep").mkdir(parents=True)
    (project / "pyproject.toml").write_text("[project]\nname = 'p'\n")
    monkeypatch.delenv("ATOMITON_HOME", raising=False)
    assert default_db_path(project / "flows" / "deep") == project / ".atomiton" / "history.db"
    loose = tmp_path / "loose"
    (loose / ".atomiton").mkdir(parents=True)
    (loose / "sub").mkdir()
    assert default_db_path(loose / "sub") == loose / ".atomiton" / "history.db"
    monkeypatch.setenv("ATOMITON_HOME", str(tmp_path / "home"))
    assert default_db_path(project) == tmp_path / "home" / "history.db"


def test_a_project_history_folder_is_kept_out_of_git(tmp_path: Path) -> None:
    RunStore.open(tmp_path / ".atomiton" / "history.db").close()
    assert (tmp_path / ".atomiton" / ".gitignore").read_text().splitlines()[-1] == "*"
