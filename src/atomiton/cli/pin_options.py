"""``atomiton run``'s test doubles: ``--pin``, ``--pins-from``/``--pin-nodes`` and ``--fail``.

This module owns reading those options into the ``pins`` and ``fail`` mappings a compiled
module's ``run`` takes, and checking them against the flow before it starts, so that a bad
option is a usage error (exit 2) naming the option and the node. The options themselves are
declared in ``run_cmd.py``; what a pin or a fail does at run time is ``runtime/supply.py``'s,
and reading a recorded run's outputs is ``store/replay.py``'s.
"""

from __future__ import annotations

import builtins
import importlib
import json
from pathlib import Path
from typing import Any

import click


def parse_pins(
    assignments: tuple[str, ...],
    pins_from: str | None,
    pin_nodes: str | None,
    db: Path | None,
) -> dict[str, object]:
    """The pins of ``--pins-from RUN_ID [--pin-nodes a,b]`` overlaid by each ``--pin``.

    Raises:
        click.BadParameter: a malformed ``--pin``, an unreadable file, a run or node value
            that is not in the run history.
    """
    pins: dict[str, object] = {}
    if pin_nodes is not None and pins_from is None:
        raise click.BadParameter("needs --pins-from RUN_ID", param_hint="'--pin-nodes'")
    if pins_from is not None:
        pins.update(_recorded(pins_from, pin_nodes, db))
    for assignment in assignments:
        node, value = _split(assignment, "--pin", "NODE=@FILE.json or NODE=JSON")
        pins[node] = _pin_value(node, value)
    return pins


def _recorded(run_id: str, pin_nodes: str | None, db: Path | None) -> dict[str, object]:
    from ..runtime.supply import PinError
    from ..store import StoreError, recorded_pins

    nodes = None
    if pin_nodes is not None:
        nodes = [name.strip() for name in pin_nodes.split(",") if name.strip()]
        if not nodes:
            raise click.BadParameter("names no node", param_hint="'--pin-nodes'")
    try:
        return recorded_pins(run_id, nodes, db=db)
    except (StoreError, PinError) as exc:
        raise click.BadParameter(str(exc), param_hint="'--pins-from'") from None


def _split(assignment: str, option: str, form: str) -> tuple[str, str]:
    node, sep, value = assignment.partition("=")
    if not sep or not node.strip():
        raise click.BadParameter(f"expected {form}, got {assignment!r}", param_hint=f"'{option}'")
    return node.strip(), value


def _pin_value(node: str, text: str) -> object:
    """``@file.json``: the file's JSON; else JSON, or the text itself when it is not JSON."""
    if text.startswith("@"):
        path = Path(text[1:])
        try:
            raw = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise click.BadParameter(
                f"cannot read the pin of {node!r} from {path}: {reason}", param_hint="'--pin'"
            ) from None
        try:
            value: Any = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise click.BadParameter(
                f"the pin of {node!r} in {path} is not JSON: {exc.msg} "
                f"(line {exc.lineno}, column {exc.colno})",
                param_hint="'--pin'",
            ) from None
        return value
    try:
        parsed: Any = json.loads(text)
    except json.JSONDecodeError:
        return text  # text for a text output; its type still decides whether it fits
    return parsed


def parse_fails(assignments: tuple[str, ...]) -> dict[str, object]:
    """``--fail NODE=ExceptionName[:message]`` as node id -> the exception to fail with.

    ``ExceptionName`` is a built-in exception (``TimeoutError``) or ``module.Class``.

    Raises:
        click.BadParameter: a malformed assignment or a name that is not an exception class.
    """
    fails: dict[str, object] = {}
    for assignment in assignments:
        node, spec = _split(assignment, "--fail", "NODE=ExceptionName:message")
        name, _, message = spec.partition(":")
        fails[node] = _exception_class(node, name.strip())(message.strip() or "failed by --fail")
    return fails


def _exception_class(node: str, name: str) -> type[BaseException]:
    found: object = None
    if "." in name:
        module_name, _, attr = name.rpartition(".")
        try:
            found = getattr(importlib.import_module(module_name), attr, None)
        except ImportError:
            found = None
    elif name:
        found = getattr(builtins, name, None)
    if not (isinstance(found, type) and issubclass(found, BaseException)):
        raise click.BadParameter(
            f"{name!r} (for node {node!r}) is not an exception class: name a built-in one "
            "(TimeoutError, ConnectionError, ValueError, ...) or module.Class",
            param_hint="'--fail'",
        )
    return found


def check_against(module: object, pins: dict[str, object], fails: dict[str, object]) -> None:
    """Check pins and fails against the compiled flow before it runs (and convert the pins).

    Raises:
        click.BadParameter: an unknown node, or a pin that does not fit its node's type.
    """
    from ..runtime.supply import PinError, suppliers_for

    try:
        suppliers_for(
            getattr(module, "BLUEPRINT"), pins or None, fails or None, getattr(module, "Pins")
        )
    except PinError as exc:
        option = "'--fail'" if str(exc).startswith("fail") else "'--pin'"
        raise click.BadParameter(str(exc), param_hint=option) from None
