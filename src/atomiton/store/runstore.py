"""Reading the run history: ``RunStore`` lists runs, reads one with its nodes and events, reads
blobs, and deletes old runs (``gc``).

Opening a store also settles runs whose process is gone: a run still marked ``running`` whose
owner process no longer exists on this host, or whose heartbeat is older than ``LEASE`` seconds
(the recorder beats every few seconds while a run goes on), becomes ``interrupted``. Writing runs
is ``recorder.py``'s; the schema is ``schema.py``'s.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any, Final, cast

from .records import RUN_STATUSES, NodeRecord, NodeState, RunDetail, RunStatus, RunSummary
from .schema import StoreError, connect, default_db_path, write_transaction
from .values import decode

# A running run whose heartbeat is older than this is taken for dead (its process may live on
# another host, or its pid may have been reused).
LEASE: Final = 30.0
HEARTBEAT: Final = 5.0
INTERRUPTED_NODE: Final = (
    "interrupted: the process running it ended before the node did"  # how often a recorder refreshes the heartbeat of its running runs
)

_SUMMARY_COLUMNS: Final = "id, blueprint_id, name, version, status, started, ended, error"


class AmbiguousRunId(StoreError):
    """An id prefix matches more than one run."""


class RunStore:
    """The run history in one SQLite database; open it with ``RunStore.open(path)``.

    Thread-safe: one connection, used under a lock. Use as a context manager, or call ``close``.
    """

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self.path = path
        self._conn = conn
        self._lock = threading.Lock()

    @classmethod
    def open(cls, path: str | os.PathLike[str] | None = None) -> RunStore:
        """Open (creating and migrating if needed) the history at ``path`` (default: the
        project's, see ``schema.default_db_path``), and mark dead runs ``interrupted``.

        Raises:
            StoreError: the database cannot be opened or has a newer schema.
        """
        where = Path(path) if path is not None else default_db_path()
        conn = connect(where)
        try:
            settle_dead_runs(conn)
        except sqlite3.Error as exc:
            conn.close()
            raise StoreError(f"cannot use the run history {where}: {exc}") from None
        return cls(conn, where)

    def close(self) -> None:
        """Close the connection (idempotent)."""
        with self._lock:
            self._conn.close()

    def __enter__(self) -> RunStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _query(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return self._conn.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise StoreError(f"cannot read the run history {self.path}: {exc}") from None

    def list_runs(
        self,
        *,
        blueprint: str | None = None,
        status: RunStatus | None = None,
        last: int | None = None,
    ) -> list[RunSummary]:
        """Runs, newest first: of one blueprint (id or name), in one status, at most ``last``."""
        where: list[str] = []
        params: list[object] = []
        if blueprint is not None:
            where.append("(blueprint_id = ? OR name = ?)")
            params += [blueprint, blueprint]
        if status is not None:
            where.append("status = ?")
            params.append(status)
        sql = f"SELECT {_SUMMARY_COLUMNS} FROM runs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY started DESC, id DESC"
        if last is not None:
            sql += " LIMIT ?"
            params.append(max(0, last))
        return [_summary(row) for row in self._query(sql, tuple(params))]

    def resolve(self, run_id: str) -> str | None:
        """The full id of the run whose id is or starts with ``run_id``; None if none.

        Raises:
            AmbiguousRunId: several runs start with ``run_id``.
        """
        if not run_id:
            return None
        exact = self._query("SELECT id FROM runs WHERE id = ?", (run_id,))
        if exact:
            return str(exact[0][0])
        # GLOB is case-sensitive and uses the primary key's order; escape its wildcards.
        pattern = "".join(f"[{c}]" if c in "*?[]" else c for c in run_id) + "*"
        rows = self._query("SELECT id FROM runs WHERE id GLOB ? LIMIT 6", (pattern,))
        if len(rows) > 1:
            shown = ", ".join(str(row[0]) for row in rows[:5])
            more = ", ..." if len(rows) > 5 else ""
            raise AmbiguousRunId(
                f"run id {run_id!r} is ambiguous: several runs start with it ({shown}{more})"
            )
        return str(rows[0][0]) if rows else None

    def get_run(self, run_id: str) -> RunDetail | None:
        """The run ``run_id`` (or a unique prefix of it) with its nodes; None if unknown.

        Raises:
            AmbiguousRunId: several runs start with ``run_id``.
        """
        full = self.resolve(run_id)
        if full is None:
            return None
        rows = self._query(
            f"SELECT {_SUMMARY_COLUMNS}, source, sha256, path, atomiton_version, inputs, outputs,"
            " error_type, error_node, pid, host, resumed_from FROM runs WHERE id = ?",
            (full,),
        )
        if not rows:
            return None
        row = rows[0]
        nodes = self._query(
            "SELECT node_id, idx, type, state, started, ended, duration, attempts, error,"
            " error_type, source, line, col, output, version FROM nodes WHERE run_id = ?"
            " ORDER BY idx",
            (full,),
        )
        count = self._query(
            "SELECT coalesce(sum(last - seq + 1), 0) FROM events WHERE run_id = ?", (full,)
        )[0][0]
        return RunDetail(
            summary=_summary(row[:8]),
            source=row[8],
            sha256=row[9],
            path=row[10],
            atomiton_version=row[11],
            inputs=decode(row[12]),
            outputs=decode(row[13]),
            error_type=row[14],
            error_node=row[15],
            pid=row[16],
            host=row[17],
            nodes=tuple(_node(node) for node in nodes),
            events=int(count),
            resumed_from=row[18],
        )

    def mark_resumed(self, run_id: str, resumed: str) -> None:
        """Note that run ``run_id`` resumed run ``resumed`` (``run --resume``).

        Raises:
            StoreError: the database cannot be written.
        """
        with self._lock:
            try:
                self._conn.execute(
                    "UPDATE runs SET resumed_from = ? WHERE id = ?", (resumed, run_id)
                )
            except sqlite3.Error as exc:
                raise StoreError(f"cannot write the run history {self.path}: {exc}") from None

    def events(self, run_id: str, *, after: int = 0) -> list[dict[str, object]]:
        """The events of run ``run_id`` with sequence numbers above ``after``, in order.

        Each is the JSON object ``atomiton run --events`` writes, plus ``"seq"`` (from 1), so a
        follower can ask again for what came after the last one it saw.
        """
        rows = self._query(
            "SELECT seq, data FROM events WHERE run_id = ? AND last > ? ORDER BY seq",
            (run_id, after),
        )
        found: list[dict[str, object]] = []
        for first, data in rows:
            for seq, event in enumerate(cast(list[dict[str, object]], json.loads(data)), first):
                if seq > after:
                    event["seq"] = seq
                    found.append(event)
        return found

    def blob(self, sha256: str) -> bytes | None:
        """The bytes stored under ``sha256`` (a blob marker's hash); None if not stored."""
        rows = self._query("SELECT data FROM blobs WHERE sha256 = ?", (sha256,))
        return bytes(rows[0][0]) if rows else None

    def gc(self, *, keep: int | None = None, older_than: float | None = None) -> int:
        """Delete finished runs beyond the newest ``keep``, or that ended more than
        ``older_than`` seconds ago (with their nodes, events and orphaned blobs); returns how
        many runs were deleted. Running runs are never deleted."""
        doomed: set[str] = set()
        if keep is not None:
            rows = self._query(
                "SELECT id FROM runs WHERE status != 'running'"
                " ORDER BY started DESC, id DESC LIMIT -1 OFFSET ?",
                (max(0, keep),),
            )
            doomed.update(str(row[0]) for row in rows)
        if older_than is not None:
            cutoff = time.time() - older_than
            rows = self._query(
                "SELECT id FROM runs WHERE status != 'running' AND coalesce(ended, started) < ?",
                (cutoff,),
            )
            doomed.update(str(row[0]) for row in rows)
        if not doomed:
            return 0
        failure = f"cannot clean the run history {self.path}"
        with self._lock, write_transaction(self._conn, failure):
            self._conn.executemany("DELETE FROM runs WHERE id = ?", [(i,) for i in doomed])
            # What they reused or wrote stays cached (``cache gc`` ages it) but is no
            # longer theirs to resume.
            self._conn.executemany(
                "DELETE FROM cache_runs WHERE run_id = ?", [(i,) for i in doomed]
            )
            self._conn.execute(
                "DELETE FROM blobs WHERE sha256 NOT IN (SELECT sha256 FROM run_blobs)"
                " AND sha256 NOT IN (SELECT sha256 FROM cache_blobs)"
            )
        return len(doomed)


def settle_dead_runs(conn: sqlite3.Connection, *, now: float | None = None) -> int:
    """Mark ``interrupted`` the running runs whose process is gone; returns how many."""
    now = time.time() if now is None else now
    host = socket.gethostname()
    rows = conn.execute("SELECT id, pid, host, heartbeat FROM runs WHERE status = 'running'")
    dead = [
        run_id
        for run_id, pid, run_host, heartbeat in rows.fetchall()
        if (heartbeat or 0.0) < now - LEASE or (run_host == host and not _alive(pid))
    ]
    if dead:
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany(
                "UPDATE runs SET status = 'interrupted', ended = coalesce(heartbeat, started)"
                " WHERE id = ? AND status = 'running'",
                [(run_id,) for run_id in dead],
            )
            conn.executemany(
                "UPDATE nodes SET state = 'skipped' WHERE run_id = ? AND state = 'pending'",
                [(run_id,) for run_id in dead],
            )
            conn.executemany(
                "UPDATE nodes SET state = 'failed', error = ? WHERE run_id = ? AND state = 'running'",
                [(INTERRUPTED_NODE, run_id) for run_id in dead],
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return len(dead)


def _alive(pid: int | None) -> bool:
    if pid is None or pid <= 0:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    except OSError:
        return False
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    """Whether ``pid`` has exited and waits for its parent to reap it (Linux; else False)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # The state follows the command name, which is in parentheses and may contain spaces.
    return stat[stat.rfind(")") + 2 :].startswith("Z")


def _summary(row: tuple[Any, ...]) -> RunSummary:
    status = row[4] if row[4] in RUN_STATUSES else "interrupted"
    return RunSummary(
        id=row[0],
        blueprint_id=row[1],
        name=row[2],
        version=row[3],
        status=cast(RunStatus, status),
        started=row[5],
        ended=row[6],
        error=row[7],
    )


def _node(row: tuple[Any, ...]) -> NodeRecord:
    return NodeRecord(
        node_id=row[0],
        index=row[1],
        type=row[2],
        state=cast(NodeState, row[3]),
        started=row[4],
        ended=row[5],
        duration=row[6],
        attempts=row[7],
        error=row[8],
        error_type=row[9],
        source=row[10],
        line=row[11],
        column=row[12],
        output=decode(row[13]),
        has_output=row[13] is not None,
        version=row[14],
    )
