"""Stores for the Store contract: every backend, or the ones shared across processes.

Redis is a real redis-server, one per test module; each test starts on an empty database.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.redis_server import MISSING, redis_server
from wxserver.services.store import Store, open_store
from wxserver.services.store.redis import RedisStore

BACKENDS = ["memory", "lmdb", "sqlite", "redis"]
SHARED = ["lmdb", "sqlite", "redis"]  # the backends shared across processes


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    """One redis-server for the module; each test starts on an empty database."""
    if shutil.which("redis-server") is None:
        pytest.fail(MISSING, pytrace=False)
    with redis_server() as server:
        yield server.url


def _url(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> str:
    if backend == "memory":
        return "memory://"
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"  # four slashes: an absolute path
    if backend == "lmdb":
        return f"lmdb:///{tmp_path / 'store.lmdb'}"
    url: str = request.getfixturevalue("redis_url")
    store = open_store(url)
    assert isinstance(store, RedisStore)
    store.client.flushdb()
    return url


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return _url(request, request.param, tmp_path)


@pytest.fixture(params=SHARED)
def shared_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return _url(request, request.param, tmp_path)


@pytest.fixture
def store(store_url: str) -> Store:
    return open_store(store_url)


@pytest.fixture
def shared(shared_url: str) -> Store:
    return open_store(shared_url)
