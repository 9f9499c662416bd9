"""Fixtures of the token tests: the fake platform on a ManualClock, owners of its tokens, stores.

Platform time is a ``ManualClock`` shared by the fake and the owners, so a 7200-second token
expires exactly when a test moves the clock, and every margin keeps its production value.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakewechat import APP_ID, APP_SECRET, FakeWeChat, ManualClock
from tests.redis_server import redis_server
from tests.services.tokens.owners import OwnerFactory
from wxserver.services.api.client import WeChatAPI
from wxserver.services.store import MemoryStore, RedisStore, Store, open_store
from wxserver.services.tokens import TokenOwner


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def fake(clock: ManualClock) -> Iterator[FakeWeChat]:
    with FakeWeChat(clock=clock) as running:
        yield running


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    """One redis-server for the module, the store of several machines."""
    with redis_server() as server:
        yield server.url


@pytest.fixture(params=["lmdb", "sqlite", "redis"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A store shared across processes: LMDB, a SQLite file, or an emptied Redis database."""
    if request.param == "lmdb":
        return f"lmdb:///{tmp_path / 'store.lmdb'}"
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    url: str = request.getfixturevalue("redis_url")
    store = open_store(url)
    assert isinstance(store, RedisStore)
    store.client.flushdb()
    return url


@pytest.fixture
def make_owner(fake: FakeWeChat, clock: ManualClock) -> Iterator[OwnerFactory]:
    """An owner on ``store`` (a fresh MemoryStore by default) whose client talks to the fake."""
    clients: list[WeChatAPI] = []

    def factory(store: Store | None = None, **options: Any) -> TokenOwner:
        api = WeChatAPI(APP_ID, APP_SECRET, base_urls=fake.url, busy_retries=0, read_timeout=5)
        clients.append(api)
        options.setdefault("backoff", 0.05)
        owner = TokenOwner(store or MemoryStore(), api, APP_ID, clock=clock, **options)
        api.tokens = owner
        return owner

    yield factory
    for api in clients:
        api.close()
