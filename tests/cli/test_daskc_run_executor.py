"""``atomiton run --executor``: checked before anything runs, passed to the module's ``run``."""

from __future__ import annotations

import json
import sys

import pytest
from conftest import HELLO, Invoke, WriteBlueprint

from atomiton.cli import cache, run_cache


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("ray", "expected 'threads', 'dask', 'dask-threads'"),
        ("tcp://host", "found 'tcp://host'"),
        ("tcp://host:0", "port 0"),
    ],
)
def test_an_unknown_executor_is_a_usage_error(
    cli: Invoke, write: WriteBlueprint, value: str, says: str
) -> None:
    write("hello.yaml", HELLO)
    result = cli("run", "hello.yaml", "--executor", value)
    assert result.exit_code == 2
    assert "'--executor'" in result.stderr and says in result.stderr


def test_dask_without_its_library_says_which_extra(
    cli: Invoke, write: WriteBlueprint, monkeypatch: pytest.MonkeyPatch
) -> None:
    write("hello.yaml", HELLO)
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if not installed
    result = cli("run", "hello.yaml", "--executor", "dask")
    assert result.exit_code == 2
    assert "pip install 'atomiton[dask]'" in result.stderr


def test_threads_runs_the_flow_here(cli: Invoke, write: WriteBlueprint) -> None:
    write("hello.yaml", HELLO)
    result = cli("run", "hello.yaml", "--json", "--no-record", "--executor", "threads")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"message": "HI WORLD"}


def test_help_documents_the_option(cli: Invoke) -> None:
    result = cli("run", "--help")
    assert "--executor" in result.stdout
    assert "tcp://HOST:PORT" in result.stdout


def test_dask_runs_the_flow_compiled_and_from_the_run_cache(
    cli: Invoke, write: WriteBlueprint
) -> None:
    """The module ``atomiton run`` loads (compiled now, or bytecode from its compile cache)
    still has its text to send to the workers: through its loader, read only then."""
    pytest.importorskip("distributed")
    write("hello.yaml", HELLO)
    for _ in range(2):  # the first run compiles and fills the cache, the second reads it
        result = cli("run", "hello.yaml", "--json", "--no-record", "--executor", "dask-threads")
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout) == {"message": "HI WORLD"}
    (entry,) = cache.cache_dir(run_cache.KIND).glob("*.entry")
    assert "HELLO" in entry.with_suffix(".py").read_text().upper()
