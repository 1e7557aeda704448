"""mypy --strict on generated modules, with every finding reported at its blueprint's position.

The compiler's own edge check knows the port vocabulary; mypy knows the real signatures (node
``run`` functions, users' ``python`` functions, code written in the blueprint). This module runs
mypy once, in-process, over a batch of compiled modules and turns each finding into an ``E0601``
diagnostic at the YAML position of the node whose generated block holds the line (or of the
interface output a line of ``Outputs(...)`` sets). Compiling is left to the caller.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..diagnostics import Diagnostic, Span
from .ir import Graph, Node
from .naming import field_name

if TYPE_CHECKING:
    from . import CompiledModule

# ``file:line:col: severity: message  [code]`` as printed with --show-column-numbers.
_FINDING = re.compile(
    r"^(?P<file>[^:\n]+?):(?P<line>\d+):(?:(?P<col>\d+):)? (?P<severity>error|note): "
    r"(?P<message>.*?)(?:  \[(?P<code>[a-z0-9-]+)\])?$"
)
# The comment that opens each node's block (codegen): ``# totals.sum: code (totals.yaml:9:5)``.
_NODE_COMMENT = re.compile(r"^\s*# (?P<id>[\w.-]+): [\w-]+ \(.*:\d+:\d+\)$")
_OUTPUT_ARGUMENT = re.compile(r'^Argument "(?P<name>\w+)" to "Outputs"')
# How codegen imports a python node's function.
# How codegen imports a python node's function (long lines wrap: ``from x import (``).
_USER_IMPORT = re.compile(r"^from (?P<module>[\w.]+) import (?:(?P<name>\w+) as _user_\d+|\()$")

MYPY_FLAGS: tuple[str, ...] = (
    "--strict",
    "--follow-imports=silent",
    "--show-column-numbers",
    "--show-error-codes",
    "--no-error-summary",
    "--no-color-output",
    "--hide-error-context",
    "--no-pretty",
)


@dataclass(frozen=True, slots=True)
class _Block:
    """A run of generated lines that belongs to one node."""

    start: int
    end: int
    span: Span
    node: Node | None


def check_types(
    modules: Sequence[CompiledModule],
    *,
    search_path: Iterable[Path] = (),
    cache_dir: Path | None = None,
) -> list[Diagnostic]:
    """Run ``mypy --strict`` once over ``modules`` and report its findings at YAML positions.

    Args:
        modules: compiled modules (``compile_blueprint`` results), checked together in one call.
        search_path: extra folders where mypy looks for the modules of ``python`` nodes' functions
            (the current directory is always searched).
        cache_dir: mypy's incremental cache; None keeps none, so nothing is written outside a
            temporary folder.

    Returns:
        One ``E0601`` diagnostic per mypy error, in the order mypy printed them; mypy's notes
        for an error become its notes. An empty list means mypy accepted every module.
    """
    if not modules:
        return []
    from mypy import api  # mypy is heavy: imported only when a check runs

    with tempfile.TemporaryDirectory(prefix="atomiton-check-") as folder:
        root = Path(folder)
        by_file: dict[str, CompiledModule] = {}
        files = []
        for index, module in enumerate(modules):
            # Distinct module names: two blueprints may share a stem in different folders.
            path = root / f"_atomiton_check_{index}_{module.module_name}.py"
            path.write_text(module.code, encoding="utf-8")
            by_file[path.name] = module
            files.append(str(path))
        config = root / "mypy.ini"
        folders = [str(Path.cwd()), *(str(Path(p).resolve()) for p in search_path)]
        config.write_text(f"[mypy]\nmypy_path = {', '.join(folders)}\n", encoding="utf-8")
        cache = (
            ["--cache-dir", str(cache_dir)]
            if cache_dir is not None
            else [
                "--cache-dir",
                str(root / "cache"),
                "--no-incremental",
            ]
        )
        stdout, stderr, status = api.run(
            [*MYPY_FLAGS, "--config-file", str(config), *cache, *files]
        )
    if status == 2:
        # mypy itself failed (bad options, crash): say so rather than pretend the code is clean.
        message = (stderr or stdout).strip() or "mypy failed"
        return [Diagnostic("E0601", f"mypy could not run: {message}")]
    return _parse(stdout, by_file)


def _parse(output: str, by_file: dict[str, CompiledModule]) -> list[Diagnostic]:
    diagnostics: list[Diagnostic] = []
    blocks: dict[str, list[_Block]] = {}
    for raw in output.splitlines():
        match = _FINDING.match(raw)
        if match is None:
            continue
        module = by_file.get(Path(match["file"]).name)
        if module is None:
            continue  # a finding in an imported module (a user's function): not ours to place
        if match["severity"] == "note":
            if diagnostics:
                diagnostics[-1] = diagnostics[-1].with_note(match["message"])
            continue
        if match["file"] not in blocks:
            blocks[match["file"]] = _blocks(module)
        line = int(match["line"])
        diagnostics.append(
            _diagnostic(module, blocks[match["file"]], line, match["message"], match["code"])
        )
    return diagnostics


def _diagnostic(
    module: CompiledModule, blocks: list[_Block], line: int, message: str, code: str | None
) -> Diagnostic:
    generated = module.code.splitlines()
    text = generated[line - 1].strip() if 0 < line <= len(generated) else ""
    where = f"generated line {line}: {text}" if text else f"generated line {line}"
    block = next((b for b in blocks if b.start <= line <= b.end), None)
    notes: list[str] = []
    if block is not None:
        span = block.span
        if block.node is not None:
            notes.extend(f"included from {s}" for s in block.node.included_from)
    else:
        span = _outside_nodes(module.graph, message, text)
    full = f"{message}  [{code}]" if code else message
    return Diagnostic("E0601", full, span, hint=where, notes=tuple(notes))


def _outside_nodes(graph: Graph, message: str, line: str = "") -> Span:
    """Where a finding outside every node block belongs: the ``function:`` of the python node
    whose import it is on, an interface output, else the file."""
    imported = _USER_IMPORT.match(line)
    if imported is not None:
        users = [n for n in _all_nodes(graph.nodes) if n.function is not None]
        for node in sorted(
            users, key=lambda n: n.function != (imported["module"], imported["name"])
        ):
            if node.function is not None and node.function[0] == imported["module"]:
                return node.function_span or node.span
    match = _OUTPUT_ARGUMENT.match(message)
    if match is not None:
        for output in graph.outputs:
            # The field may be renamed (``Config`` -> ``config``, see ``naming.field_name``).
            if match["name"] in (
                output.port.name,
                _identifier_like(output.port.name),
                field_name(output.port.name),
            ):
                return output.port.span
    return Span(graph.display, 1, 1)


def _identifier_like(name: str) -> str:
    return re.sub(r"\W", "_", name)


def _blocks(module: CompiledModule) -> list[_Block]:
    """Node blocks of ``module``: from each node comment to the line before the next one, or
    before the next top-level statement (the end of the function the block is in)."""
    lines = module.code.splitlines()
    nodes = {n.id: n for n in _all_nodes(module.graph.nodes)}
    starts = [(line, span) for line, span in module.line_map]
    blocks = []
    for index, (start, span) in enumerate(starts):
        limit = starts[index + 1][0] - 1 if index + 1 < len(starts) else len(lines)
        end = start
        while end < limit:
            following = lines[end] if end < len(lines) else ""
            if following and not following[0].isspace() and not following.startswith("#"):
                break  # a new top-level statement: the function holding the block has ended
            end += 1
        match = _NODE_COMMENT.match(lines[start - 1]) if start <= len(lines) else None
        node = nodes.get(match["id"]) if match else None
        blocks.append(_Block(start, end, span, node))
    return blocks


def _all_nodes(nodes: Iterable[Node]) -> Iterable[Node]:
    for node in nodes:
        yield node
        for body in node.bodies:
            yield from _all_nodes(body.nodes)
