"""The compile cache of ``atomiton run``: a blueprint compiled once runs from bytecode after.

One entry per blueprint and setting (the file ``<key>.entry`` under the ``run`` cache folder, see
``cache_dir``). The key hashes what the compiler's answer depends on besides the blueprint files:
atomiton's version and its installed source files (size and modification time, so an edited
checkout is a new compiler), the Python that made the bytecode, the blueprint's path, the current
folder, the sub-blueprint search path and store, and ``sys.path`` (``python`` nodes' functions
are looked up on it). The entry holds a manifest (every blueprint file the compilation read, by
path and sha256, and the warnings it reported) on its first line, then the module's bytecode.
The module's text lies beside it (``<key>.py``), read only when asked for (``ModuleSource``: a
Dask executor sends it to its workers).

An entry is used only when every file still has its recorded hash and the bytecode its recorded
hash; anything else (an edited include, a truncated or foreign file) is a miss: the blueprint is
compiled again and the entry rewritten. Entries are written to a temporary file and renamed into
place, so concurrent runs see a whole entry or none. Only blueprints that compiled are cached.

This module imports no part of the compiler: a hit costs hashing the files and loading bytecode.
"""

from __future__ import annotations

import hashlib
import json
import marshal
import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import CodeType, ModuleType
from typing import Any, Final

from .. import __version__
from ..diagnostics import Diagnostic, Severity, Span

FORMAT: Final = 1
KIND: Final = "run"
_SUFFIX: Final = ".entry"
_SOURCE_SUFFIX: Final = ".py"


@dataclass(frozen=True, slots=True)
class Entry:
    """A compiled module as the cache keeps it."""

    module_name: str  # the name in sys.modules (pydantic and pickle look models up there)
    file: str  # the module's __file__
    code: CodeType
    warnings: tuple[Diagnostic, ...]
    source: str | Path  # the module's text, or the file the cache keeps it in


class ModuleSource:
    """A cached module's ``__loader__``: its text for whoever asks (``get_source``, the
    standard way), read from the cache only then, so a run that never asks pays nothing."""

    def __init__(self, source: str | Path) -> None:
        self._source = source

    def get_source(self, name: str) -> str | None:
        if isinstance(self._source, Path):
            try:
                self._source = self._source.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                return None
        return self._source


def _package_fingerprint() -> str:
    """Names, sizes and modification times of atomiton's own files: a changed compiler (an
    upgrade, or an edit in a development checkout) never reuses an old entry."""
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            if name.endswith((".py", ".j2", ".jinja", ".txt", ".json")):
                stat = os.stat(os.path.join(folder, name))
                relative = os.path.relpath(os.path.join(folder, name), root)
                digest.update(f"{relative}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def entry_key(blueprint: Path, search_path: Sequence[Path]) -> str:
    """The key of ``blueprint``'s entry: everything but the blueprint files' contents."""
    parts: dict[str, Any] = {
        "format": FORMAT,
        "atomiton": __version__,
        "package": _package_fingerprint(),
        "python": [sys.version, sys.implementation.cache_tag],
        "blueprint": str(blueprint.resolve()),
        "cwd": os.getcwd(),
        "search_path": [str(p.resolve()) for p in search_path],
        "env": [os.environ.get(name) for name in ("ATOMITON_PATH", "ATOMITON_HOME", "HOME")],
        "sys_path": sys.path,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def _sha256_file(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def _diagnostic_json(diagnostic: Diagnostic) -> dict[str, Any]:
    span = diagnostic.span
    return {
        "code": diagnostic.code,
        "message": diagnostic.message,
        "span": None if span is None else [span.path, span.line, span.column],
        "severity": diagnostic.severity.value,
        "hint": diagnostic.hint,
        "notes": list(diagnostic.notes),
    }


def _diagnostic_from(data: dict[str, Any]) -> Diagnostic:
    span = data["span"]
    return Diagnostic(
        code=str(data["code"]),
        message=str(data["message"]),
        span=None if span is None else Span(str(span[0]), int(span[1]), int(span[2])),
        severity=Severity(data["severity"]),
        hint=None if data["hint"] is None else str(data["hint"]),
        notes=tuple(str(note) for note in data["notes"]),
    )


def read(folder: Path, key: str) -> Entry | None:
    """The entry of ``key`` if it is whole and every file it was compiled from is unchanged."""
    try:
        with open(folder / f"{key}{_SUFFIX}", "rb") as stream:
            header = stream.readline()
            payload = stream.read()
    except OSError:
        return None
    try:
        manifest = json.loads(header)
        if manifest["format"] != FORMAT or manifest["key"] != key:
            return None
        if hashlib.sha256(payload).hexdigest() != manifest["payload_sha256"]:
            return None
        for path, digest in manifest["files"]:
            if _sha256_file(Path(path)) != digest:
                return None
        code = marshal.loads(payload)
        if not isinstance(code, CodeType):
            return None
        warnings = tuple(_diagnostic_from(item) for item in manifest["warnings"])
        source = folder / f"{key}{_SOURCE_SUFFIX}"
        return Entry(str(manifest["module"]), str(manifest["file"]), code, warnings, source)
    except (ValueError, KeyError, TypeError, IndexError, EOFError):
        return None  # not an entry this version wrote: compile again


def write(
    folder: Path,
    key: str,
    entry: Entry,
    files: Iterable[tuple[Path, str]],
) -> None:
    """Store ``entry`` under ``key`` atomically; ``files`` are (path, sha256) as compiled.

    Raises:
        OSError: the entry could not be written (the caller runs on without a cache).
    """
    payload = marshal.dumps(entry.code)
    manifest = {
        "format": FORMAT,
        "key": key,
        "module": entry.module_name,
        "file": entry.file,
        "files": [[str(path), digest] for path, digest in files],
        "payload_sha256": hashlib.sha256(payload).hexdigest(),
        "warnings": [_diagnostic_json(w) for w in entry.warnings],
    }
    header = json.dumps(manifest, ensure_ascii=True).encode() + b"\n"
    from ..runtime.files import atomic_write  # only on a miss: a hit stays lean

    if isinstance(entry.source, str):  # first, so that an entry never lacks its text
        text = entry.source.encode("utf-8")
        atomic_write(folder / f"{key}{_SOURCE_SUFFIX}", [text], create_directories=False)
    atomic_write(folder / f"{key}{_SUFFIX}", [header, payload], create_directories=False)


def file_hashes(paths: Iterable[Path]) -> list[tuple[Path, str]] | None:
    """(path, sha256) of each file now; None when one cannot be read (nothing to cache)."""
    hashes = []
    for path in paths:
        digest = _sha256_file(path)
        if digest is None:
            return None
        hashes.append((path, digest))
    return hashes


def module_from(entry: Entry) -> ModuleType:
    """Execute ``entry``'s bytecode as a new module registered under its name (the same name
    ``atomiton.compiler.load_module`` gives the same code, so both share a loaded module)."""
    name = entry.module_name
    if name in sys.modules:
        return sys.modules[name]
    module = ModuleType(name)
    module.__file__ = entry.file
    # Typed as an import loader; this one only gives the text (what ``get_source`` users ask).
    setattr(module, "__loader__", ModuleSource(entry.source))
    sys.modules[name] = module
    try:
        exec(entry.code, module.__dict__)
    except BaseException:
        del sys.modules[name]
        raise
    return module
