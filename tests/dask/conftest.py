"""Clusters and compiled flows for the Dask executor tests (skipped without ``distributed``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

pytest.importorskip("distributed")

from distributed import Client, LocalCluster  # noqa: E402


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    """A cluster of 2 workers x 2 threads inside this process (starts in a few tens of ms)."""
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=2, processes=False, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as connected,
    ):
        yield connected


@pytest.fixture(scope="module")
def process_client() -> Iterator[Client]:
    """A cluster of 2 worker processes, 1 thread each: everything crosses by pickle."""
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as connected,
    ):
        yield connected
