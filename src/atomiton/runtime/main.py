"""A generated module's command line: ``python -m app.flows.x --input name=value``.

Every generated module ends with ``if __name__ == "__main__": _rt.main(BLUEPRINT, run, Inputs)``,
so a compiled flow runs as a script, in a worker process or a container, with nothing but the
runtime installed. This module owns that entry: its arguments (stdlib ``argparse`` only, never the
``atomiton`` command's libraries), turning them into the module's ``Inputs``, printing the outputs
as one JSON object, and the exit status. Running the flow is the module's own ``run``.

How a value typed on a command line becomes an input's value (``coerce_text``) lives here too;
``atomiton run`` uses the same rule. Exit statuses: 0 done, 1 the run failed (a node failed, the
run timed out), 2 a usage error (unknown input, invalid value, unreadable ``--inputs-json``),
128 + the signal when SIGINT, SIGTERM or SIGHUP cancelled the run.
"""

from __future__ import annotations

import json
import signal
import sys
import types
import typing
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any, Final, NoReturn

from pydantic import BaseModel, ValidationError
from pydantic_core import PydanticSerializationError, to_jsonable_python

from ..errors import AtomitonError, CancelledError, NodeError
from .model import Blueprint
from .signals import TERMINATION_SIGNALS, cancel_on_signals

if TYPE_CHECKING:
    import argparse

OK: Final = 0
RUN_FAILED: Final = 1
USAGE_ERROR: Final = 2

# A stream output is read into a list up to this many items; an endless one must not hang.
STREAM_LIMIT: Final = 100_000


class UsageError(Exception):
    """The command line or the inputs it gives are wrong; the message says how."""


def is_text_type(annotation: object) -> bool:
    """Whether a command-line value for this annotation is taken verbatim rather than as JSON."""
    if annotation in (str, Path, PurePath):
        return True
    origin = typing.get_origin(annotation)
    if origin is typing.Union or origin is types.UnionType:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return bool(args) and all(is_text_type(a) for a in args)
    if origin is typing.Literal:
        return all(isinstance(a, str) for a in typing.get_args(annotation))
    return False


def coerce_text(value: str, annotation: object) -> object:
    """``value`` as typed on a command line, for a field of type ``annotation``.

    Text fields take it verbatim; every other field reads it as JSON first (``42``, ``true``,
    ``[1, 2]``) and pydantic's lax validation judges the rest (``yes`` is a boolean).
    """
    if is_text_type(annotation):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


# What ``executor=`` may name besides a scheduler address or a ``distributed.Client``; the
# blueprint setting ``settings.runtime.executor`` is checked against the same.
EXECUTORS: Final = ("threads", "dask", "dask-threads")


def executor_problem(value: object) -> str | None:
    """Why ``value`` names no executor, or None: ``threads``, ``dask`` (a local cluster of worker
    processes), ``dask-threads`` (one in this process) or a scheduler's ``tcp://host:port``."""
    if value in EXECUTORS:
        return None
    expected = "expected 'threads', 'dask', 'dask-threads' or a scheduler address tcp://host:port"
    if not isinstance(value, str) or "://" not in value:
        return f"{expected}, found {value!r}"
    scheme, _, rest = value.partition("://")
    host, sep, port = rest.rpartition(":")
    if scheme not in ("tcp", "tls") or not sep or not host or not port.isdigit():
        return f"{expected}, found {value!r}"
    if not 0 < int(port) < 65536:
        return f"port {port} of {value!r} is not between 1 and 65535"
    if any(c.isspace() or c in "/?#@" for c in host):
        return f"{host!r} in {value!r} is not a host name or address"
    return None


def executor_unavailable(value: str) -> str | None:
    """Why a valid executor cannot run here (its extra is not installed), or None."""
    import importlib.util

    if value == "threads" or importlib.util.find_spec("distributed") is not None:
        return None
    return f"executor {value!r} needs Dask: pip install 'atomiton[dask]'"


