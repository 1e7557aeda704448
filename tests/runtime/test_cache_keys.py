"""Stable hashes of node call values (``runtime/cache_keys.py``): equal values give equal
hashes in any process, different values different ones, and nothing unstable is hashed."""

from __future__ import annotations

import dataclasses
import datetime
import enum
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from pydantic import BaseModel, SecretStr

from atomiton.runtime.cache_keys import SecretValue, Unhashable, contains_secret, digest


class Colour(enum.Enum):
    RED = "red"


@dataclasses.dataclass
class Point:
    x: int
    y: int


class Person(BaseModel):
    name: str
    tags: list[str] = []


class Login(BaseModel):
    user: str
    password: SecretStr


VALUES: list[object] = [
    None,
    True,
    False,
    0,
    1,
    -1,
    1.0,
    0.0,
    -0.0,
    float("nan"),
    "",
    "1",
    "a",
    b"a",
    [1],
    (1,),
    [[1]],
    {"a": 1},
    {"a": "1"},
    {1: "a"},
    {"1": "a"},
    {1, 2},
    Colour.RED,
    Point(1, 2),
    Point(2, 1),
    Person(name="a"),
    datetime.date(2024, 1, 2),
    ["a", "b"],
    ["ab"],
    ["a", "b", ""],
]


def test_different_values_hash_differently() -> None:
    hashes = [digest((value,)) for value in VALUES]
    assert len(set(hashes)) == len(VALUES)


def test_equal_values_hash_equally_whatever_the_order_of_a_mapping_or_set() -> None:
    assert digest(({"a": 1, "b": [1, 2]},)) == digest(({"b": [1, 2], "a": 1},))
    assert digest(({3, 1, 2},)) == digest(({2, 3, 1},))
    assert digest((Person(name="x", tags=["t"]),)) == digest((Person(name="x", tags=["t"]),))


def test_the_hash_is_the_same_in_another_process_with_another_hash_seed() -> None:
    code = (
        "from atomiton.runtime.cache_keys import digest;"
        "print(digest(({'b': 1, 'a': [1.5, 'x', b'y']}, {'p', 'q', 'r'}, (None, True))))"
    )
    seen = set()
    for seed in ("1", "2", "3"):
        out = subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        )
        seen.add(out.stdout.strip())
    assert seen == {digest(({"b": 1, "a": [1.5, "x", b"y"]}, {"p", "q", "r"}, (None, True)))}


def test_objects_without_a_stable_form_are_refused_not_pickled() -> None:
    with pytest.raises(Unhashable):
        digest((threading.Lock(),))
    with pytest.raises(Unhashable):
        digest((object(),))
    deep: list[object] = []
    current = deep
    for _ in range(500):
        inner: list[object] = []
        current.append(inner)
        current = inner
    with pytest.raises(Unhashable):
        digest((deep,))


def test_secrets_never_enter_a_key() -> None:
    with pytest.raises(SecretValue):
        digest((SecretStr("hunter2"),))
    with pytest.raises(SecretValue):
        digest(({"login": Login(user="u", password=SecretStr("hunter2"))},))
    assert contains_secret([Login(user="u", password=SecretStr("x"))])
    assert not contains_secret([Person(name="x")])


def test_a_path_is_hashed_with_its_file_stat_and_in_content_mode_its_bytes(tmp_path: Path) -> None:
    file = tmp_path / "data.txt"
    file.write_text("one")
    first = digest((file,))
    stat_only = digest((file,), files="stat")
    content = digest((file,), files="content")
    os.utime(file, ns=(1_000_000_000, 1_000_000_000))
    assert digest((file,)) != first  # mtime changed
    file.write_text("two")
    os.utime(file, ns=(1_000_000_000, 1_000_000_000))
    same_stat = digest((file,), files="stat")
    file.write_text("owt")  # same size, same mtime, other bytes
    os.utime(file, ns=(1_000_000_000, 1_000_000_000))
    assert digest((file,), files="stat") == same_stat
    assert digest((file,), files="content") != content
    assert stat_only == first


def test_strings_name_files_only_for_nodes_that_read_them(tmp_path: Path) -> None:
    file = tmp_path / "in.csv"
    file.write_text("a\n")
    plain = digest((str(file),))
    reads = digest((str(file),), reads_files=True)
    file.write_text("a,b\n")
    assert digest((str(file),)) == plain
    assert digest((str(file),), reads_files=True) != reads
