"""Exit statuses of the ``atomiton`` command, shared by every subcommand.

Usage errors (2) are click's own; the rest are chosen so a script can tell a broken blueprint
from a failed run from an interrupted one.
"""

from __future__ import annotations

from typing import Final

OK: Final = 0
BLUEPRINT_ERROR: Final = 1
USAGE_ERROR: Final = 2  # click.UsageError and friends
RUN_FAILED: Final = 3
INTERRUPTED: Final = 130  # 128 + SIGINT, what shells report for Ctrl-C
