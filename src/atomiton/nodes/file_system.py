"""The ``file-system`` node: read, write and manage files and folders.

It also owns ``atomic_write`` / ``atomic_writer``, the one way nodes in this package replace a
file (temporary file in the same folder, fsync, rename), so that a failure or a cancellation
never leaves a half-written file behind, and a killed process leaves at most a temporary file
that the next write to the same target removes. Encoding of values other than text and bytes is
JSON; anything richer (CSV, XLSX) belongs to the ``spreadsheet`` node. Which folders a run may
touch is ``runtime.confine``'s business; this module only asks it.
"""

from __future__ import annotations

import codecs
import contextlib
import hashlib
import json
import os
import shutil
import signal
import stat
import tempfile
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final, Literal

from pydantic import Field, field_validator

from ..runtime.confine import Roots, check_path, is_allowed
from .spec import NodeParams, NodeSpec, Port

if TYPE_CHECKING:
    from ..runtime.context import NodeContext

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: stale temporary files are left alone
    fcntl = None  # type: ignore[assignment]

Operation = Literal["read", "write", "append", "list", "exists", "create", "delete", "copy", "move"]

# Files made by mkstemp are 0600; a written file should get the mode an ordinary open() would
# give it. Setting the umask is the portable way to read it, which races with threads creating
# files, so that is done once, at import; Linux shows the current one in /proc (``current_umask``).
_UMASK: Final = os.umask(0)
os.umask(_UMASK)
_STATUS: Final = Path("/proc/self/status")


def current_umask() -> int:
    """The process's umask now (Linux), else as it was when this module was imported."""
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return _UMASK


# Temporary files are named after their target (".<name>.atomiton-tmp-<slot>"), so the next
# write to the same target can find the ones a killed process left behind.
_TEMP_MARK: Final = ".atomiton-tmp-"
# Temporary names per target: as many writers of one target at once as any flow needs.
_SLOTS: Final = 8
_NOFOLLOW: Final = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
# Bytes written between two looks at the cancel flag: a cancelled write stops within a few ms.
_CHUNK: Final = 1024 * 1024
# Temporary files being written by this process, for the SIGTERM cleanup of worker processes.
_LIVE: Final[set[str]] = set()
_LIVE_LOCK: Final = threading.Lock()
_SIGTERM_CLEANUP: list[bool] = [False]


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
    result: Any
    path: str
    size: int


