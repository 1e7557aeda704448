"""Where the run history lives and the shape of its SQLite database: location, connection
settings and the ordered schema migrations.

The database is one SQLite file in WAL mode (readers never block the writer, and one writer at a
time is enough: every recorder batches its writes). Its schema version is ``PRAGMA user_version``;
``MIGRATIONS`` lists the steps from an empty file to the current schema, and opening a database
applies the missing ones inside one ``BEGIN IMMEDIATE`` transaction, so two processes opening a
new file at once never both migrate it. Reading and writing runs is left to ``runstore.py`` and
``recorder.py``.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

DB_NAME: Final = "history.db"
HOME_ENV: Final = "ATOMITON_HOME"
PROJECT_FOLDER: Final = ".atomiton"
_MARKERS: Final = ("pyproject.toml", PROJECT_FOLDER)
# A writer waits this long for another process's write to end before giving up.
BUSY_TIMEOUT_MS: Final = 30_000


class StoreError(Exception):
    """The run history cannot be opened or used (unreadable file, newer schema, ...)."""


def project_folder(start: Path | None = None) -> Path:
    """The nearest folder at or above ``start`` (default: the current one) with a
    ``pyproject.toml`` or a ``.atomiton/`` folder; else ``start`` itself."""
    here = (start or Path.cwd()).absolute()
    for folder in (here, *here.parents):
        if any((folder / marker).exists() for marker in _MARKERS):
            return folder
    return here


def default_db_path(start: Path | None = None) -> Path:
    """``$ATOMITON_HOME/history.db`` when set, else ``.atomiton/history.db`` of the project."""
    home = os.environ.get(HOME_ENV)
    if home:
        return Path(home) / DB_NAME
    return project_folder(start) / PROJECT_FOLDER / DB_NAME


# Each step moves the schema from version i to i + 1; never edit a released step, append one.
MIGRATIONS: Final[tuple[str, ...]] = (
    # 1: runs, their nodes and their event stream (a row holds the events seq..last of one
    # written batch as a JSON array: one row per batch, not per event, keeps recording cheap).
    """
    CREATE TABLE runs (
        id TEXT PRIMARY KEY,
        blueprint_id TEXT NOT NULL,
        name TEXT NOT NULL DEFAULT '',
        version TEXT NOT NULL DEFAULT '',
        source TEXT NOT NULL DEFAULT '',
        sha256 TEXT NOT NULL DEFAULT '',
        path TEXT,
        atomiton_version TEXT NOT NULL DEFAULT '',
        status TEXT NOT NULL,
        started REAL NOT NULL,
        ended REAL,
        inputs TEXT,
        outputs TEXT,
        error TEXT,
        error_type TEXT,
        error_node TEXT,
        pid INTEGER,
        host TEXT,
        heartbeat REAL
    );
    CREATE INDEX runs_started ON runs (started);
    CREATE TABLE nodes (
        run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        node_id TEXT NOT NULL,
        idx INTEGER NOT NULL,
        type TEXT NOT NULL,
        state TEXT NOT NULL,
        started REAL,
        ended REAL,
        duration REAL,
        attempts INTEGER NOT NULL DEFAULT 0,
        error TEXT,
        error_type TEXT,
        source TEXT NOT NULL DEFAULT '',
        line INTEGER NOT NULL DEFAULT 0,
        col INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (run_id, node_id)
    ) WITHOUT ROWID;
    CREATE TABLE events (
        run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        last INTEGER NOT NULL,
        data TEXT NOT NULL,
        PRIMARY KEY (run_id, seq)
    ) WITHOUT ROWID;
    """,
    # 2: content-addressed blobs for values that are not JSON or too large to inline, the runs
    # that refer to each (so gc can drop orphans), and filtering runs by blueprint.
    """
    CREATE TABLE blobs (
        sha256 TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        size INTEGER NOT NULL,
        data BLOB NOT NULL
    );
    CREATE TABLE run_blobs (
        run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        sha256 TEXT NOT NULL,
        PRIMARY KEY (run_id, sha256)
    ) WITHOUT ROWID;
    CREATE INDEX runs_blueprint ON runs (blueprint_id, started);
    """,
    # 3: each node's output value (``values.py``'s stored form; NULL: not recorded).
    """
    ALTER TABLE nodes ADD COLUMN output TEXT;
    """,
    # 4 (node versions): each node's code version as the compiled module recorded it (NULL: a
    # module compiled before versions, or a node the run's blueprint did not list).
    """
    ALTER TABLE nodes ADD COLUMN version TEXT;
    """,
    # 5 (cache entries): node call values kept under their cache key (``cache_store.py``); the
    # run that wrote or reused each one (``cache_runs``: what ``run --resume`` may reuse); a
    # value too large to keep inline is a blob, referenced from ``cache_blobs`` so that the
    # runs' gc keeps it; each run's resumed run.
    """
    CREATE TABLE cache_entries (
        key TEXT PRIMARY KEY,
        blueprint_id TEXT NOT NULL,
        node_id TEXT NOT NULL,
        version TEXT NOT NULL DEFAULT '',
        value TEXT,
        blob TEXT,
        size INTEGER NOT NULL,
        created REAL NOT NULL,
        used REAL NOT NULL,
        hits INTEGER NOT NULL DEFAULT 0
    ) WITHOUT ROWID;
    CREATE INDEX cache_entries_used ON cache_entries (used);
    CREATE TABLE cache_runs (
        run_id TEXT NOT NULL,
        key TEXT NOT NULL,
        node_id TEXT NOT NULL,
        PRIMARY KEY (run_id, key)
    ) WITHOUT ROWID;
    CREATE TABLE cache_blobs (
        key TEXT NOT NULL REFERENCES cache_entries (key) ON DELETE CASCADE,
        sha256 TEXT NOT NULL,
        PRIMARY KEY (key, sha256)
    ) WITHOUT ROWID;
    ALTER TABLE runs ADD COLUMN resumed_from TEXT;
    """,
)
SCHEMA_VERSION: Final = len(MIGRATIONS)


def connect(path: Path, *, target: int = SCHEMA_VERSION) -> sqlite3.Connection:
    """Open (creating if needed) the database at ``path``, migrated to schema ``target``.

    ``target`` below the current version exists for tests that build an old database.

    Raises:
        StoreError: the file cannot be opened, is not a database, or has a newer schema.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _ignore_in_git(path.parent)
        # Autocommit mode: transactions are explicit (BEGIN IMMEDIATE), never implicit.
        conn = sqlite3.connect(
            path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
        )
    except (OSError, sqlite3.Error) as exc:
        raise StoreError(f"cannot open the run history {path}: {exc}") from None
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        if conn.execute("PRAGMA journal_mode = WAL").fetchone()[0] != "wal":
            raise StoreError(f"the run history {path} cannot use WAL mode")
        conn.execute("PRAGMA synchronous = NORMAL")  # WAL: durable at checkpoints, never corrupt
        conn.execute("PRAGMA foreign_keys = ON")
        migrate(conn, target=target)
    except sqlite3.Error as exc:
        conn.close()
        raise StoreError(f"cannot use the run history {path}: {exc}") from None
    except StoreError:
        conn.close()
        raise
    return conn


