"""The ``file-system`` node: read, write and manage files and folders.

Writes go through ``runtime.files`` (temporary file, fsync, rename), so a failure or a
cancellation never leaves a half-written file behind. Encoding of values other than text and bytes is
JSON; anything richer (CSV, XLSX) belongs to the ``spreadsheet`` node. Which folders a run may
touch is ``runtime.confine``'s business; this module only asks it.
"""

from __future__ import annotations

import codecs
import json
import os
import shutil
import stat
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final, Literal

from pydantic import Field, field_validator

from ..runtime.confine import Roots, check_path, is_allowed
from ..runtime.files import CHUNK_BYTES, atomic_write, atomic_writer, ensure_folder, writable_target
from .spec import NodeParams, Port, Purity, node_spec

if TYPE_CHECKING:
    from ..runtime.context import NodeContext

Operation = Literal["read", "write", "append", "list", "exists", "create", "delete", "copy", "move"]


class Params(NodeParams):
    """Parameters of the ``file-system`` node."""

    operation: Operation = Field(
        default="read",
        description="What to do: read, write, append, list, exists, create (a folder), delete, copy or move.",
    )
    path: str | None = Field(
        default=None,
        description="The file or folder to act on. Required, here or through the `path` input.",
    )
    content: Any = Field(
        default=None,
        description=(
            "What write and append store: text is encoded with `encoding`, bytes are written as "
            "they are, any other value (object, array, number) is written as JSON text."
        ),
    )
    target_path: str | None = Field(default=None, description="Destination of copy and move.")
    encoding: str = Field(
        default="utf-8",
        description="Text encoding for read, write and append; `binary` reads and writes bytes.",
    )
    recursive: bool = Field(
        default=False,
        description="list: descend into sub-folders; delete: remove a folder with its contents.",
    )
    pattern: str = Field(
        default="*",
        description="Glob that listed names must match (list only), e.g. `*.csv` or `**/*.json`.",
    )
    include_hidden: bool = Field(
        default=False,
        description="list: include names starting with a dot (and whatever lies beneath them).",
    )
    create_directories: bool = Field(
        default=True,
        description="Create missing parent folders before write, append, create, copy and move.",
    )
    overwrite: bool = Field(
        default=True,
        description="Allow write, copy and move to replace an existing file; false fails instead.",
    )
    follow_symlinks: bool = Field(
        default=False,
        description=(
            "write, append, copy and move: when the target is a symbolic link, write the file it "
            "points at (the link stays); when it is a FIFO or a device, write into it. false "
            "refuses such targets rather than replace them with a regular file."
        ),
    )

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        # Checked here so a typo is a compile-time diagnostic, not a failure halfway through a run.
        if value != "binary":
            try:
                codecs.lookup(value)
            except LookupError:
                raise ValueError(
                    f"unknown encoding {value!r} (use e.g. utf-8, latin-1 or binary)"
                ) from None
        return value


@dataclass(frozen=True, slots=True)
class Output:
    """What the ``file-system`` node produces.

    Attributes:
        result: read: the content (str, or bytes with ``encoding: binary``); write, append, create,
            copy, move: the resulting path; list: sorted list of paths; exists: bool; delete: True.
        path: the path the operation produced or acted on (the target for copy and move).
        size: bytes in the resulting file (0 for folders and for exists/delete of nothing);
            for list, the number of entries.
    """

    # Any, not a union: the concrete type depends on `operation`, and generated code hands the
    # value on to ports typed by the blueprint.
    result: Annotated[
        Any, Port(description="Content read, path written, listing, or existence flag.")
    ]
    path: Annotated[
        str, Port(type="path", description="The path acted on (the target for copy and move).")
    ]
    size: Annotated[int, Port(description="Bytes in the resulting file; entry count for list.")]


