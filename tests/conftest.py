"""Shared pytest options (``--update-goldens`` rewrites expected generated modules) and fixtures
every test folder may use."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-goldens",
        action="store_true",
        default=False,
        help="rewrite tests/golden/*/expected.py (and outputs.json) from the current compiler",
    )


@pytest.fixture(scope="session")
def update_goldens(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-goldens"))


@pytest.fixture(autouse=True)
def _own_cache_folder(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each test gets its own atomiton cache folder (never the user's, never another test's)."""
    monkeypatch.setenv("ATOMITON_CACHE_DIR", str(tmp_path_factory.mktemp("atomiton-cache")))
    # ... and its own run history: ``atomiton run`` records into $ATOMITON_HOME/history.db.
    monkeypatch.setenv("ATOMITON_HOME", str(tmp_path_factory.mktemp("atomiton-home")))


@pytest.fixture
def forget_new_modules() -> Iterator[None]:
    """Modules first imported during the test are forgotten after it: a user's module written
    into ``tmp_path`` and the flow modules bound to it (a flow module is cached by its code,
    which another test compiles again) must not outlive its folder. Libraries of the
    environment first imported here stay: a second copy of yaml breaks the first's loaders."""
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        origin = getattr(sys.modules[name], "__file__", None) or ""
        if not origin.startswith((sys.prefix, sys.base_prefix)):
            del sys.modules[name]
