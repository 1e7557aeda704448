"""The recorder writes the values most nodes produce (numbers, flags, short texts) itself; the
text must be exactly what ``values.encode`` gives, whatever the recorder's limits."""

from __future__ import annotations

from pathlib import Path

import pytest

from atomiton.store import RunRecorder
from atomiton.store.values import encode

VALUES = [
    None,
    True,
    False,
    0,
    -5,
    10**30,
    1.5,
    -0.0,
    1e300,
    float("inf"),
    float("-inf"),
    float("nan"),
    "",
    'quote " and \\ backslash',
    "ünïcode ✓ and a\nnewline\u2028",
    "x" * 100,
    [1, "a"],
    {"a": 1},
    b"bytes",
]


@pytest.mark.parametrize("cap", [1, 3, 7, 8, 50, 10**6])
@pytest.mark.parametrize("inline_limit", [0, 3, 10, 10**5])
def test_the_recorders_text_for_a_value_is_encodes(
    tmp_path: Path, cap: int, inline_limit: int
) -> None:
    recorder = RunRecorder(tmp_path / "runs.db", inline_limit=inline_limit, value_cap=cap)
    for value in VALUES:
        assert recorder._encode(value) == encode(value, inline_limit=inline_limit, cap=cap)


def test_a_subclass_of_a_scalar_takes_the_long_way(tmp_path: Path) -> None:
    class Count(int):
        def __repr__(self) -> str:
            return "Count(3)"

    recorder = RunRecorder(tmp_path / "runs.db")
    assert recorder._encode(Count(3)) == encode(Count(3))
    assert recorder._encode(Count(3)).text == "3"


def test_numbers_flags_and_short_texts_skip_the_walk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def walk(value: object, **limits: object) -> None:
        raise AssertionError(f"{value!r} took the long way")

    recorder = RunRecorder(tmp_path / "runs.db")
    monkeypatch.setattr("atomiton.store.recorder.encode", walk)
    for value in (None, True, 7, 2.5, "short text"):
        assert recorder._encode(value).blobs == ()
    with pytest.raises(AssertionError, match="long way"):
        recorder._encode([1, 2])