def run(
    params: Params,
    *,
    content: object = None,
    path: str | os.PathLike[str] | None = None,
    target_path: str | os.PathLike[str] | None = None,
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


# -- atomic writes ------------------------------------------------------------------------------


class NotARegularFileError(OSError):
    """A write would replace a symbolic link, FIFO, device or socket with a regular file."""


@contextlib.contextmanager
def atomic_writer(
    path: str | os.PathLike[str],
    *,
    overwrite: bool = True,
    create_directories: bool = True,
    follow_symlinks: bool = False,
    context: NodeContext | None = None,
) -> Iterator[IO[bytes]]:
    """Open a binary file that replaces ``path`` only when the ``with`` block succeeds.

    Data goes to a temporary file ``.<name>.atomiton-tmp-<slot>`` in the same folder (so the
    final rename stays on one file system), which is flushed and fsynced, then renamed over
    ``path``. If the block raises, or ``context`` is cancelled before the rename, the temporary
    file is removed and ``path`` keeps its old content. An existing file's permission bits are
    kept. The temporary file is locked while it is written; temporary files of the same target
    that nobody holds (their writer was killed) are removed first.

    Args:
        path: the file to create or replace.
        overwrite: if false, fail with ``FileExistsError`` when ``path`` exists (checked again
            at the rename, so a file created meanwhile is not clobbered either).
        create_directories: create missing parent folders first.
        follow_symlinks: a symbolic link at ``path`` is followed (the file it points at is
            replaced, the link stays) and a FIFO or device is written in place; false refuses
            both rather than replace them with a regular file.
        context: the node's context; a cancelled run aborts the write before the rename.

    Yields:
        The temporary file (or the FIFO or device itself), open for binary writing.

    Raises:
        FileExistsError: ``path`` exists and ``overwrite`` is false.
        FileNotFoundError: the parent folder is missing and ``create_directories`` is false.
        IsADirectoryError: ``path`` is a folder.
        NotARegularFileError: ``path`` is a link, FIFO or device and ``follow_symlinks`` is false.
        CancelledError: ``context`` was cancelled.
    """
    target, in_place = writable_target(Path(path), follow_symlinks=follow_symlinks)
    if in_place:
        if not overwrite:
            raise FileExistsError(f"{str(target)!r} already exists and overwrite is false")
        # A FIFO or a device is a stream, not a file to replace: write into it.
        with open(target, "wb") as stream:
            yield stream
        return
    _check_writable(target, overwrite=overwrite, create_directories=create_directories)
    remove_stale_temporaries(target)
    fd, tmp_name = _open_temporary(target)
    tmp = Path(tmp_name)
    handle = os.fdopen(fd, "wb")
    with _LIVE_LOCK:
        _LIVE.add(tmp_name)
    try:
        try:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
            try:
                mode = target.stat().st_mode & 0o7777
            except FileNotFoundError:
                mode = 0o666 & ~current_umask()
            os.chmod(tmp, mode)
            if context is not None:
                context.check()  # the last moment a cancellation can keep the old file
            _commit(tmp, target, overwrite=overwrite)
        except BaseException:
            # Removed while still locked: once the lock is gone, the name may be another
            # writer's new temporary file.
            tmp.unlink(missing_ok=True)
            raise
    finally:
        handle.close()
        with _LIVE_LOCK:
            _LIVE.discard(tmp_name)
    _fsync_folder(target.parent)


def clean_up_on_sigterm() -> None:
    """In a worker process, remove this process's temporary files when SIGTERM arrives.

    A cancelled run stops its worker processes with SIGTERM, which ends Python without running
    ``finally`` blocks; the handler removes the temporary files being written, then lets the
    signal end the process as before. It is installed once, and only in a process that has a
    multiprocessing parent and only from its main thread (signal handlers live there): the
    ``atomiton`` command's own SIGTERM handling is never replaced.
    """
    import multiprocessing

    if _SIGTERM_CLEANUP[0] or multiprocessing.parent_process() is None:
        return
    if threading.current_thread() is not threading.main_thread():
        return
    previous = signal.getsignal(signal.SIGTERM)
    if previous not in (signal.SIG_DFL, None):
        return

    def handle(signum: int, frame: object) -> None:
        # No lock here: the handler runs in the main thread, which may hold it already;
        # copying the set is one step under the GIL.
        names = list(_LIVE)
        for name in names:
            with contextlib.suppress(OSError):
                os.unlink(name)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)

    signal.signal(signal.SIGTERM, handle)
    _SIGTERM_CLEANUP[0] = True


def atomic_write(
    path: str | os.PathLike[str],
    data: bytes | Iterable[bytes],
    *,
    overwrite: bool = True,
    create_directories: bool = True,
    follow_symlinks: bool = False,
    context: NodeContext | None = None,
) -> int:
    """Replace ``path`` with ``data`` atomically; return the number of bytes written.

    ``data`` may be an iterable of chunks (a generator, say), written as they come so a large
    file needs constant memory; if the iterable raises midway, or ``context`` is cancelled,
    ``path`` is left untouched and the temporary file is removed.

    Args:
        path: the file to create or replace.
        data: the bytes, or an iterable of byte chunks.
        overwrite: if false, fail instead of replacing an existing file.
        create_directories: create missing parent folders first.
        follow_symlinks: see ``atomic_writer``.
        context: the node's context, looked at between chunks of at most 1 MiB.

    Returns:
        The size of the new file in bytes.

    Raises:
        FileExistsError, FileNotFoundError, IsADirectoryError, NotARegularFileError,
        CancelledError: see ``atomic_writer``.
    """
    written = 0
    with atomic_writer(
        path,
        overwrite=overwrite,
        create_directories=create_directories,
        follow_symlinks=follow_symlinks,
        context=context,
    ) as handle:
        chunks: Iterable[bytes] = (
            (bytes(data),) if isinstance(data, (bytes, bytearray, memoryview)) else data
        )
        for chunk in chunks:
            view = memoryview(chunk)
            for start in range(0, len(view), _CHUNK):
                if context is not None:
                    context.check()
                written += handle.write(view[start : start + _CHUNK])
    return written


