"""mypy --strict on generated modules, with every finding reported at its blueprint's position.

The compiler's own edge check knows the port vocabulary; mypy knows the real signatures (node
``run`` functions, users' ``python`` functions, code written in the blueprint). This module runs
mypy once, in-process, over a batch of compiled modules and turns each finding into an ``E0601``
diagnostic at the YAML position the compiler's source map gives the line (a line of a node's
code, else the node), or of the interface output a line of ``Outputs(...)`` sets. Given a cache folder it keeps mypy's
incremental cache there, so that a second check re-analyses only what changed. Compiling, and
choosing where the cache lives, are left to the caller.
"""

from __future__ import annotations

import gc
import hashlib
import io
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Final

from .. import codes
from ..diagnostics import Diagnostic, Span
from .ir import Graph, Node
from .naming import field_name
from .writer import origin_of

if TYPE_CHECKING:
    from . import CompiledModule

# ``file:line:col: severity: message  [code]`` as printed with --show-column-numbers.
_FINDING = re.compile(
    r"^(?P<file>[^:\n]+?):(?P<line>\d+):(?:(?P<col>\d+):)? (?P<severity>error|note): "
    r"(?P<message>.*?)(?:  \[(?P<code>[a-z0-9-]+)\])?$"
)
_OUTPUT_ARGUMENT = re.compile(r'^Argument "(?P<name>\w+)" to "Outputs"')
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

# Inside a cache folder: mypy's own cache, the generated modules as last checked (mypy's cache
# entries name their source file, and an unchanged file keeps its mtime, mypy's cheapest
# freshness test), and the lock that lets one check at a time use both.
_MYPY_CACHE: Final = "mypy"
_MODULES: Final = "modules"
_LOCK: Final = "lock"
_CONFIG: Final = "mypy.ini"
_MODULE_PREFIX: Final = "_atomiton_check_"


@dataclass(frozen=True, slots=True)
class TypeCheck:
    """What one mypy run found.

    Attributes:
        diagnostics: one ``E0601`` per mypy error, in the order mypy printed them.
        rechecked: the blueprints whose generated module mypy analysed in this run; the others
            were answered from the cache.
        cache_note: why the cache was not used or was rebuilt (it was unusable or corrupt),
            or None when it was used as it was, or none was asked for.
    """

    diagnostics: tuple[Diagnostic, ...]
    rechecked: frozenset[Path]
    cache_note: str | None = None


class _CacheError(Exception):
    """The cache folder could not be used; the check runs again without it."""


