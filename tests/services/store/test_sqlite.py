"""SqliteStore's own behaviour: WAL, no in-memory database, purging, a fresh file opened at once."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.services.store.children import in_processes, incr_many
from wxserver.services.store.sqlite import PURGE_EVERY, SqliteStore


def test_sqlite_uses_wal_and_creates_the_directory(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "a" / "b" / "store.db")
    store.set("k", b"v", ttl=60)
    with sqlite3.connect(store.path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_sqlite_refuses_an_in_memory_database() -> None:
    with pytest.raises(ValueError, match="share"):
        SqliteStore(":memory:")


def test_sqlite_purges_expired_rows_as_it_writes(tmp_path: Path) -> None:
    now = [1000.0]
    store = SqliteStore(tmp_path / "store.db", clock=lambda: now[0])
    for n in range(100):
        store.set(f"old{n}", b"v", ttl=1)
    now[0] += 2
    assert store.get("old0") is None  # expired rows are never read, purged or not
    for n in range(PURGE_EVERY):
        store.set(f"new{n}", b"v", ttl=60)
    with sqlite3.connect(store.path) as conn:
        assert conn.execute("SELECT count(*) FROM wx_store").fetchone() == (PURGE_EVERY,)


def test_sqlite_fresh_file_opened_by_processes_at_once(tmp_path: Path) -> None:
    for attempt in range(3):  # the race on a new file is in the first moments: try a few
        url = f"sqlite:///{tmp_path / f'fresh{attempt}.db'}"
        counts = in_processes(incr_many, *[(url, 20)] * 4)
        assert sorted(n for values in counts for n in values) == list(range(1, 81))
