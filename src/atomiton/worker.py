"""What runs inside a worker process of a run's process pool (``execution: process``).

Kept apart from the runtime, with nothing but the standard library, so that a new worker is ready
after importing this small module and the user's own: the runtime package (pydantic, the event
machinery) is never imported there just to make a call.
"""

from __future__ import annotations

import os
import pickle
import sys


class ResultNotPicklable(Exception):
    """The worker's call returned a value that cannot be sent back to the run's process."""


def start(path: list[str], cwd: str) -> None:
    """Give a new worker the run's import path and folder.

    A worker started by the forkserver has the import path of the forkserver's own start, and
    user modules are found from the current folder (``atomiton run`` puts it on the path): the
    worker must find the same modules, and relative paths must mean the same files, as the run.
    """
    sys.path[:] = path
    try:
        os.chdir(cwd)
    except OSError:  # the folder is gone; imports by absolute path still work
        pass


def call(payload: bytes) -> bytes:
    """Unpickle the call, make it, and pickle its result here, where a value that cannot cross
    is told apart from an error the function raised."""
    fn, args, kwargs = pickle.loads(payload)
    result = fn(*args, **kwargs)
    try:
        return pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:
        message = str(exc)
        raise ResultNotPicklable(
            f"{type(exc).__name__}: {message}" if message else type(exc).__name__
        ) from None
