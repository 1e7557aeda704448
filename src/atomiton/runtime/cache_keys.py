"""Stable hashes of a node call's values, for the cache key: the same values give the same
hash in every process, on every machine, whatever ``PYTHONHASHSEED`` says.

A value is fed into one sha256 as a tagged, length-prefixed stream (no separator can be forged
by a string that contains it): JSON-able values by their canonical form (mappings by sorted keys,
floats by ``repr``), bytes by content, pydantic models and dataclasses field by field under their
class's name, enums, dates, decimals and UUIDs by their text. Files are hashed by path, size and
mtime, and in ``content`` mode by their bytes too: a ``PurePath`` value always, and a string
value when the node is known to read the paths it is given (``reads_files``). Nothing is ever
pickled: a value of any other kind raises ``Unhashable`` and the caller leaves that call
uncached. A secret (pydantic's ``SecretStr``/``SecretBytes``) raises ``SecretValue``: a key must
not be a function of a secret (a short secret would fall to a dictionary attack on the key), and
what such a node returns may carry it, so the call is not cached at all.

What to do with a key (look up, store) is ``cache.py``'s.
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import hashlib
import math
import os
import pathlib
import stat
import uuid
from collections.abc import Mapping
from typing import Final, Literal

FileMode = Literal["stat", "content"]
FILE_MODES: Final[tuple[FileMode, ...]] = ("stat", "content")

# Deeper than this is almost surely a cycle or hostile data: uncached, never a RecursionError.
_MAX_DEPTH: Final = 200
# Reading a file for its content hash, in chunks of this many bytes.
_CHUNK: Final = 1 << 20


class Unhashable(Exception):
    """A value has no stable hash (an open handle, an object of a class of one's own, ...)."""


class SecretValue(Unhashable):
    """A value is or holds a secret, which must enter neither a key nor a stored value."""


def _secret_types() -> tuple[type, ...]:
    from pydantic import SecretBytes, SecretStr

    return (SecretStr, SecretBytes)


_SECRETS: Final = _secret_types()


def digest(
    values: tuple[object, ...], *, files: FileMode = "stat", reads_files: bool = False
) -> str:
    """The hex sha256 of ``values``.

    Args:
        values: the values a node call depends on, in the compiler's order.
        files: how a file is fingerprinted: ``stat`` (path, size, mtime) or ``content`` (also
            its bytes).
        reads_files: the node reads the files named by its string values, so each string that
            names an existing file is fingerprinted too (a path that does not exist is a string).

    Raises:
        Unhashable: a value has no stable hash.
        SecretValue: a value is or holds a secret.
    """
    feed = _Feed(hashlib.sha256(), files, reads_files)
    feed.value(values, 0)
    return feed.sha.hexdigest()


def contains_secret(value: object) -> bool:
    """Whether ``value`` is or holds a secret (a stored value must not)."""
    try:
        _Feed(hashlib.sha256(), "stat", False).value(value, 0)
    except SecretValue:
        return True
    except Unhashable:
        return False
    return False


class _Feed:
    """One hash being fed; ``value`` walks a value depth-first."""

    __slots__ = ("sha", "files", "reads_files")

    def __init__(self, sha: hashlib._Hash, files: FileMode, reads_files: bool) -> None:
        self.sha = sha
        self.files = files
        self.reads_files = reads_files

    def tag(self, tag: bytes, payload: bytes = b"") -> None:
        # Tag, length, payload: two different values can never feed the same bytes.
        self.sha.update(tag + len(payload).to_bytes(8, "big") + payload)

    def text(self, tag: bytes, text: str) -> None:
        self.tag(tag, text.encode("utf-8", "surrogatepass"))

    def value(self, value: object, depth: int) -> None:
        if depth > _MAX_DEPTH:
            raise Unhashable(f"a value nested more than {_MAX_DEPTH} deep")
        if value is None:
            self.tag(b"N")
        elif value is True or value is False:
            self.tag(b"T" if value else b"F")
        elif isinstance(value, int) and not isinstance(value, enum.Enum):
            self.text(b"i", str(int(value)))
        elif isinstance(value, float):
            # repr round-trips exactly; -0.0 and 0.0 differ, as Python's results can.
            self.text(b"f", repr(value) if math.isfinite(value) else str(value))
        elif isinstance(value, str):
            self.text(b"s", str(value))
            if self.reads_files:
                self.file_of_string(value)
        elif isinstance(value, (bytes, bytearray, memoryview)):
            self.tag(b"b", bytes(value))
        elif isinstance(value, _SECRETS):
            raise SecretValue("a secret")
        elif isinstance(value, list):
            self.sequence(b"l", value, depth)
        elif isinstance(value, tuple):
            self.sequence(b"t", value, depth)
        elif isinstance(value, Mapping):
            self.mapping(value, depth)
        elif isinstance(value, (set, frozenset)):
            self.unordered(value, depth)
        elif isinstance(value, pathlib.PurePath):
            self.path(value)
        else:
            self.other(value, depth)

    def sequence(self, tag: bytes, items: list[object] | tuple[object, ...], depth: int) -> None:
        self.text(tag, str(len(items)))
        for item in items:
            self.value(item, depth + 1)

    def mapping(self, mapping: Mapping[object, object], depth: int) -> None:
        # Keys sorted by their own hashes: canonical whatever their type or insertion order.
        entries = sorted((self.sub(key, depth), item) for key, item in mapping.items())
        self.text(b"m", str(len(entries)))
        for key_hash, item in entries:
            self.tag(b"k", key_hash)
            self.value(item, depth + 1)

    def unordered(self, items: set[object] | frozenset[object], depth: int) -> None:
        hashes = sorted(self.sub(item, depth) for item in items)
        self.text(b"u", str(len(hashes)))
        for item_hash in hashes:
            self.tag(b"e", item_hash)

    def sub(self, value: object, depth: int) -> bytes:
        feed = _Feed(hashlib.sha256(), self.files, self.reads_files)
        feed.value(value, depth + 1)
        return feed.sha.digest()

    def other(self, value: object, depth: int) -> None:
        cls = type(value)
        name = f"{cls.__module__}.{cls.__qualname__}"
        if isinstance(value, enum.Enum):
            self.text(b"E", name)
            self.value(value.value, depth + 1)
        elif isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
            self.text(b"d", f"{name}:{value.isoformat()}")
        elif isinstance(value, (decimal.Decimal, uuid.UUID)):
            self.text(b"D", f"{name}:{value}")
        elif isinstance(getattr(cls, "model_fields", None), Mapping):
            # A pydantic model field by field (its JSON dump would mask a secret as '****').
            self.text(b"M", name)
            fields: Mapping[str, object] = getattr(cls, "model_fields")
            self.mapping({field: getattr(value, field) for field in fields}, depth)
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            self.text(b"C", name)
            names = [field.name for field in dataclasses.fields(value)]
            self.mapping({field: getattr(value, field) for field in names}, depth)
        else:
            raise Unhashable(f"a value of type {name} has no stable hash")

    def path(self, path: pathlib.PurePath) -> None:
        self.text(b"p", str(path))
        self.file(os.fspath(path))

    def file_of_string(self, text: str) -> None:
        if text and len(text) < 4096 and "\0" not in text:
            self.file(text)

    def file(self, where: str) -> None:
        """Size and mtime (and in ``content`` mode the bytes) of the file at ``where``, if any."""
        try:
            info = os.stat(where)
        except (OSError, ValueError):
            self.tag(b"-")  # no such file: the path alone
            return
        if stat.S_ISDIR(info.st_mode):
            self.folder(where)
            return
        self.text(b"S", f"{info.st_size}:{info.st_mtime_ns}")
        if self.files == "content" and stat.S_ISREG(info.st_mode):
            sha = hashlib.sha256()
            try:
                with open(where, "rb") as handle:
                    while chunk := handle.read(_CHUNK):
                        sha.update(chunk)
            except OSError as exc:
                raise Unhashable(f"cannot read {where!r}: {exc.strerror}") from None
            self.tag(b"c", sha.digest())

    def folder(self, where: str) -> None:
        """A folder by its entries' names, sizes and mtimes (not recursively)."""
        try:
            entries = sorted(os.scandir(where), key=lambda entry: entry.name)
        except OSError as exc:
            raise Unhashable(f"cannot list {where!r}: {exc.strerror}") from None
        self.text(b"F", str(len(entries)))
        for entry in entries:
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue  # gone meanwhile
            self.text(b"n", f"{entry.name}:{info.st_size}:{info.st_mtime_ns}")
