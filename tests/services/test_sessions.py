"""Per-user sessions: loaded for (account, OpenID), saved only when changed, with a lifetime."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from wxserver.services.sessions import SESSION_TTL, SessionStore
from wxserver.services.store import MemoryStore, SqliteStore, Store


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


class CountingStore(MemoryStore):
    """A MemoryStore that counts writes, to tell a save from a skipped one."""

    def __init__(self, clock: Clock) -> None:
        super().__init__(clock)
        self.writes = 0

    def set(self, key: str, value: bytes, *, ttl: float) -> None:
        self.writes += 1
        super().set(key, value, ttl=ttl)

    def delete(self, key: str) -> None:
        self.writes += 1
        super().delete(key)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(clock: Clock) -> CountingStore:
    return CountingStore(clock)


@pytest.fixture
def sessions(store: CountingStore, clock: Clock) -> SessionStore:
    return SessionStore(store, clock=clock)


def test_sessions_new_user_gets_an_empty_session(sessions: SessionStore) -> None:
    session = sessions.load("shop", "oUser1")
    assert (session.account, session.openid, dict(session)) == ("shop", "oUser1", {})
    assert session.changed is False
    assert session.saved_at is None


def test_sessions_round_trip(sessions: SessionStore) -> None:
    session = sessions.load("shop", "oUser1")
    session["step"] = 2
    session["cart"] = [{"sku": "A1", "qty": 1}]
    session["name"] = "小明"
    assert session.changed is True
    assert sessions.save(session) is True
    assert session.changed is False
    again = sessions.load("shop", "oUser1")
    assert dict(again) == {"step": 2, "cart": [{"sku": "A1", "qty": 1}], "name": "小明"}


def test_sessions_unchanged_session_is_not_written(
    sessions: SessionStore, store: CountingStore
) -> None:
    session = sessions.load("shop", "oUser1")
    assert sessions.save(session) is False
    session["step"] = 1
    sessions.save(session)
    loaded = sessions.load("shop", "oUser1")
    loaded["step"] = 1  # the same value again is no change
    assert sessions.save(loaded) is False
    assert store.writes == 1


def test_sessions_nested_change_is_detected(sessions: SessionStore) -> None:
    session = sessions.load("shop", "oUser1")
    session["cart"] = []
    sessions.save(session)
    loaded = sessions.load("shop", "oUser1")
    loaded["cart"].append("A1")
    assert loaded.changed is True
    assert sessions.save(loaded) is True
    assert sessions.load("shop", "oUser1")["cart"] == ["A1"]


def test_sessions_values_must_be_json(sessions: SessionStore) -> None:
    session = sessions.load("shop", "oUser1")
    with pytest.raises(TypeError, match="JSON-serialisable"):
        session["when"] = object()
    with pytest.raises(TypeError, match="keys are str"):
        session[1] = "x"  # type: ignore[index]
    session["list"] = []
    session["list"].append({1, 2})  # slipped in through a nested value: caught at save
    with pytest.raises(TypeError):
        sessions.save(session)


def test_sessions_are_per_account_and_per_user(sessions: SessionStore) -> None:
    for account, openid in [("shop", "oA"), ("shop", "oB"), ("news", "oA")]:
        session = sessions.load(account, openid)
        session["who"] = f"{account}/{openid}"
        sessions.save(session)
    assert sessions.load("shop", "oA")["who"] == "shop/oA"
    assert sessions.load("shop", "oB")["who"] == "shop/oB"
    assert sessions.load("news", "oA")["who"] == "news/oA"


def test_sessions_expire_ttl_after_the_last_save(sessions: SessionStore, clock: Clock) -> None:
    session = sessions.load("shop", "oUser1")
    session["step"] = 1
    sessions.save(session)
    clock.now += SESSION_TTL / 4
    session["step"] = 2
    sessions.save(session)  # a change restarts the lifetime
    clock.now += SESSION_TTL - 1
    assert sessions.load("shop", "oUser1")["step"] == 2
    clock.now += 2
    assert dict(sessions.load("shop", "oUser1")) == {}


def test_sessions_read_only_use_refreshes_after_half_the_ttl(
    sessions: SessionStore, clock: Clock, store: CountingStore
) -> None:
    session = sessions.load("shop", "oUser1")
    session["step"] = 1
    sessions.save(session)
    clock.now += SESSION_TTL / 2 - 10
    assert sessions.save(sessions.load("shop", "oUser1")) is False
    clock.now += 20
    assert sessions.save(sessions.load("shop", "oUser1")) is True  # rewritten unchanged
    clock.now += SESSION_TTL - 30
    assert sessions.load("shop", "oUser1")["step"] == 1  # alive past the first save's TTL
    assert store.writes == 2


def test_sessions_emptied_session_is_deleted(sessions: SessionStore, store: CountingStore) -> None:
    session = sessions.load("shop", "oUser1")
    session["step"] = 1
    sessions.save(session)
    loaded = sessions.load("shop", "oUser1")
    loaded.clear()
    assert sessions.save(loaded) is True
    assert store.get(SessionStore.key("shop", "oUser1")) is None


def test_sessions_delete_forgets_the_user(sessions: SessionStore) -> None:
    session = sessions.load("shop", "oUser1")
    session["step"] = 1
    sessions.save(session)
    sessions.delete("shop", "oUser1")
    assert dict(sessions.load("shop", "oUser1")) == {}


@pytest.mark.parametrize(
    "raw",
    [b"not json", b"[]", b'{"v": 1}', b'{"v": 99, "saved_at": 1, "data": {}}', b'{"v": 1, '],
    ids=["not-json", "not-object", "missing-fields", "unknown-version", "truncated"],
)
def test_sessions_unreadable_value_starts_afresh(
    sessions: SessionStore, store: Store, raw: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    store.set(SessionStore.key("shop", "oUser1"), raw, ttl=60)
    with caplog.at_level(logging.WARNING, "wxserver.sessions"):
        session = sessions.load("shop", "oUser1")
    assert dict(session) == {}
    assert "unreadable" in caplog.text


def test_sessions_repr_shows_keys_not_values(sessions: SessionStore) -> None:
    session = sessions.load("shop", "oUser1")
    session["phone"] = "13800000000"
    assert "phone" in repr(session)
    assert "13800000000" not in repr(session)


def test_sessions_ttl_must_be_positive(store: Store) -> None:
    with pytest.raises(ValueError, match="positive"):
        SessionStore(store, ttl=0)


def test_sessions_shared_through_sqlite_between_store_objects(tmp_path: Path) -> None:
    # Two SqliteStore objects on one file stand for two gunicorn workers.
    writer = SessionStore(SqliteStore(tmp_path / "store.db"))
    reader = SessionStore(SqliteStore(tmp_path / "store.db"))
    session = writer.load("shop", "oUser1")
    session["step"] = 3
    writer.save(session)
    assert reader.load("shop", "oUser1")["step"] == 3
