"""atomiton: compile YAML workflow blueprints into typed Python modules.

This package root stays light: generated modules import ``atomiton.runtime`` (and so this file),
so the compiler is only reached through the lazy attributes below, never at import time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import AtomitonError as AtomitonError
from .errors import BlueprintError as BlueprintError
from .errors import CancelledError as CancelledError
from .errors import NodeError as NodeError
from .errors import OutputError as OutputError
from .errors import RunTimeoutError as RunTimeoutError

__version__ = "0.1.0"

__all__ = [
    "AtomitonError",
    "BlueprintError",
    "CancelledError",
    "CompileOptions",
    "CompiledModule",
    "NodeError",
    "OutputError",
    "RunTimeoutError",
    "__version__",
    "compile_blueprint",
    "recorded_pins",
]

if TYPE_CHECKING:
    from .compiler import CompiledModule as CompiledModule
    from .compiler import compile_blueprint as compile_blueprint
    from .compiler.options import CompileOptions as CompileOptions
    from .store.replay import recorded_pins as recorded_pins


def __getattr__(name: str) -> object:
    # The compiler pulls in yaml and black; load it only when someone asks for it.
    if name in ("compile_blueprint", "CompiledModule"):
        from . import compiler

        return getattr(compiler, name)
    if name == "CompileOptions":
        from .compiler.options import CompileOptions

        return CompileOptions
    if name == "recorded_pins":  # a recorded run's outputs as pins (the store: sqlite3)
        from .store.replay import recorded_pins

        return recorded_pins
    raise AttributeError(f"module 'atomiton' has no attribute {name!r}")