def writable_target(target: Path, *, follow_symlinks: bool) -> tuple[Path, bool]:
    """Where a write to ``target`` really goes: (path, whether to write in place).

    A missing path or a regular file is written as it is. A symbolic link is refused, or with
    ``follow_symlinks`` replaced by the path it leads to. A FIFO or device is refused, or with
    ``follow_symlinks`` written in place.

    Raises:
        IsADirectoryError: the target (or what a link leads to) is a folder.
        NotARegularFileError: a link, FIFO, device or socket that may not be written.
    """
    try:
        mode = target.lstat().st_mode
    except (FileNotFoundError, NotADirectoryError):
        return target, False
    if stat.S_ISLNK(mode):
        resolved = Path(os.path.realpath(target))
        if not follow_symlinks:
            raise NotARegularFileError(
                f"{str(target)!r} is a symbolic link (to {str(resolved)!r}); a write would replace "
                "the link with a regular file (set followSymlinks: true to write the file it "
                "points at)"
            )
        if resolved.is_symlink():  # a loop of links: realpath gives up on it
            raise NotARegularFileError(f"{str(target)!r} is a loop of symbolic links")
        return writable_target(resolved, follow_symlinks=True)
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(f"{str(target)!r} is a folder, not a file")
    if stat.S_ISSOCK(mode):
        raise NotARegularFileError(f"{str(target)!r} is a socket; it cannot be written as a file")
    if stat.S_ISFIFO(mode) or stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        kind = "a FIFO" if stat.S_ISFIFO(mode) else "a device"
        if not follow_symlinks:
            raise NotARegularFileError(
                f"{str(target)!r} is {kind}; a write would replace it with a regular file (set "
                "followSymlinks: true to write into it)"
            )
        return target, True
    return target, False


def _temp_prefix(name: str) -> str:
    prefix = f".{name}{_TEMP_MARK}"
    # A slot number or mkstemp's 8 characters follow; a name near the limit gets a digest in
    # its place instead.
    if len(os.fsencode(prefix)) + 8 > 255:
        digest = hashlib.sha256(os.fsencode(name)).hexdigest()[:32]
        prefix = f".{digest}{_TEMP_MARK}"
    return prefix


def _temp_slots(target: Path) -> list[str]:
    """The names a write to ``target`` tries first: few and fixed, so a later write finds the
    ones a killed writer left by looking at these names, never by listing the folder."""
    prefix = os.path.join(target.parent, _temp_prefix(target.name))
    return [f"{prefix}{slot}" for slot in range(_SLOTS)]


def _open_temporary(target: Path) -> tuple[int, str]:
    """Create and lock a temporary file for ``target``; return its descriptor and name."""
    for name in _temp_slots(target):
        try:
            fd = os.open(name, os.O_RDWR | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o600)
        except FileExistsError:
            continue  # a live writer of the same target holds this slot
        if _locked(fd) and _same_file(fd, name):
            return fd, name
        # A cleanup got to the new file before the lock did: leave it and try the next slot.
        os.close(fd)
    # Every slot busy: a random name, found by no later cleanup should this writer be killed.
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=_temp_prefix(target.name))
    _locked(fd)
    return fd, name


def _locked(fd: int) -> bool:
    """Take the "someone is writing this" lock; the kernel drops it when the process dies."""
    if fcntl is None:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def _same_file(fd: int, name: str) -> bool:
    try:
        by_name, by_fd = os.lstat(name), os.fstat(fd)
    except OSError:
        return False
    return (by_name.st_dev, by_name.st_ino) == (by_fd.st_dev, by_fd.st_ino)


def remove_stale_temporaries(target: Path) -> int:
    """Remove temporary files of ``target`` that no writer holds; return how many.

    A writer locks its temporary file until the rename, and the kernel releases the lock of a
    killed process, so a temporary file that can be locked is one nobody will finish. Without
    file locks (not POSIX) nothing can be told apart, and nothing is removed.
    """
    if fcntl is None:
        return 0
    removed = 0
    for name in _temp_slots(target):
        try:
            fd = os.open(name, os.O_RDONLY | _NOFOLLOW)
        except OSError:
            continue  # no such slot (the usual case), or not a file this code made
        try:
            if stat.S_ISREG(os.fstat(fd).st_mode) and _locked(fd) and _same_file(fd, name):
                os.unlink(name)
                removed += 1
        except OSError:
            pass
        finally:
            os.close(fd)
    return removed


