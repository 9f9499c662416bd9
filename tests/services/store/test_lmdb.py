"""LmdbStore's own behaviour: sweeping, a file that stops growing, broken files, a full map."""

from __future__ import annotations

import faulthandler
import logging
import os
from pathlib import Path

import pytest

from tests.services.store.children import in_processes
from wxserver.services.store import LmdbStore, Store, open_store
from wxserver.services.store import lmdb as lmdb_store


def _entries(store: LmdbStore) -> int:
    return int(store._environment().stat()["entries"])


def test_lmdb_sweeps_expired_entries_as_it_writes(tmp_path: Path) -> None:
    now = [1000.0]
    store = LmdbStore(tmp_path / "store.lmdb", clock=lambda: now[0])
    for n in range(2000):
        store.set(f"old{n:04}", b"v", ttl=1)
    now[0] += 2
    assert store.get("old0000") is None  # expired entries are never read, swept or not
    # Each sweep looks at SWEEP_KEYS keys, so these writes pass over every key at least once.
    sweeps = 1
    while sweeps * lmdb_store.SWEEP_KEYS < 2000 + sweeps * lmdb_store.SWEEP_EVERY:
        sweeps += 1
    writes = sweeps * lmdb_store.SWEEP_EVERY
    for n in range(writes):
        store.add(f"new{n:04}", b"v", ttl=60)
    assert _entries(store) == writes


def test_lmdb_file_stops_growing_once_entries_expire(tmp_path: Path) -> None:
    # 100 messages a second, each kept 10 s: about 1,000 live at any time, for 600 s.
    now = [1000.0]
    store = LmdbStore(tmp_path / "store.lmdb", clock=lambda: now[0])
    used_pages = []
    for n in range(60_000):
        store.set(f"wx5s:default:user{n}:claim", b"x" * 400, ttl=10)
        if n % 100 == 0:
            now[0] += 1
        if n % 10_000 == 9_999:
            used_pages.append(store._environment().info()["last_pgno"])
            assert _entries(store) <= 2 * 1_000 + lmdb_store.SWEEP_EVERY
    # Pages of deleted entries are reused: the file used after 10 s of traffic is all it needs.
    assert max(used_pages) == used_pages[0]


def _write_entries(url: str, count: int) -> int:
    store = open_store(url)
    for n in range(count):
        store.set(f"k{n:05}", b"v" * 50, ttl=600)
    return count


def _broken_store(tmp_path: Path, damage: str) -> Path:
    """An LMDB store written by another process, which exits, then damaged as a power cut might."""
    path = tmp_path / "store.lmdb"
    assert in_processes(_write_entries, (f"lmdb:///{path}", 3000)) == [3000]
    with (path / "data.mdb").open("r+b") as file:
        if damage == "meta pages":
            file.write(b"\xff" * 8192)
        elif damage == "a tree page":
            file.seek(3 * 4096)
            file.write(b"\x00" * 4096)
    return path


def _assert_set_aside(store: LmdbStore, tmp_path: Path, log: str) -> None:
    assert store.get("k00001") is None
    store.set("k00001", b"new", ttl=60)
    assert store.get("k00001") == b"new"
    (aside,) = tmp_path.glob("store.lmdb.broken-*")
    assert (aside / "data.mdb").is_file()
    assert f"it is moved to {aside} and a new one is started" in log


@pytest.mark.parametrize("damage", ["meta pages", "a tree page"])
def test_lmdb_broken_file_is_set_aside_for_a_new_one(
    tmp_path: Path, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    path = _broken_store(tmp_path, damage)
    with caplog.at_level(logging.ERROR, logger="wxserver.store"):
        store = LmdbStore(path)
    _assert_set_aside(store, tmp_path, caplog.text)
    assert "Error" in caplog.text  # LMDB's own finding is named


def _abort_walk(path: Path) -> str | None:
    faulthandler.disable()  # the abort is the point, not a crash to report
    os.abort()  # as LMDB does on some broken pages, with a failed assertion


def test_lmdb_file_whose_check_kills_the_checker_is_set_aside(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _broken_store(tmp_path, "nothing")
    monkeypatch.setattr(lmdb_store, "_walk", _abort_walk)  # the forked checker inherits it
    with caplog.at_level(logging.ERROR, logger="wxserver.store"):
        store = LmdbStore(path)
    _assert_set_aside(store, tmp_path, caplog.text)
    assert "killed the reader with signal 6" in caplog.text


def test_lmdb_sound_file_keeps_its_entries(tmp_path: Path) -> None:
    path = tmp_path / "store.lmdb"
    assert in_processes(_write_entries, (f"lmdb:///{path}", 3000)) == [3000]
    store = LmdbStore(path)
    assert store.get("k02999") == b"v" * 50
    assert not list(tmp_path.glob("*.broken-*"))


def test_lmdb_one_environment_per_file_in_a_process(tmp_path: Path) -> None:
    first, second = LmdbStore(tmp_path / "s.lmdb"), open_store(f"lmdb:///{tmp_path / 's.lmdb'}")
    assert isinstance(second, LmdbStore)
    assert first._environment() is second._environment()
    first.set("k", b"v", ttl=60)
    assert second.get("k") == b"v"


def _fill(store: Store) -> None:
    for n in range(10_000):
        store.set(f"more{n}", b"v" * 100, ttl=60)


def test_lmdb_full_map_drops_expired_entries_then_says_what_to_do(tmp_path: Path) -> None:
    now = [1000.0]
    store = LmdbStore(tmp_path / "small.lmdb", map_size=1 << 20, clock=lambda: now[0])
    for n in range(3000):
        store.set(f"old{n}", b"v" * 100, ttl=1)
    now[0] += 2
    for n in range(3000):  # room only because the expired entries make way
        store.set(f"new{n}", b"v" * 100, ttl=60)
    with pytest.raises(lmdb_store.StoreFull, match=r"is full: \d+ live entries fill its 1 MiB"):
        _fill(store)
    assert store.get("new2999") == b"v" * 100
