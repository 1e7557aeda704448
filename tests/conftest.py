"""Shared pytest options: ``--update-goldens`` rewrites expected generated modules."""

from __future__ import annotations

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