def _parser(blueprint: Blueprint, prog: str) -> argparse.ArgumentParser:
    import argparse  # here: every generated module imports the runtime, few run as scripts

    parser = argparse.ArgumentParser(
        prog=prog,
        description=f"Run the flow {blueprint.name or blueprint.id!r} and print its outputs "
        "as one JSON object.",
        epilog="Exit status: 0 done, 1 the run failed, 2 usage error, 128+N stopped by signal N.",
    )
    parser.add_argument(
        "-i",
        "--input",
        dest="assignments",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set an input: text for text inputs, JSON otherwise; repeatable, wins over "
        "--inputs-json",
    )
    parser.add_argument(
        "--inputs-json",
        metavar="FILE|-|JSON",
        help="all inputs as one JSON object: a file, '-' for standard input, or the object itself",
    )
    parser.add_argument(
        "--executor",
        metavar="threads|dask|dask-threads|tcp://HOST:PORT",
        help="where the tasks run: this process's threads, a local Dask cluster, or a running "
        "Dask scheduler (default: the blueprint's settings.runtime.executor, else threads)",
    )
    parser.add_argument(
        "--concurrency", type=_positive(int), metavar="N", help="at most N tasks at once"
    )
    parser.add_argument(
        "--timeout", type=_positive(float), metavar="SECONDS", help="fail the run after this"
    )
    return parser


def _positive(kind: Callable[[str], float]) -> Callable[[str], float]:
    """An argparse type: a number of ``kind`` above 0 (argparse reports the ValueError)."""

    def parse(text: str) -> float:
        value = kind(text)
        if not value > 0:
            raise ValueError(text)
        return value

    parse.__name__ = kind.__name__  # argparse's message: "invalid int value: '0'"
    return parse


def _read_json(raw: str) -> dict[str, Any]:
    if raw.lstrip().startswith(("{", "[")):
        text = raw
    else:
        try:
            text = sys.stdin.read() if raw == "-" else Path(raw).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"--inputs-json: cannot read {raw}: {exc}") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"--inputs-json: not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise UsageError("--inputs-json: must be a JSON object")
    return data


def _valid_inputs(model: type[BaseModel]) -> str:
    lines = [
        f"  {info.alias or name}"
        + (" (required)" if info.is_required() else f" = {info.get_default()!r}")
        for name, info in model.model_fields.items()
    ]
    return "\nvalid inputs:\n" + ("\n".join(lines) or "  (this flow takes no inputs)")


def build_inputs(
    model: type[BaseModel], assignments: Sequence[str], inputs_json: str | None
) -> BaseModel:
    """The module's ``Inputs`` from ``--inputs-json`` overridden by ``--input`` assignments.

    Raises:
        UsageError: an unknown name, a malformed assignment, unreadable JSON or an invalid value.
    """
    fields = {info.alias or name: (name, info) for name, info in model.model_fields.items()}
    fields.update({name: (name, info) for name, info in model.model_fields.items()})
    values: dict[str, object] = {}
    given = _read_json(inputs_json) if inputs_json is not None else {}
    for name, value in given.items():
        if name not in fields:
            raise UsageError(f"--inputs-json: unknown input {name!r}{_valid_inputs(model)}")
        values[fields[name][0]] = value
    for assignment in assignments:
        name, sep, text = assignment.partition("=")
        name = name.strip()
        if not sep or not name:
            raise UsageError(f"--input: expected NAME=VALUE, got {assignment!r}")
        if name not in fields:
            raise UsageError(f"--input: unknown input {name!r}{_valid_inputs(model)}")
        field_name, info = fields[name]
        values[field_name] = coerce_text(text, info.annotation)
    try:
        return model.model_validate(values, by_name=True)
    except ValidationError as exc:
        problems = "\n".join(
            f"  {'.'.join(str(part) for part in error['loc']) or 'inputs'}: {error['msg']}"
            for error in exc.errors()
        )
        raise UsageError(f"invalid inputs:\n{problems}{_valid_inputs(model)}") from None


def _unknown(value: object) -> object:
    """JSON for what pydantic cannot serialise: streams read into lists, bytes as text or base64."""
    if isinstance(value, Iterator):
        items: list[object] = []
        try:
            for item in value:
                if len(items) == STREAM_LIMIT:
                    return f"<stream of more than {STREAM_LIMIT} items, not printed>"
                items.append(to_json_data(item))
        finally:
            close = getattr(value, "close", None)
            if callable(close):
                close()  # a generator stopped early releases what it holds (an open file)
        return items
    return f"<{type(value).__name__} object>"


