"""A blueprint's settings as written, checked and turned into values: the run's
(``settings.runtime``: concurrency, timeout, executor; ``settings.cache``) and each node's common
settings (``enabled``, ``timeout``, ``retries``, ``retryDelay``, ``onError``, ``cache``, ``pure``),
taken out of its parameters. A bad value is a diagnostic at its YAML position and the default
is used instead. Reading the file and the rest of the document is ``schema``'s; what the
settings do at run time is the runtime's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from .. import codes
from ..diagnostics import DiagnosticSink, Span
from ..nodes import registry
from ..nodes.spec import COMMON_SETTINGS
from ..runtime.main import executor_problem
from .blueprint_models import NodeModel
from .ir import NodeSettings
from .source import Path_, SourceFile


def cache_setting(
    settings: Mapping[str, Any], loc: Path_, src: SourceFile, sink: DiagnosticSink
) -> bool:
    """``settings.cache``: ``auto`` turns the node cache on for runs (docs/caching.md)."""
    value = settings.get("cache", "off")
    if value not in ("auto", "off"):
        sink.error(
            codes.INVALID_BLUEPRINT_SETTING,
            src.positions.span((*loc, "cache")),
            setting="cache",
            message=f"expected 'auto' or 'off', found {value!r}",
        )
        return False
    return bool(value == "auto")


def runtime_settings(
    settings: Mapping[str, Any], loc: Path_, src: SourceFile, sink: DiagnosticSink
) -> tuple[int | None, float | None, str | None]:
    """``settings.runtime``: (concurrency, timeout in seconds, executor); bad values are
    diagnostics."""
    runtime = settings.get("runtime")
    if runtime is None:
        return None, None, None
    if not isinstance(runtime, dict):
        sink.error(
            codes.INVALID_BLUEPRINT_SETTING,
            src.positions.span((*loc, "runtime")),
            setting="runtime",
            message="expected a mapping of concurrency, timeout and executor",
        )
        return None, None, None
    concurrency = runtime.get("concurrency")
    if concurrency is not None and (
        isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1
    ):
        sink.error(
            codes.INVALID_BLUEPRINT_SETTING,
            src.positions.span((*loc, "runtime", "concurrency")),
            setting="runtime.concurrency",
            message=f"expected a whole number >= 1, found {concurrency!r}",
        )
        concurrency = None
    timeout = runtime.get("timeout")
    if timeout is not None and not is_duration(timeout):
        sink.error(
            codes.INVALID_BLUEPRINT_SETTING,
            src.positions.span((*loc, "runtime", "timeout")),
            setting="runtime.timeout",
            message=f"expected a finite number of milliseconds >= 0, found {timeout!r}",
            hint="0 or no timeout means the run may take as long as it needs",
        )
        timeout = None
    seconds = timeout / 1000 if isinstance(timeout, (int, float)) and timeout > 0 else None
    executor = runtime.get("executor")
    problem = None if executor is None else executor_problem(executor)
    if problem is not None:
        sink.error(
            codes.INVALID_BLUEPRINT_SETTING,
            src.positions.span((*loc, "runtime", "executor")),
            setting="runtime.executor",
            message=problem,
            hint="threads runs on this machine; dask starts a local cluster; "
            "tcp://host:8786 uses a running Dask scheduler",
        )
        executor = None
    return concurrency, seconds, executor


def is_duration(value: object) -> bool:
    """A number of milliseconds a setting may hold: finite and not negative (not a bool)."""
    return (
        not isinstance(value, bool)
        and isinstance(value, (int, float))
        and math.isfinite(value)
        and value >= 0
    )


def node_settings(
    model: NodeModel, params: dict[str, object], spans: Mapping[str, Span], sink: DiagnosticSink
) -> NodeSettings:
    """Take Atomiton's common settings out of the parameters and check them."""
    # A node type that has a parameter of its own called like a setting (http-request's and
    # shell-command's ``timeout``) keeps it as a parameter.
    spec = registry.get(model.type)
    own = (
        {(f.alias or n) for n, f in spec.params.model_fields.items()} if spec is not None else set()
    )
    found = {
        key: params.pop(key) for key in list(params) if key in COMMON_SETTINGS and key not in own
    }

    def bad(key: str, message: str) -> None:
        sink.error(
            codes.INVALID_SETTING,
            spans.get(key),
            node=model.id,
            type=model.type,
            setting=key,
            message=message,
        )

    enabled = found.get("enabled", True)
    if not isinstance(enabled, bool):
        bad("enabled", "expected true or false")
        enabled = True
    timeout = found.get("timeout")
    timeout_s: float | None = None
    if timeout is not None:
        if not is_duration(timeout):
            bad("timeout", f"expected a finite number of milliseconds >= 0, found {timeout!r}")
        elif isinstance(timeout, (int, float)) and timeout > 0:
            timeout_s = timeout / 1000
    retries = found.get("retries", 0)
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        bad("retries", "expected a whole number >= 0")
        retries = 0
    delay = found.get("retryDelay", 1000)
    if not is_duration(delay):
        bad("retryDelay", f"expected a finite number of milliseconds >= 0, found {delay!r}")
        delay = 1000
    on_error = found.get("onError", "fail")
    if on_error == "stop":  # Atomiton's older spelling
        on_error = "fail"
    if on_error not in ("fail", "continue", "branch"):
        bad("onError", "expected 'fail', 'continue' or 'branch'")
        on_error = "fail"
    cache = found.get("cache", "auto")
    if cache not in ("auto", "always", "never"):
        bad("cache", f"expected 'auto', 'always' or 'never', found {cache!r}")
        cache = "auto"
    pure = found.get("pure", False)
    if not isinstance(pure, bool):
        bad("pure", "expected true or false")
        pure = False
    delay_s = delay / 1000 if isinstance(delay, (int, float)) else 1.0
    return NodeSettings(
        enabled, timeout_s, retries, delay_s, on_error, cache, pure  # type: ignore[arg-type]
    )
