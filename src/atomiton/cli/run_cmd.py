"""``atomiton run``: compile one blueprint in memory, run it, print its outputs.

The flow runs in a worker thread while the main thread waits, so that Ctrl-C is handled here and
not wherever the flow happens to be: the first one cancels the run through a ``CancelToken``
(running programs are killed, nodes not yet started are skipped), a second one stops waiting.
SIGTERM and SIGHUP do the same through ``atomiton.runtime.cancel_on_signals``; the command then
exits with 128 + the signal's number (143, 129), as a process killed by it would.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from types import FrameType, ModuleType
from typing import IO, TYPE_CHECKING, Any, Final, TypeVar

import click
from pydantic import BaseModel

from ..blueprint_paths import display_path
from ..errors import AtomitonError, BlueprintError, CancelledError, NodeError
from .inputs import build_inputs, parse_inputs_json
from . import pin_options, run_cache
from .cache import cache_dir
from .params import compile_options, effective_search_path, search_path_option
from . import status
from .outputs import outputs_data, print_outputs
from .report import Reporter, stdout_console
from .settings import project_settings
from .watch import RunWatcher

if TYPE_CHECKING:
    from ..compiler.ir import Graph
    from ..store import RunRecorder

T = TypeVar("T")

EPILOG: Final = """\b
Examples:
  atomiton run examples/hello_world.yaml --input name=Ada
  atomiton run flow.yaml --input threshold=100 --input tags='["a", "b"]' --json
  atomiton run flow.yaml --inputs-json @inputs.json --events events.jsonl
  atomiton run flow.yaml --events - --concurrency 8 --timeout 60
  atomiton run flow.yaml --pin fetch=@fetch.json --fail upload=TimeoutError:slow
  atomiton run flow.yaml --pins-from 01J2... --pin-nodes fetch,lookup
  atomiton run flow.yaml --executor dask
  atomiton run flow.yaml --executor tcp://scheduler.lan:8786

\b
Exit status: 0 done, 1 blueprint errors, 2 usage errors (unknown input, bad value),
3 the run failed (a node failed or the run timed out), 130 interrupted (Ctrl-C),
143 terminated (SIGTERM), 129 hung up (SIGHUP); running programs are killed first.
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


def _run_in_worker(body: Callable[[], T], give_up: Callable[[], bool] = lambda: False) -> T:
    """Call ``body`` in a worker thread and return its result (or raise its exception).

    The main thread only waits, so signal handlers run promptly.

    Raises:
        _Interrupted: ``give_up()`` became true while the body was still running.
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
        if give_up() and thread.is_alive():
            raise _Interrupted
    if "error" in outcome:
        raise outcome["error"]
    value: T = outcome["value"]
    return value


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in _leaves(inner)]
    return [exc]


def _report_failure(
    exc: BaseException, reporter: Reporter, terminated_by: str | None, blueprint: Path
) -> int:
    """Print why the run ended early and return the exit status.

    A ``NodeError`` already reads ``path:line:col: node 'x' (type) failed: cause``; several at
    once (an exception group) are printed one per line. An error that is not atomiton's own is
    re-raised: that is a bug, and its traceback is what a bug report needs.
    """
    failures = _leaves(exc)
    if all(isinstance(f, CancelledError) for f in failures):
        if terminated_by is not None:
            reporter.info(f"terminated: the run was cancelled ({terminated_by} received)")
        else:
            reporter.info("interrupted: the run was cancelled")
        return status.INTERRUPTED
    for failure in failures:
        if isinstance(failure, NodeError):
            reporter.info(_as_seen_from_here(failure, blueprint))
        elif isinstance(failure, AtomitonError):
            if not isinstance(failure, CancelledError):
                reporter.error(str(failure))
        else:
            raise exc
    return status.RUN_FAILED


def _as_seen_from_here(error: NodeError, blueprint: Path) -> str:
    """The error with its file named from the current folder, as the user named the blueprint.

    A module records its sources relative to the blueprint's own folder (so that it does not
    depend on where it was compiled); on the command line the position should be clickable.
    """
    if not error.source or Path(error.source).is_absolute():
        return str(error)
    shown = display_path(blueprint.parent / error.source)
    where = f"{shown}:{error.line}:{error.column}"
    text = f"{where}: node {error.node_id!r} ({error.node_type}) failed: {error.message}"
    if not error.statement:
        return text
    # The failing statement (in the node's code, or a python node's function file): say where
    # the node itself is, and where its file was included from, from the current folder too.
    if error.node_type == "python":
        text += f"\n  failing statement: {error.statement}, in the function of this node"
    else:
        text += f"\n  the node is at {shown}:{error.node_line}:{error.node_column}"
    for place in error.included_from:
        path, line, column = place.rsplit(":", 2)
        text += f"\n  included from {display_path(blueprint.parent / path)}:{line}:{column}"
    return text


def _print_outputs(outputs: BaseModel, as_json: bool, reporter: Reporter, to_stderr: bool) -> None:
    """Print the outputs on stdout, or on stderr when stdout carries the event log."""
    try:
        data = outputs_data(outputs, warn=lambda message: reporter.warning(message))
    except MemoryError:
        reporter.error("out of memory while reading the outputs to print them")
        raise click.exceptions.Exit(status.RUN_FAILED) from None
    console = reporter.console if to_stderr else stdout_console()
    out = sys.stderr if to_stderr else sys.stdout
    print_outputs(data, as_json=as_json, console=console, out=out)


def _open_events(target: str | None) -> IO[str] | None:
    """The event log's stream (``-``: stdout, left open); a usage error when it cannot be opened."""
    if target is None:
        return None
    try:
        stream: IO[str] = click.open_file(target, "w", encoding="utf-8", lazy=False)
    except OSError as exc:
        raise click.BadParameter(
            f"cannot write {target}: {exc.strerror or exc}", param_hint="'--events'"
        ) from None
    return stream