class _MypyFailed(Exception):
    """mypy itself stopped (an internal error, a bad option), with what it printed."""


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
        cache_dir: a folder for mypy's incremental cache (see ``run_mypy``); None keeps none, so
            nothing is written outside a temporary folder.

    Returns:
        One ``E0601`` diagnostic per mypy error, in the order mypy printed them; mypy's notes
        for an error become its notes. An empty list means mypy accepted every module.
    """
    return list(run_mypy(modules, search_path=search_path, cache_dir=cache_dir).diagnostics)


def cache_is_warm(cache_dir: Path) -> bool:
    """Whether ``cache_dir`` holds a cache from an earlier check (else the next one is cold)."""
    return (cache_dir / _MYPY_CACHE).is_dir()


def run_mypy(
    modules: Sequence[CompiledModule],
    *,
    search_path: Iterable[Path] = (),
    cache_dir: Path | None = None,
    on_wait: Callable[[], None] | None = None,
) -> TypeCheck:
    """Run ``mypy --strict`` once, in-process, over ``modules``; ``check_types`` with details.

    Args:
        modules: compiled modules, checked together in one mypy build.
        search_path: extra folders where mypy looks for the modules of ``python`` nodes.
        cache_dir: a folder this function owns: mypy's incremental cache, the generated modules
            as last checked, and a lock, so that checks running at the same time take turns.
            Created when missing. A cache that cannot be read is deleted and rebuilt, and one
            that cannot be written is left alone: the check then runs as without one.
        on_wait: called once if another check holds the cache and this one has to wait.

    Returns:
        The findings, and which modules mypy re-analysed rather than took from its cache.
    """
    if not modules:
        return TypeCheck((), frozenset())
    folders = [Path.cwd(), *(Path(p).resolve() for p in search_path)]
    note = None
    try:
        if cache_dir is not None:
            try:
                return _run_cached(modules, folders, cache_dir, on_wait)
            except _CacheError as exc:
                note = str(exc)
        with tempfile.TemporaryDirectory(prefix="atomiton-check-") as folder:
            root = Path(folder)
            files = _write_modules(modules, root)
            result = _build(files, folders, root / "cache", incremental=False)
            return TypeCheck(result.diagnostics, result.rechecked, note)
    except _MypyFailed as exc:
        # Say so rather than pretend the code is clean.
        return TypeCheck((Diagnostic(codes.MYPY, f"mypy could not run: {exc}"),), frozenset(), note)


def _run_cached(
    modules: Sequence[CompiledModule],
    folders: list[Path],
    cache_dir: Path,
    on_wait: Callable[[], None] | None,
) -> TypeCheck:
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        _ignore_in_git(cache_dir)
        handle = open(cache_dir / _LOCK, "a+b")
    except OSError as exc:
        raise _CacheError(
            f"the cache in {cache_dir} cannot be used ({exc}); checked without it"
        ) from exc
    with handle, _locked(handle, on_wait):
        try:
            files = _write_modules(modules, cache_dir / _MODULES)
            return _build(files, folders, cache_dir / _MYPY_CACHE, incremental=True)
        except Exception:  # a corrupt cache shows itself as any error at all: start afresh
            _clear(cache_dir)
        try:
            files = _write_modules(modules, cache_dir / _MODULES)
            result = _build(files, folders, cache_dir / _MYPY_CACHE, incremental=True)
        except Exception as exc:
            raise _CacheError(
                f"the cache in {cache_dir} could not be rebuilt ({type(exc).__name__}: {exc}); "
                "checked without it"
            ) from exc
        note = f"the cache in {cache_dir} could not be read; it has been rebuilt"
        return TypeCheck(result.diagnostics, result.rechecked, note)


def _write_modules(modules: Sequence[CompiledModule], folder: Path) -> dict[Path, CompiledModule]:
    """Write each module to ``folder`` under a name stable across runs."""
    folder.mkdir(parents=True, exist_ok=True)
    files: dict[Path, CompiledModule] = {}
    for module in modules:
        path = folder / f"{_check_module_name(module)}.py"
        _write_if_changed(path, module.code)
        files[path] = module
    return files


def _write_if_changed(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` unless it is there already: an untouched file keeps its mtime,
    which tells mypy it is fresh without reading it.

    A changed file gets an mtime later, to the second, than the one it replaces: mypy takes a
    file whose size and whole-second mtime match its cache entry as unchanged, so an edit of
    the same length saved within the second of the last check would otherwise go unseen.
    """
    data = text.encode("utf-8")
    try:
        before = path.stat()
        if path.read_bytes() == data:
            return
    except OSError:
        before = None
    partial = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    partial.write_bytes(data)
    os.replace(partial, path)  # never a half-written file, even if interrupted
    if before is not None and int(path.stat().st_mtime) <= int(before.st_mtime):
        later = (int(before.st_mtime) + 1) * 1_000_000_000
        os.utime(path, ns=(later, later))


def _check_module_name(module: CompiledModule) -> str:
    """A module name unique to the blueprint's file: two blueprints may share a stem in
    different folders, and the same blueprint keeps its name (and cache entry) across runs."""
    where = str(Path(module.source).resolve()).encode("utf-8")
    return f"{_MODULE_PREFIX}{module.module_name}_{hashlib.sha1(where).hexdigest()[:10]}"