def schema_version(conn: sqlite3.Connection) -> int:
    """The schema version of an open database (0: empty)."""
    value: int = conn.execute("PRAGMA user_version").fetchone()[0]
    return value


def migrate(conn: sqlite3.Connection, *, target: int = SCHEMA_VERSION) -> int:
    """Apply the missing migration steps up to ``target``; returns the version reached.

    Raises:
        StoreError: the database was written by a newer atomiton (a higher version).
    """
    if schema_version(conn) == target:
        return target
    conn.execute("BEGIN IMMEDIATE")
    try:
        current = schema_version(conn)  # again, now that no one else can migrate
        if current > SCHEMA_VERSION:
            raise StoreError(
                f"the run history has schema version {current}; this atomiton knows up to "
                f"{SCHEMA_VERSION} (upgrade atomiton, or use another --db)"
            )
        for version in range(current, target):
            for statement in _statements(MIGRATIONS[version]):
                conn.execute(statement)
        if target > current:
            conn.execute(f"PRAGMA user_version = {int(target)}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return max(current, target)


def _statements(script: str) -> list[str]:
    """The statements of a migration step (``executescript`` would commit our transaction)."""
    return [part.strip() for part in script.split(";") if part.strip()]


def _ignore_in_git(folder: Path) -> None:
    """Keep a project's ``.atomiton/`` history out of commits (the database is not source)."""
    if folder.name != PROJECT_FOLDER:
        return
    ignore = folder / ".gitignore"
    if not ignore.exists():
        try:
            ignore.write_text("# created by atomiton: run history and caches are not source\n*\n")
        except OSError:
            pass  # a read-only folder still holds a history if the file is writable


@contextmanager
def write_transaction(conn: sqlite3.Connection, failure: str) -> Iterator[None]:
    """One ``BEGIN IMMEDIATE`` transaction around the block: committed at its end, rolled back
    on a database error, which is raised as ``StoreError("<failure>: <error>")``."""
    try:
        conn.execute("BEGIN IMMEDIATE")
        yield
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise StoreError(f"{failure}: {exc}") from None