def run(
    params: Params,
    *,
    content: Annotated[
        object, Port(description="Value to write or append (overrides the content parameter).")
    ] = None,
    path: Annotated[
        str | os.PathLike[str] | None,
        Port(description="File or folder to act on (overrides the path parameter)."),
    ] = None,
    target_path: Annotated[
        str | os.PathLike[str] | None,
        Port(description="Destination of copy and move (overrides targetPath)."),
    ] = None,
    context: NodeContext | None = None,
) -> Output:
    """Perform one file-system operation.

    Args:
        params: the node's parameters.
        content: value to write or append; None means ``params.content``.
        path: file or folder to act on; None means ``params.path``.
        target_path: destination of copy and move; None means ``params.target_path``.
        context: cancellation (a write in progress stops and leaves the old file) and the
            run's confinement (``allowed_paths``).

    Returns:
        The operation's result, the path it produced and a size (see ``Output``).

    Raises:
        ValueError: a required value (path, content, targetPath) is missing.
        FileNotFoundError: the path (or its folder, with createDirectories false) does not exist.
        FileExistsError: the target exists and overwrite is false.
        IsADirectoryError / NotADirectoryError: a folder where a file is expected, or the reverse.
        NotARegularFileError: the target is a symbolic link, FIFO or device and
            ``followSymlinks`` is false.
        ConfinementError: the run is confined and a path leads outside its folders.
        CancelledError: the run was cancelled; a write in progress left the old file as it was.
    """
    raw_path = path if path is not None else params.path
    if raw_path is None or str(raw_path) == "":
        raise ValueError(f"file-system {params.operation} needs a path")
    op = params.operation
    roots = context.allowed_paths if context is not None else None
    where = check_path(raw_path, roots, write=op not in ("read", "list", "exists", "copy"))
    if op == "read":
        return _read(where, params)
    if op in ("write", "append"):
        value = content if content is not None else params.content
        if value is None:
            raise ValueError(
                f"file-system {op} to {str(where)!r} needs content (use '' for an empty file)"
            )
        return _write(where, value, params, append=op == "append", context=context)
    if op == "list":
        return _list(where, params, roots)
    if op == "exists":
        exists = where.exists()
        size = where.stat().st_size if exists and where.is_file() else 0
        return Output(exists, str(where), size)
    if op == "create":
        return _create(where, params)
    if op == "delete":
        return _delete(where, params)
    raw_target = target_path if target_path is not None else params.target_path
    if raw_target is None or str(raw_target) == "":
        raise ValueError(f"file-system {op} of {str(where)!r} needs a targetPath")
    target = check_path(raw_target, roots, write=True)
    return _copy_or_move(where, target, params, move=op == "move", context=context, roots=roots)


# -- operations ---------------------------------------------------------------------------------


def _read(where: Path, params: Params) -> Output:
    if where.is_dir():
        raise IsADirectoryError(f"{str(where)!r} is a folder, not a file (use operation: list)")
    try:
        data = where.read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(f"no such file: {str(where)!r}") from None
    if params.encoding == "binary":
        return Output(data, str(where), len(data))
    # utf-8-sig drops a byte-order mark that editors on Windows like to add.
    encoding = "utf-8-sig" if codecs.lookup(params.encoding).name == "utf-8" else params.encoding
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"{str(where)!r} is not valid {params.encoding} text (byte {exc.start}); "
            "use encoding: binary to read bytes"
        ) from None
    return Output(text, str(where), len(data))


def encode_content(value: object, encoding: str) -> bytes | Iterator[bytes]:
    """Turn a value into bytes the way write and append store it.

    Text is encoded (UTF-8 when ``encoding`` is ``binary``), bytes pass through, an iterator of
    text or bytes chunks is encoded lazily, and any other value becomes JSON text.

    Raises:
        TypeError: the value cannot be represented as JSON.
    """
    text_encoding = "utf-8" if encoding == "binary" else encoding
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, str):
        return value.encode(text_encoding)
    if isinstance(value, Iterator):
        return _encode_chunks(value, text_encoding)
    try:
        text = json.dumps(value, ensure_ascii=False, indent=2, default=_json_default)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"cannot write a {type(value).__name__} as JSON: {exc}") from None
    return (text + "\n").encode(text_encoding)


def _encode_chunks(chunks: Iterator[object], encoding: str) -> Iterator[bytes]:
    for index, chunk in enumerate(chunks):
        if isinstance(chunk, str):
            yield chunk.encode(encoding)
        elif isinstance(chunk, (bytes, bytearray, memoryview)):
            yield bytes(chunk)
        else:
            raise TypeError(
                f"chunk {index} of the content is a {type(chunk).__name__}, expected str or bytes"
            )


def _json_default(value: object) -> object:
    # Paths, dates, sets: the values a flow commonly produces that plain JSON lacks.
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=repr)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _write(
    where: Path, value: object, params: Params, *, append: bool, context: NodeContext | None
) -> Output:
    data = encode_content(value, params.encoding)
    if not append:
        size = atomic_write(
            where,
            data,
            overwrite=params.overwrite,
            create_directories=params.create_directories,
            follow_symlinks=params.follow_symlinks,
            context=context,
        )
        return Output(str(where), str(where), size)
    target, _ = writable_target(where, follow_symlinks=params.follow_symlinks)
    ensure_folder(target.parent, create=params.create_directories)
    # An append cannot be a rename without copying the whole file, so it writes in place; the
    # content is fully encoded first so that a failing value appends nothing at all.
    payload = data if isinstance(data, bytes) else b"".join(data)
    if context is not None:
        context.check()
    with open(target, "ab") as handle:
        handle.write(payload)
        handle.flush()
        if stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            os.fsync(handle.fileno())
    return Output(str(where), str(where), target.stat().st_size)


def _list(where: Path, params: Params, roots: Roots) -> Output:
    if not where.exists():
        raise FileNotFoundError(f"no such folder: {str(where)!r}")
    if not where.is_dir():
        raise NotADirectoryError(f"{str(where)!r} is a file, but list needs a folder")
    found: set[Path] = set()
    for pattern in expand_braces(params.pattern):
        found.update(where.rglob(pattern) if params.recursive else where.glob(pattern))
    entries = []
    for entry in found:
        relative = entry.relative_to(where).parts
        if not params.include_hidden and any(part.startswith(".") for part in relative):
            continue
        if not is_allowed(entry, roots):  # a link out of a confined run's folders
            continue
        entries.append(str(entry))
    entries.sort()
    return Output(entries, str(where), len(entries))