def _compile(
    path: Path, search_path: tuple[Path, ...], reporter: Reporter, *, recompile: bool = False
) -> ModuleType:
    """The compiled module of ``path``: from the run cache when it is current, else compiled
    (and the cache entry written). Warnings are reported either way, the same words."""
    # python nodes import their functions from the working directory, as ``python -m`` would.
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    folders = effective_search_path(search_path)
    key = run_cache.entry_key(path, folders)
    try:
        folder: Path | None = cache_dir(run_cache.KIND)
    except OSError:
        folder = None  # no writable cache folder: compile every time
    if folder is not None and not recompile:
        entry = run_cache.read(folder, key)
        if entry is not None:
            reporter.diagnostics(entry.warnings, path=path)
            return run_cache.module_from(entry)
    from ..compiler import compile_blueprint, module_from_code

    started = time.time_ns()
    try:
        compiled = compile_blueprint(path, options=compile_options(search_path))
    except BlueprintError as exc:
        reporter.diagnostics(exc.diagnostics, path=path)
        reporter.print_summary()
        raise click.exceptions.Exit(status.BLUEPRINT_ERROR) from None
    reporter.diagnostics(compiled.warnings, path=path)
    name, file, code = module_from_code(compiled)
    entry = run_cache.Entry(name, file, code, compiled.warnings, compiled.code)
    if folder is not None:
        files = (*compiled.files, *_function_sources(compiled.graph))
        _store(folder, key, entry, files, started)
    return run_cache.module_from(entry)


def _function_sources(graph: Graph) -> list[Path]:
    """The source files of the modules ``python`` nodes call: the compiler checked the function
    is there, so an edit to one of them must compile again (to report it at its node)."""
    from ..compiler.user_functions import find_module

    found: list[Path] = []
    pending = [graph]
    while pending:
        current = pending.pop()
        for node in current.nodes:
            pending.extend(node.bodies)
            spec = find_module(node.function[0]) if node.function is not None else None
            if spec is not None and spec.origin and Path(spec.origin).is_file():
                found.append(Path(spec.origin).resolve())
    return list(dict.fromkeys(found))


# A file modified this close to the start of the compile (or after it) may have changed between
# the compiler's read and the hash: the entry is not written then (the next run writes it).
_SETTLE_NS: Final = 20_000_000


def _store(
    folder: Path, key: str, entry: run_cache.Entry, files: tuple[Path, ...], started: int
) -> None:
    hashes = run_cache.file_hashes(files)
    if hashes is None or not files:
        return
    try:
        if any(f.stat().st_mtime_ns >= started - _SETTLE_NS for f in files):
            return
        run_cache.write(folder, key, entry, hashes)
    except OSError:
        pass  # a full disk or read-only folder costs the next run a compile, nothing more


def _recorder(
    record: bool, db: Path | None, blueprint: object, inputs: BaseModel, file: Path
) -> RunRecorder | None:
    """The hook that records the run in the history (``--no-record``: none)."""
    if not record:
        return None
    from ..runtime import Blueprint
    from ..store import RunRecorder

    assert isinstance(blueprint, Blueprint)
    return RunRecorder(db, blueprint=blueprint, inputs=inputs, path=file)


