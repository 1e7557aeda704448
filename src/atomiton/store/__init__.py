"""The run history: every recorded run in one SQLite database, and the hook that records them.

``RunRecorder`` (a run hook) writes runs; ``RunStore`` reads them (``list_runs``, ``get_run``,
``events``, ``blob``, ``gc``); ``run_recorded`` runs a compiled module with a recorder. Only the
standard library's ``sqlite3`` is used, and the runtime never imports this package: importing a
generated module writes nothing, and a library user records a run by passing
``hooks=RunRecorder(db)``. ``docs/history.md`` describes the whole.
"""

from __future__ import annotations

from .records import NODE_STATES as NODE_STATES
from .records import RUN_STATUSES as RUN_STATUSES
from .records import NodeRecord as NodeRecord
from .records import NodeState as NodeState
from .records import RunDetail as RunDetail
from .records import RunStatus as RunStatus
from .records import RunSummary as RunSummary
from .recorder import RunRecorder as RunRecorder
from .recorder import run_recorded as run_recorded
from .replay import recorded_pins as recorded_pins
from .runstore import AmbiguousRunId as AmbiguousRunId
from .runstore import RunStore as RunStore
from .schema import SCHEMA_VERSION as SCHEMA_VERSION
from .schema import StoreError as StoreError
from .schema import default_db_path as default_db_path

__all__ = [
    "NODE_STATES",
    "RUN_STATUSES",
    "SCHEMA_VERSION",
    "AmbiguousRunId",
    "NodeRecord",
    "NodeState",
    "RunDetail",
    "RunRecorder",
    "RunStatus",
    "RunStore",
    "recorded_pins",
    "RunSummary",
    "StoreError",
    "default_db_path",
    "run_recorded",
]