def _build(
    files: dict[Path, CompiledModule], folders: list[Path], cache: Path, *, incremental: bool
) -> TypeCheck:
    # mypy is heavy: imported only when a check runs.
    from mypy import build
    from mypy.defaults import RECURSION_LIMIT
    from mypy.errors import CompileError
    from mypy.fscache import FileSystemCache
    from mypy.main import process_options
    from mypy.modulefinder import BuildSource

    # Our own configuration file, so that a mypy.ini or pyproject.toml of the user's is not read.
    config = cache.parent / _CONFIG
    _write_if_changed(config, f"[mypy]\nmypy_path = {', '.join(str(f) for f in folders)}\n")
    flags = [*MYPY_FLAGS, "--config-file", str(config), "--cache-dir", str(cache)]
    if not incremental:
        flags.append("--no-incremental")
    out = io.StringIO()
    fscache = FileSystemCache()
    _, options = process_options(
        [*flags, *(str(f) for f in files)], stdout=out, stderr=out, fscache=fscache
    )
    sources = [BuildSource(str(path), path.stem, None, str(path.parent)) for path in files]
    messages: list[str] = []

    def collect(_file: str | None, new: list[str], _serious: bool) -> None:
        messages.extend(new)

    # mypy's command raises the recursion limit (deep expressions) and tunes the collector for
    # itself; do the same for the build, and give both back after it.
    thresholds, depth = gc.get_threshold(), sys.getrecursionlimit()
    sys.setrecursionlimit(max(depth, RECURSION_LIMIT))
    try:
        result = build.build(sources, options, None, collect, fscache, out, out)
    except CompileError as exc:
        # A blocking error (a syntax error in a user's module, say): mypy stopped early.
        found = "\n".join([*messages, *exc.messages]).strip() or "mypy failed"
        return TypeCheck((Diagnostic(codes.MYPY, f"mypy could not run: {found}"),), frozenset())
    except SystemExit as exc:  # mypy's way out of an internal error
        raise _MypyFailed(out.getvalue().strip() or f"mypy exited with {exc.code}") from exc
    finally:
        gc.set_threshold(*thresholds)
        sys.setrecursionlimit(depth)
    try:
        rechecked = frozenset(
            files[path].source for path in files if path.stem in result.manager.rechecked_modules
        )
    finally:
        result.manager.metastore.close()
    by_file = {path.name: module for path, module in files.items()}
    return TypeCheck(tuple(_parse("\n".join(messages), by_file)), rechecked)


def _clear(cache_dir: Path) -> None:
    """Delete what this module keeps in ``cache_dir``, as far as it can (the lock stays: it is
    held); whatever cannot be deleted makes the next attempt fail, and the check go uncached."""
    for name in (_MYPY_CACHE, _MODULES, _CONFIG):
        target = cache_dir / name
        try:
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            else:
                target.unlink(missing_ok=True)
        except OSError:
            pass


def _ignore_in_git(cache_dir: Path) -> None:
    """A cache is never committed (mypy and pytest mark their caches the same way)."""
    marker = cache_dir / ".gitignore"
    if not marker.exists():
        marker.write_text("# written by atomiton check\n*\n", encoding="utf-8")


@contextmanager
def _locked(handle: IO[bytes], on_wait: Callable[[], None] | None) -> Iterator[None]:
    """Hold an exclusive lock on the open file ``handle`` (the OS releases it if this process
    dies). Where there are none (Windows, some network file systems) checks run unlocked and
    rely on mypy's own SQLite cache, which lets one writer in at a time."""
    if sys.platform == "win32":
        yield
        return
    import fcntl

    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        if on_wait is not None:
            on_wait()
        fcntl.flock(handle, fcntl.LOCK_EX)
    except OSError:
        yield
        return
    try:
        yield
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)


def _parse(output: str, by_file: dict[str, CompiledModule]) -> list[Diagnostic]:
    diagnostics: list[Diagnostic] = []
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
        line = int(match["line"])
        diagnostics.append(_diagnostic(module, line, match["message"], match["code"]))
    return diagnostics


def _diagnostic(module: CompiledModule, line: int, message: str, code: str | None) -> Diagnostic:
    generated = module.code.splitlines()
    text = generated[line - 1].strip() if 0 < line <= len(generated) else ""
    where = f"generated line {line}: {text}" if text else f"generated line {line}"
    origin = origin_of(module.line_map, line)
    notes: list[str] = []
    if origin is not None:
        span = origin.span
        notes.extend(f"included from {s}" for s in origin.included_from)
    else:
        span = _outside_nodes(module.graph, message, text)
    full = f"{message}  [{code}]" if code else message
    return Diagnostic(codes.MYPY, full, span, hint=where, notes=tuple(notes))


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


def _all_nodes(nodes: Iterable[Node]) -> Iterable[Node]:
    for node in nodes:
        yield node
        for body in node.bodies:
            yield from _all_nodes(body.nodes)