@contextmanager
def _closing(
    recorder: RunRecorder | None, reporter: Reporter, resumed: str | None = None
) -> Iterator[None]:
    """Write the run's record however the run ends; a history that cannot be written is a
    warning, never a failed run. ``resumed``: the run this one resumed, noted on its record."""
    try:
        yield
    finally:
        if recorder is not None:
            recorder.close()
            if recorder.error is not None:
                reporter.warning(f"the run was not recorded: {recorder.error}")
            elif resumed is not None and recorder.run_ids:
                from .resume import note_resumed

                note_resumed(recorder.db_path, recorder.run_ids[-1], resumed, reporter)


def _checked_executor(value: str | None) -> str | None:
    """``--executor``: a name or address the runtime knows, and its library installed."""
    if value is None:
        return None
    from ..runtime.main import executor_problem, executor_unavailable

    problem = executor_problem(value) or executor_unavailable(value)
    if problem is not None:
        raise click.BadParameter(problem, param_hint="'--executor'")
    return value


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
    "events_to",
    metavar="FILE|-",
    type=click.Path(dir_okay=False, allow_dash=True),
    help="Write every run event as one JSON line to FILE. '-' writes them to stdout, which then "
    "carries nothing else: the outputs go to stderr.",
)
@click.option(
    "--concurrency",
    metavar="N",
    type=click.IntRange(min=1),
    help="Run at most N nodes at once (default: concurrency of [tool.atomiton] in "
    "pyproject.toml, else the blueprint's setting).",
)
@click.option(
    "--timeout",
    metavar="SECONDS",
    type=click.FloatRange(min=0, min_open=True),
    help="Fail the run if it takes longer than SECONDS.",
)
@click.option(
    "--allow-path",
    "allow_paths",
    metavar="DIR",
    multiple=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Confine file nodes and program working directories to DIR (repeatable); "
    "paths outside, also through '..' or symbolic links, fail the node.",
)
@click.option(
    "--executor",
    metavar="threads|dask|dask-threads|tcp://HOST:PORT",
    callback=lambda ctx, param, value: _checked_executor(value),
    help="Where the flow's tasks run: this process's threads, a local Dask cluster of worker "
    "processes (dask), one inside this process (dask-threads), or the Dask scheduler at "
    "tcp://HOST:PORT (default: the blueprint's settings.runtime.executor, else threads). "
    "Dask needs atomiton[dask]; see docs/distributed.md.",
)
@click.option(
    "--recompile",
    is_flag=True,
    help="Compile the blueprint even if the run cache holds it unchanged (and refresh the cache).",
)
@click.option(
    "--record/--no-record",
    default=True,
    help="Record the run in the run history (default: on; see 'atomiton runs').",
)
@click.option(
    "--db",
    metavar="PATH",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The run history to record into (default: .atomiton/history.db of the project, "
    "or $ATOMITON_HOME/history.db).",
)
@click.option(
    "--cache/--no-cache",
    "use_cache",
    default=None,
    help="Reuse the stored values of cacheable nodes whose code and inputs are unchanged, and "
    "store new ones (default: the blueprint's settings.cache). See docs/caching.md.",
)
@click.option(
    "--refresh",
    "refresh",
    metavar="NODE",
    multiple=True,
    help="Run NODE again even if it is cached, and store its new value (repeatable; implies "
    "--cache).",
)
@click.option(
    "--cache-files",
    type=click.Choice(["stat", "content"]),
    default="stat",
    show_default=True,
    help="How the cache tells a file a node reads has changed: by size and mtime, or also by "
    "a hash of its content.",
)
@click.option(
    "--resume",
    "resume",
    metavar="RUN_ID",
    help="Reuse every node of that recorded run that finished with the same code and inputs, "
    "and run the rest (the plan is printed first).",
)
@click.option(
    "--from",
    "from_node",
    metavar="NODE",
    help="With --resume: run NODE and everything downstream of it again.",
)
@click.option(
    "--pin",
    "pin_values",
    metavar="NODE=@FILE|JSON",
    multiple=True,
    help="Do not run NODE: use this value (JSON, or read from FILE) as its output, checked "
    "against its output type. Repeatable; wins over --pins-from. A node in a loop is pinned "
    "for every item.",
)
@click.option(
    "--pins-from",
    metavar="RUN_ID",
    help="Pin nodes to the outputs they gave in the recorded run RUN_ID (see --pin-nodes).",
)
@click.option(
    "--pin-nodes",
    metavar="A,B",
    help="With --pins-from: the nodes to pin (default: every node that gave a value).",
)
@click.option(
    "--fail",
    "fail_values",
    metavar="NODE=EXCEPTION:MESSAGE",
    multiple=True,
    help="A testing aid: NODE fails with EXCEPTION (TimeoutError, ... or module.Class) "
    "instead of running, through its retries and onError. Repeatable.",
)
@search_path_option
def run_command(
    file: Path,
    input_values: tuple[str, ...],
    inputs_json: str | None,
    as_json: bool,
    events_to: str | None,
    concurrency: int | None,
    timeout: float | None,
    allow_paths: tuple[Path, ...],
    search_path: tuple[Path, ...],
    recompile: bool,
    record: bool = True,
    db: Path | None = None,
    use_cache: bool | None = None,
    refresh: tuple[str, ...] = (),
    cache_files: str = "stat",
    resume: str | None = None,
    from_node: str | None = None,
    pin_values: tuple[str, ...] = (),
    pins_from: str | None = None,
    pin_nodes: str | None = None,
    fail_values: tuple[str, ...] = (),
    executor: str | None = None,
) -> None:
    """Run a blueprint and print its outputs.

    FILE is compiled in memory (nothing is written) and run at once. On a terminal a progress
    bar shows how far the run has got. Ctrl-C cancels the run cleanly: running programs are
    stopped and the nodes that did not run are listed.
    """
    from ..runtime import CancelToken, SignalCancel, cancel_on_signals
    from ..runtime.signals import signal_name

    reporter = Reporter()
    if concurrency is None:
        concurrency = project_settings().concurrency
    module = _compile(file, search_path, reporter, recompile=recompile)
    inputs = build_inputs(module.Inputs, input_values, parse_inputs_json(inputs_json))
    pins = pin_options.parse_pins(pin_values, pins_from, pin_nodes, db)
    fails = pin_options.parse_fails(fail_values)
    pin_options.check_against(module, pins, fails)
    events = _open_events(events_to)
    token = CancelToken()
    blueprint = module.BLUEPRINT
    watcher = RunWatcher(blueprint.name or blueprint.id, console=reporter.console, events=events)
    from .resume import cache_options

    cache = cache_options(
        blueprint,
        file,
        search_path,
        use_cache=use_cache,
        refresh=refresh,
        files=cache_files,
        resume=resume,
        from_node=from_node,
        journal=record,
        db=db,
    )
    recorder = _recorder(record, db, blueprint, inputs, file)

    def body() -> BaseModel:
        outputs: BaseModel = module.run(
            inputs,
            hooks=watcher if recorder is None else (watcher, recorder),
            concurrency=concurrency,
            timeout=timeout,
            cancel=token,
            allow_paths=allow_paths or None,
            pins=pins or None,
            fail=fails or None,
            cache=cache,
            executor=executor,
        )
        return outputs

    # Only the main thread may set signal handlers (an embedding caller may run us elsewhere).
    in_main = threading.current_thread() is threading.main_thread()
    with (
        _closing(recorder, reporter, cache.resume if not isinstance(cache, bool) else None),
        cancel_on_signals() if in_main else nullcontext(SignalCancel()) as terminated,
    ):
        try:
            with _sigint_cancels(token.cancel) as pressed, watcher:
                # A second SIGTERM/SIGHUP, like a second Ctrl-C, stops waiting for the wind-down.
                outputs = _run_in_worker(body, give_up=lambda: terminated.count >= 2)
            if recorder is not None and recorder.run_ids:
                recorder.record_outputs(recorder.run_ids[-1], outputs)
        except _Interrupted:
            reporter.error("interrupted again; not waiting for running nodes to stop")
            code = status.INTERRUPTED if terminated.signal is None else 128 + terminated.signal
            raise click.exceptions.Exit(code) from None
        except (AtomitonError, BaseExceptionGroup) as exc:
            by = None if terminated.signal is None else signal_name(terminated.signal)
            code = _report_failure(exc, reporter, by, file)
            if code == status.INTERRUPTED and terminated.signal is not None:
                code = 128 + terminated.signal
            watcher.report_skipped(reporter)
            raise click.exceptions.Exit(code) from None
        except OSError as exc:
            if executor is None:
                raise
            # Nodes' errors arrive as NodeError: this is the cluster (a scheduler not reachable).
            reporter.error(f"executor {executor}: {exc}")
            raise click.exceptions.Exit(status.RUN_FAILED) from None
        except MemoryError:  # raised outside any node (building the outputs, say): still a failure
            reporter.error("the run ran out of memory")
            watcher.report_skipped(reporter)
            raise click.exceptions.Exit(status.RUN_FAILED) from None
        finally:
            if events is not None:
                events.close()
    if terminated.signal is not None:  # as with Ctrl-C: too late to matter, the work is done
        reporter.info(
            f"{signal_name(terminated.signal)} received, but the run had already finished"
        )
    if pressed[0]:  # cancelled too late to matter: the flow had finished
        reporter.info("interrupted, but the run had already finished")
    _print_outputs(outputs, as_json, reporter, to_stderr=events_to == "-")