def to_json_data(value: object) -> object:
    """``value`` (outputs, or one output) as data ``json.dumps`` writes as strict JSON."""
    try:
        return to_jsonable_python(value, by_alias=True, inf_nan_mode="null", fallback=_unknown)
    except (PydanticSerializationError, UnicodeDecodeError, ValueError):
        # Bytes that are not UTF-8 somewhere inside: every bytes value is written as base64.
        return to_jsonable_python(
            value, by_alias=True, inf_nan_mode="null", fallback=_unknown, bytes_mode="base64"
        )


def _failure_lines(exc: BaseException) -> list[str] | None:
    """One line per failure of an atomiton error or group of them; None for anything else."""
    if isinstance(exc, BaseExceptionGroup):
        lines: list[str] = []
        for inner in exc.exceptions:
            found = _failure_lines(inner)
            if found is None:
                return None
            lines.extend(found)
        return lines
    if isinstance(exc, NodeError):
        return [str(exc)]  # already ``file:line:col: node 'x' (type) failed: cause``
    if isinstance(exc, AtomitonError):
        return ["cancelled"] if isinstance(exc, CancelledError) else [f"error: {exc}"]
    return None


def run_main(
    blueprint: Blueprint,
    run: Callable[..., BaseModel],
    inputs_model: type[BaseModel],
    argv: Sequence[str] | None = None,
    *,
    prog: str | None = None,
) -> int:
    """Parse ``argv``, run the flow, print its outputs as JSON on stdout; return the exit status.

    Messages go to stderr. A failed node prints its ``NodeError`` (node id, blueprint position);
    an error that is not atomiton's own propagates with its traceback, as a bug should.
    """
    parser = _parser(blueprint, prog or f"python -m {blueprint.id}")
    options = parser.parse_args(argv)  # exits 2 itself on an unknown option
    try:
        inputs = build_inputs(inputs_model, options.assignments, options.inputs_json)
    except UsageError as exc:
        parser.print_usage(sys.stderr)
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return USAGE_ERROR
    extra: dict[str, object] = {}
    if options.executor is not None:
        import inspect

        problem = executor_problem(options.executor) or executor_unavailable(options.executor)
        if problem is None and "executor" not in inspect.signature(run).parameters:
            problem = "this module's run() takes no executor: compile it again"
        if problem is not None:
            parser.print_usage(sys.stderr)
            print(f"{parser.prog}: error: --executor: {problem}", file=sys.stderr)
            return USAGE_ERROR
        extra["executor"] = options.executor
    with cancel_on_signals((signal.SIGINT, *TERMINATION_SIGNALS)) as stopped:
        try:
            outputs = run(
                inputs,
                cancel=stopped,
                concurrency=options.concurrency,
                timeout=options.timeout,
                **extra,
            )
        except OSError as exc:
            executor = options.executor or blueprint.executor
            if executor in (None, "threads"):
                raise
            # Nodes' errors arrive as NodeError: this is the cluster (a scheduler not reachable).
            print(f"error: executor {executor}: {exc}", file=sys.stderr)
            return RUN_FAILED
        except (AtomitonError, BaseExceptionGroup) as exc:
            lines = _failure_lines(exc)
            if lines is None:
                raise
            for line in lines:
                print(line, file=sys.stderr)
            if stopped.signal is not None:
                return 128 + stopped.signal
            return RUN_FAILED
    print(json.dumps(to_json_data(outputs), ensure_ascii=False))
    return OK


def main(
    blueprint: Blueprint, run: Callable[..., BaseModel], inputs_model: type[BaseModel]
) -> NoReturn:
    """The ``__main__`` entry of a generated module: run the flow with ``sys.argv``, then exit."""
    sys.exit(run_main(blueprint, run, inputs_model, prog=_prog()))


def _prog() -> str:
    """How the module was started: ``python -m app.flows.x`` or ``python path/to/x.py``."""
    main_module = sys.modules.get("__main__")
    spec = getattr(main_module, "__spec__", None)
    if spec is not None and spec.name:
        return f"python -m {spec.name}"
    return f"python {sys.argv[0]}"
