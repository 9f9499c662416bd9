"""The shared store with this machine's standing in: fall back on failure, come back by itself."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.redis_server import redis_server
from tests.services.store.flaky import Clock, Switchable
from wxserver.services.store import FallbackStore, LockTimeout, MemoryStore, open_shared_store
from wxserver.services.store.redis import RedisStore


@pytest.fixture
def parts() -> tuple[Switchable, MemoryStore, Clock, list[bool]]:
    return Switchable(), MemoryStore(), Clock(), []


@pytest.fixture
def store(parts: tuple[Switchable, MemoryStore, Clock, list[bool]]) -> FallbackStore:
    shared, local, clock, changes = parts
    return FallbackStore(shared, local, retry_after=1.0, on_change=changes.append, clock=clock)


def test_fallback_store_uses_the_shared_store_while_it_answers(
    store: FallbackStore, parts: tuple[Switchable, MemoryStore, Clock, list[bool]]
) -> None:
    shared, local, _, changes = parts
    assert store.add("claim", b"1", ttl=60) is True
    assert shared.get("claim") == b"1"
    assert local.get("claim") is None
    assert (store.degraded, changes) == (False, [])


def test_fallback_store_serves_the_failed_operation_and_the_next_ones_locally(
    store: FallbackStore,
    parts: tuple[Switchable, MemoryStore, Clock, list[bool]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    shared, local, _, changes = parts
    shared.down = True
    with caplog.at_level(logging.WARNING, "wxserver.store"):
        assert store.add("claim", b"1", ttl=60) is True
        assert store.add("claim", b"1", ttl=60) is False  # once per machine: the local claim holds
        assert store.incr("copies", ttl=60) == 1
        store.set("result", b"<xml/>", ttl=60)
    assert local.get("result") == b"<xml/>"
    assert shared.calls == 1  # until retry_after, the shared store is not asked again
    assert (store.degraded, changes) == (True, [True])
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1
    assert (
        "ConnectionError: Error 111 connecting to 127.0.0.1:6379. Connection refused." in lines[0]
    )


def test_fallback_store_tries_the_shared_store_again_and_comes_back(
    store: FallbackStore,
    parts: tuple[Switchable, MemoryStore, Clock, list[bool]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    shared, _, clock, changes = parts
    shared.down = True
    store.get("x")
    clock.now += 1.5
    store.get("x")  # tried again, still down: stays degraded, told once only
    assert (shared.calls, changes) == (2, [True])
    shared.down = False
    clock.now += 1.5
    with caplog.at_level(logging.WARNING, "wxserver.store"):
        store.set("k", b"v", ttl=60)
    assert shared.get("k") == b"v"
    assert (store.degraded, changes) == (False, [True, False])
    assert "back after 3.0 s" in caplog.records[-1].getMessage()


def test_fallback_store_lock_falls_back_and_lock_timeout_passes_through(
    store: FallbackStore, parts: tuple[Switchable, MemoryStore, Clock, list[bool]]
) -> None:
    shared, local, _, _ = parts
    with (
        store.lock("tokens", timeout=5, wait=0),
        pytest.raises(LockTimeout),
        store.lock("tokens", timeout=5, wait=0),
    ):
        pass  # held in the shared store: a timeout, not an outage
    assert not store.degraded
    shared.down = True
    with (
        store.lock("tokens", timeout=5, wait=0),
        pytest.raises(LockTimeout),
        local.lock("tokens", timeout=5, wait=0),
    ):
        pass  # the stand-in lock is the local store's
    assert store.degraded


def test_fallback_store_releasing_a_lock_on_a_store_that_went_away_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Vanishing(MemoryStore):
        @contextmanager
        def lock(self, name: str, *, timeout: float, wait: float) -> Iterator[None]:
            yield
            raise ConnectionError("gone")

    store = FallbackStore(Vanishing(), MemoryStore())
    with caplog.at_level(logging.WARNING, "wxserver.store"), store.lock("l", timeout=5, wait=0):
        pass
    assert "releasing lock 'l' failed: ConnectionError: gone" in caplog.text


def test_fallback_store_is_opened_only_for_a_redis_url(tmp_path: object) -> None:
    assert isinstance(open_shared_store("memory://", "memory://"), MemoryStore)
    with redis_server() as server:
        store = open_shared_store(server.url, "memory://")
        assert isinstance(store, FallbackStore)
        assert isinstance(store.shared, RedisStore)
        store.set("k", b"v", ttl=60)
        assert store.shared.get("k") == b"v"


def test_fallback_store_survives_a_real_redis_going_away() -> None:
    changes: list[bool] = []
    with redis_server() as server:
        store = open_shared_store(server.url, "memory://", on_change=changes.append)
        assert store.add("claim:1", b"1", ttl=60) is True
        server.process.terminate()
        server.process.wait(10)
        assert store.add("claim:2", b"1", ttl=60) is True  # answered locally, at once
        assert store.add("claim:2", b"1", ttl=60) is False
    assert changes == [True]