def _check_writable(target: Path, *, overwrite: bool, create_directories: bool) -> None:
    if target.is_dir():
        raise IsADirectoryError(f"{str(target)!r} is a folder, not a file")
    if not overwrite and target.exists():
        raise FileExistsError(f"{str(target)!r} already exists and overwrite is false")
    _ensure_folder(target.parent, create=create_directories)


def _ensure_folder(folder: Path, *, create: bool) -> None:
    if folder.is_dir():
        return
    if folder.exists():
        raise NotADirectoryError(f"{str(folder)!r} is a file, but a folder is expected here")
    if not create:
        raise FileNotFoundError(
            f"folder {str(folder)!r} does not exist (set createDirectories: true to create it)"
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        # mkdir reports a *file* somewhere along the way this way.
        raise NotADirectoryError(
            f"cannot create folder {str(folder)!r}: part of it is a file"
        ) from None
    except NotADirectoryError:
        raise NotADirectoryError(
            f"cannot create folder {str(folder)!r}: part of it is a file"
        ) from None


def _commit(tmp: Path, target: Path, *, overwrite: bool) -> None:
    if overwrite:
        os.replace(tmp, target)
        return
    # link() fails if the target exists, closing the gap between the earlier check and now.
    try:
        os.link(tmp, target)
    except FileExistsError:
        raise FileExistsError(f"{str(target)!r} already exists and overwrite is false") from None
    except OSError:
        # A file system without hard links: fall back to check-then-rename.
        if target.exists():
            raise FileExistsError(
                f"{str(target)!r} already exists and overwrite is false"
            ) from None
        os.replace(tmp, target)
    else:
        tmp.unlink()


def _fsync_folder(folder: Path) -> None:
    # Makes the rename itself durable on POSIX; not possible (nor needed) everywhere.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


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
    _ensure_folder(target.parent, create=params.create_directories)
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
    matches = where.rglob(params.pattern) if params.recursive else where.glob(params.pattern)
    entries = []
    for entry in matches:
        relative = entry.relative_to(where).parts
        if not params.include_hidden and any(part.startswith(".") for part in relative):
            continue
        if not is_allowed(entry, roots):  # a link out of a confined run's folders
            continue
        entries.append(str(entry))
    entries.sort()
    return Output(entries, str(where), len(entries))


def _create(where: Path, params: Params) -> Output:
    if where.exists() and not where.is_dir():
        raise FileExistsError(f"{str(where)!r} is a file, but create makes a folder")
    if not where.exists():
        _ensure_folder(where.parent, create=params.create_directories)
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
    _ensure_folder(target.parent, create=params.create_directories)
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
        while chunk := src.read(_CHUNK):
            if context is not None:
                context.check()
            dst.write(chunk)
    if target.is_file():
        shutil.copystat(source, target)


def _needs(params: Params) -> tuple[str, ...]:
    """Every operation acts on a path; copy and move also need a destination."""
    return ("path", "targetPath") if params.operation in ("copy", "move") else ("path",)


SPEC: Final = NodeSpec(
    needs=_needs,
    needs_decided_by=("operation",),
    type="file-system",
    module="atomiton.nodes.file_system",
    params=Params,
    inputs=(
        Port(
            "content",
            "any",
            description="Value to write or append (overrides the content parameter).",
        ),
        Port(
            "path", "path", description="File or folder to act on (overrides the path parameter)."
        ),
        Port(
            "targetPath", "path", description="Destination of copy and move (overrides targetPath)."
        ),
    ),
    outputs=(
        Port(
            "result", "any", description="Content read, path written, listing, or existence flag."
        ),
        Port("path", "path", description="The path acted on (the target for copy and move)."),
        Port("size", "integer", description="Bytes in the resulting file; entry count for list."),
    ),
    description="Read, write, list, copy, move and delete files and folders; writes are atomic.",
    execution="thread",
    weight=200,
    needs_context=True,
)