def expand_braces(pattern: str) -> list[str]:
    """``*.{jpg,png}`` -> ``["*.jpg", "*.png"]`` (shell-style alternatives, nested too), which
    pathlib's glob does not do; a pattern without a closed brace pair is returned as is."""
    done: list[str] = []
    pending = [pattern]
    while pending:
        text = pending.pop()
        close = text.find("}")
        open_ = text.rfind("{", 0, close) if close >= 0 else -1
        if open_ < 0:
            done.append(text)
            continue
        head, tail = text[:open_], text[close + 1 :]
        pending.extend(head + choice + tail for choice in text[open_ + 1 : close].split(","))
    return sorted(set(done))


def _create(where: Path, params: Params) -> Output:
    if where.exists() and not where.is_dir():
        raise FileExistsError(f"{str(where)!r} is a file, but create makes a folder")
    if not where.exists():
        ensure_folder(where.parent, create=params.create_directories)
        where.mkdir(exist_ok=True)
    return Output(str(where), str(where), 0)


def _delete(where: Path, params: Params) -> Output:
    if where.is_symlink() or where.is_file():
        size = where.lstat().st_size
        where.unlink()
        return Output(True, str(where), size)
    if not where.exists():
        raise FileNotFoundError(f"cannot delete {str(where)!r}: no such file or folder")
    if params.recursive:
        shutil.rmtree(where)
    else:
        try:
            where.rmdir()
        except OSError:
            raise OSError(
                f"folder {str(where)!r} is not empty (set recursive: true to delete it with its contents)"
            ) from None
    return Output(True, str(where), 0)


def _copy_or_move(
    source: Path,
    target: Path,
    params: Params,
    *,
    move: bool,
    context: NodeContext | None,
    roots: Roots,
) -> Output:
    verb = "move" if move else "copy"
    if not source.exists():
        raise FileNotFoundError(f"cannot {verb} {str(source)!r}: no such file or folder")
    if target.is_dir() and source.is_file():
        # Like cp and mv: a folder as the target means "into this folder".
        target = check_path(target / source.name, roots, write=True)
    if target.exists() and not params.overwrite:
        raise FileExistsError(f"{str(target)!r} already exists and overwrite is false")
    ensure_folder(target.parent, create=params.create_directories)
    if source.is_dir():
        if target.is_symlink() and not params.follow_symlinks:
            writable_target(target, follow_symlinks=False)  # raises: a link is not replaced
        if target.exists() and not target.is_dir():
            raise NotADirectoryError(
                f"cannot {verb} folder {str(source)!r} over the file {str(target)!r}"
            )
        if move:
            if target.exists():
                shutil.rmtree(target)
            shutil.move(source, target)
        else:
            shutil.copytree(source, target, dirs_exist_ok=True)
        return Output(str(target), str(target), 0)
    written, in_place = writable_target(target, follow_symlinks=params.follow_symlinks)
    if move and not in_place:
        try:
            if params.overwrite:
                os.replace(source, written)
            else:
                _commit_move(source, written)
        except OSError as exc:
            if exc.errno != 18:  # EXDEV: a different file system, where rename cannot work
                raise
            _copy_file(source, written, params, context)
            source.unlink()
    else:
        _copy_file(source, written, params, context)
        if move:
            source.unlink()
    return Output(str(target), str(target), written.stat().st_size)


def _commit_move(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except FileExistsError:
        raise FileExistsError(f"{str(target)!r} already exists and overwrite is false") from None
    source.unlink()


def _copy_file(source: Path, target: Path, params: Params, context: NodeContext | None) -> None:
    with (
        open(source, "rb") as src,
        atomic_writer(
            target,
            overwrite=params.overwrite,
            create_directories=params.create_directories,
            follow_symlinks=params.follow_symlinks,
            context=context,
        ) as dst,
    ):
        while chunk := src.read(CHUNK_BYTES):
            if context is not None:
                context.check()
            dst.write(chunk)
    if target.is_file():
        shutil.copystat(source, target)


def _needs(params: Params) -> tuple[str, ...]:
    """Every operation acts on a path; copy and move also need a destination."""
    return ("path", "targetPath") if params.operation in ("copy", "move") else ("path",)


def _purity(params: Mapping[str, object]) -> Purity:
    """Reading operations depend on the files they read; the others change them."""
    return "reads" if params.get("operation", "read") in ("read", "list", "exists") else "effect"


SPEC: Final = node_spec(
    run,
    needs=_needs,
    needs_decided_by=("operation",),
    purity=_purity,
    description="Read, write, list, copy, move and delete files and folders; writes are atomic.",
    execution="thread",
    weight=200,
)
