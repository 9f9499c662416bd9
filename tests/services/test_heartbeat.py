"""The job worker's heartbeat: a missing, stale or mismatched worker is named with its fix."""

from __future__ import annotations

import pytest

from wxserver.services import heartbeat
from wxserver.services.store import MemoryStore

SETS = {"default": ["echo"]}


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


def test_heartbeat_round_trips(store: MemoryStore) -> None:
    heartbeat.write(store, SETS, 1000.0)
    found = heartbeat.read(store)
    assert found is not None
    assert (found.at, found.handler_sets) == (1000.0, {"default": ["echo"]})


def test_heartbeat_missing_worker_matters_only_when_work_needs_one(store: MemoryStore) -> None:
    assert heartbeat.problems(store, SETS, needed=False, now=1000.0) == []
    (problem,) = heartbeat.problems(store, SETS, needed=True, now=1000.0)
    assert problem.startswith("no job worker is running (none has reported)")
    assert "start `wxserver worker`" in problem


def test_heartbeat_stale_worker_is_a_missing_one(store: MemoryStore) -> None:
    heartbeat.write(store, SETS, 1000.0)
    assert heartbeat.problems(store, SETS, needed=True, now=1000.0 + heartbeat.STALE_AFTER) == []
    (problem,) = heartbeat.problems(store, SETS, needed=True, now=1031.0 + heartbeat.STALE_AFTER)
    assert "the last heartbeat is 61 s old" in problem


def test_heartbeat_worker_with_other_handler_sets_is_named(store: MemoryStore) -> None:
    heartbeat.write(store, {"default": ["echo"]}, 1000.0)
    (problem,) = heartbeat.problems(
        store, {"default": ["echo", "shop"], "corp": ["hr"]}, needed=False, now=1001.0
    )
    assert "account corp: worker (none), this server hr" in problem
    assert "account default: worker echo, this server echo, shop" in problem
    assert problem.endswith("start it with the same WX_PLUGINS as this server")


def test_heartbeat_unreadable_is_none(store: MemoryStore) -> None:
    store.set(heartbeat.KEY, b"{not json", ttl=60)
    assert heartbeat.read(store) is None
