"""``atomiton run``: compile one blueprint in memory, run it, print its outputs.

The flow runs in a worker thread while the main thread waits, so that Ctrl-C is handled here and
not wherever the flow happens to be: the first one cancels the run through a ``CancelToken``
(running programs are killed, nodes not yet started are skipped), a second one stops waiting.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType, ModuleType
from typing import IO, Any, Final, TypeVar

import click
from pydantic import BaseModel

from ..errors import AtomitonError, BlueprintError, CancelledError, NodeError
from .inputs import build_inputs, parse_inputs_json
from .params import compile_options, search_path_option
from . import status
from .report import Reporter, stdout_console
from .watch import RunWatcher

T = TypeVar("T")

EPILOG: Final = """\b
Examples:
  atomiton run examples/hello_world.yaml --input name=Ada
  atomiton run flow.yaml --input threshold=100 --input tags='["a", "b"]' --json
  atomiton run flow.yaml --inputs-json @inputs.json --events events.jsonl
  atomiton run flow.yaml --events - --concurrency 8 --timeout 60

\b
Exit status: 0 done, 1 blueprint errors, 2 usage errors (unknown input, bad value),
3 the run failed (a node failed or the run timed out), 130 interrupted (Ctrl-C).
"""


class _Interrupted(Exception):
    """Ctrl-C was pressed twice: stop waiting for the run to wind down."""


@contextmanager
def _sigint_cancels(cancel: Callable[[], None]) -> Iterator[list[bool]]:
    """While active, Ctrl-C calls ``cancel`` (the first time) instead of raising at random.

    Yields a one-item list that becomes ``[True]`` once Ctrl-C was pressed. Nothing is changed
    outside the main thread, or when SIGINT is ignored (a parent chose that for us).
    """
    pressed = [False]
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(
        signal.SIGINT
    ) in (signal.SIG_IGN, None):
        yield pressed
        return

    def handle(signum: int, frame: FrameType | None) -> None:
        if pressed[0]:
            raise _Interrupted
        pressed[0] = True
        cancel()

    previous = signal.signal(signal.SIGINT, handle)
    try:
        yield pressed
    finally:
        signal.signal(signal.SIGINT, previous)


def _run_in_worker(body: Callable[[], T]) -> T:
    """Call ``body`` in a worker thread and return its result (or raise its exception).

    The main thread only waits, so signal handlers run promptly.
    """
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = body()
        except BaseException as exc:  # handed to the main thread, which raises it
            outcome["error"] = exc

    thread = threading.Thread(target=target, name="atomiton-run", daemon=True)
    thread.start()
    while thread.is_alive():
        thread.join(0.1)
    if "error" in outcome:
        raise outcome["error"]
    value: T = outcome["value"]
    return value


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in _leaves(inner)]
    return [exc]


def _report_failure(exc: BaseException, reporter: Reporter) -> int:
    """Print why the run ended early and return the exit status.

    A ``NodeError`` already reads ``path:line:col: node 'x' (type) failed: cause``; several at
    once (an exception group) are printed one per line. An error that is not atomiton's own is
    re-raised: that is a bug, and its traceback is what a bug report needs.
    """
    failures = _leaves(exc)
    if all(isinstance(f, CancelledError) for f in failures):
        reporter.info("interrupted: the run was cancelled")
        return status.INTERRUPTED
    for failure in failures:
        if isinstance(failure, NodeError):
            reporter.info(str(failure))
        elif isinstance(failure, AtomitonError):
            if not isinstance(failure, CancelledError):
                reporter.error(str(failure))
        else:
            raise exc
    return status.RUN_FAILED


def _print_outputs(outputs: BaseModel, as_json: bool) -> None:
    try:
        data = outputs.model_dump(mode="json", by_alias=True)
    except Exception:  # a value pydantic cannot put in JSON (arbitrary types): show its repr
        data = outputs.model_dump(by_alias=True)
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, default=repr))
        return
    console = stdout_console()
    for name, value in data.items():
        if isinstance(value, str) and "\n" not in value.rstrip("\n"):
            console.print(f"{name}: {value.rstrip(chr(10))}", markup=False)
        else:
            text = json.dumps(value, indent=2, ensure_ascii=False, default=repr)
            console.print(f"{name}:", markup=False)
            console.print("\n".join(f"  {line}" for line in text.splitlines()), markup=False)


def _compile(path: Path, search_path: tuple[Path, ...], reporter: Reporter) -> ModuleType:
    from ..compiler import compile_blueprint, load_module

    try:
        compiled = compile_blueprint(path, options=compile_options(search_path))
    except BlueprintError as exc:
        reporter.diagnostics(exc.diagnostics, path=path)
        reporter.print_summary()
        raise click.exceptions.Exit(status.BLUEPRINT_ERROR) from None
    reporter.diagnostics(compiled.warnings, path=path)
    # python nodes import their functions from the working directory, as ``python -m`` would.
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    return load_module(compiled)


@click.command("run", epilog=EPILOG)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "-i",
    "--input",
    "input_values",
    metavar="NAME=VALUE",
    multiple=True,
    help="Set the flow input NAME. VALUE is text for text inputs and JSON otherwise "
    '(42, 2.5, true, [1, 2], {"a": 1}). Repeatable; wins over --inputs-json.',
)
@click.option(
    "--inputs-json",
    metavar="JSON|@FILE",
    help="All inputs as one JSON object, inline or read from FILE.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the outputs as one JSON object.")
@click.option(
    "--events",
    metavar="FILE|-",
    type=click.File("w", encoding="utf-8", lazy=False),
    help="Write every run event as one JSON line to FILE ('-' for stdout).",
)
@click.option(
    "--concurrency",
    metavar="N",
    type=click.IntRange(min=1),
    help="Run at most N nodes at once (default: the blueprint's setting).",
)
@click.option(
    "--timeout",
    metavar="SECONDS",
    type=click.FloatRange(min=0, min_open=True),
    help="Fail the run if it takes longer than SECONDS.",
)
@search_path_option
def run_command(
    file: Path,
    input_values: tuple[str, ...],
    inputs_json: str | None,
    as_json: bool,
    events: IO[str] | None,
    concurrency: int | None,
    timeout: float | None,
    search_path: tuple[Path, ...],
) -> None:
    """Run a blueprint and print its outputs.

    FILE is compiled in memory (nothing is written) and run at once. On a terminal a progress
    bar shows how far the run has got. Ctrl-C cancels the run cleanly: running programs are
    stopped and the nodes that did not run are listed.
    """
    from ..runtime import CancelToken

    reporter = Reporter()
    module = _compile(file, search_path, reporter)
    inputs = build_inputs(module.Inputs, input_values, parse_inputs_json(inputs_json))
    token = CancelToken()
    blueprint = module.BLUEPRINT
    watcher = RunWatcher(blueprint.name or blueprint.id, console=reporter.console, events=events)

    def body() -> BaseModel:
        outputs: BaseModel = module.run(
            inputs, hooks=watcher, concurrency=concurrency, timeout=timeout, cancel=token
        )
        return outputs

    try:
        with _sigint_cancels(token.cancel) as pressed, watcher:
            outputs = _run_in_worker(body)
    except _Interrupted:
        reporter.error("interrupted again; not waiting for running nodes to stop")
        raise click.exceptions.Exit(status.INTERRUPTED) from None
    except (AtomitonError, BaseExceptionGroup) as exc:
        code = _report_failure(exc, reporter)
        watcher.report_skipped(reporter)
        raise click.exceptions.Exit(code) from None
    if pressed[0]:  # cancelled too late to matter: the flow had finished
        reporter.info("interrupted, but the run had already finished")
    _print_outputs(outputs, as_json)
