"""Atomic file writes: the one way atomiton replaces a file.

A temporary file in the target's folder, fsync, then a rename, so a failure or a cancellation
never leaves a half-written file, and a process killed mid-write leaves at most a temporary file
that the next write to the same target removes. The file-system, spreadsheet and image nodes
write through it, and so do ``atomiton compile`` and the command line's caches. Which folders a
run may touch is ``confine``'s business, not this module's.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import stat
import tempfile
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Final

if TYPE_CHECKING:
    from .context import NodeContext

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: stale temporary files are left alone
    fcntl = None  # type: ignore[assignment]

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
CHUNK_BYTES: Final = 1024 * 1024
# Temporary files being written by this process, for the SIGTERM cleanup of worker processes.
_LIVE: Final[set[str]] = set()
_LIVE_LOCK: Final = threading.Lock()
_SIGTERM_CLEANUP: list[bool] = [False]


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
            for start in range(0, len(view), CHUNK_BYTES):
                if context is not None:
                    context.check()
                written += handle.write(view[start : start + CHUNK_BYTES])
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
    ensure_folder(target.parent, create=create_directories)


def ensure_folder(folder: Path, *, create: bool) -> None:
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
