"""The shared backends (LMDB, SQLite, Redis) driven from several processes at once.

Gunicorn's workers use them so. Children are forked, like gunicorn's workers, and open the store
from its URL.
"""

from __future__ import annotations

import logging
import os
import time
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

import pytest

from tests.services.store.children import CONTEXT, in_processes, incr_many
from wxserver.services.store import LmdbStore, LockTimeout, Store, open_store
from wxserver.services.store.sqlite import SqliteStore


def _add_keys(url: str, me: int, keys: int) -> list[str]:
    store = open_store(url)
    return [f"k{n}" for n in range(keys) if store.add(f"k{n}", str(me).encode(), ttl=60)]


def _critical_section(url: str, rounds: int, workdir: Path, locked: bool) -> int:
    """Read-sleep-write a counter file; count the times someone else was inside too."""
    store = open_store(url)
    marker, counter, overlaps = workdir / "inside", workdir / "counter", 0
    for _ in range(rounds):
        guard: AbstractContextManager[None] = (
            store.lock("section", timeout=10, wait=10) if locked else nullcontext()
        )
        with guard:
            try:
                os.close(os.open(marker, os.O_CREAT | os.O_EXCL))
            except FileExistsError:
                overlaps += 1
            value = int(counter.read_text())
            time.sleep(0.002)
            staged = workdir / f"counter.{os.getpid()}"
            staged.write_text(str(value + 1))
            staged.replace(counter)  # atomic, so a reader never sees a half-written file
            marker.unlink(missing_ok=True)
    return overlaps


def _hold_lock_forever(url: str, acquired: Any) -> None:
    store = open_store(url)
    before = time.time()  # the lease cannot end earlier than this plus its timeout
    with store.lock("doomed", timeout=1.2, wait=1):
        acquired.put(before)
        time.sleep(60)


# --- the shared backends, across processes ------------------------------------------------------


def test_store_add_has_exactly_one_winner_per_key_across_processes(shared_url: str) -> None:
    won = in_processes(_add_keys, *[(shared_url, me, 200) for me in range(4)])
    assert sorted(key for keys in won for key in keys) == sorted(f"k{n}" for n in range(200))
    store = open_store(shared_url)
    for me, keys in enumerate(won):
        assert all(store.get(key) == str(me).encode() for key in keys)


def test_store_incr_is_atomic_across_processes(shared_url: str) -> None:
    counts = in_processes(incr_many, *[(shared_url, 250)] * 4)
    assert sorted(n for values in counts for n in values) == list(range(1, 1001))
    assert open_store(shared_url).get("hits") == b"1000"


def test_store_lock_excludes_other_processes(shared_url: str, tmp_path: Path) -> None:
    (tmp_path / "counter").write_text("0")
    overlaps = in_processes(_critical_section, *[(shared_url, 25, tmp_path, True)] * 4)
    assert sum(overlaps) == 0
    assert (tmp_path / "counter").read_text() == "100"


def test_store_overlap_detector_catches_an_unlocked_section(tmp_path: Path) -> None:
    # The section above without the lock: shows that test would see an overlap if one happened.
    (tmp_path / "counter").write_text("0")
    overlaps = in_processes(_critical_section, *[("memory://", 25, tmp_path, False)] * 4)
    assert sum(overlaps) > 0
    assert int((tmp_path / "counter").read_text()) < 100


def test_store_lock_of_a_killed_holder_frees_after_timeout(shared: Store, shared_url: str) -> None:
    acquired = CONTEXT.Queue()
    holder = CONTEXT.Process(target=_hold_lock_forever, args=(shared_url, acquired))
    holder.start()
    before = acquired.get(timeout=10)
    holder.kill()  # SIGKILL: no finally, no release
    holder.join(5)
    with pytest.raises(LockTimeout), shared.lock("doomed", timeout=5, wait=0.05):
        pass
    with shared.lock("doomed", timeout=5, wait=3):
        assert time.time() >= before + 1.2 - 0.01  # freed by the lease's end, not by the kill


def test_store_lock_release_spares_the_next_holder(
    shared: Store, caplog: pytest.LogCaptureFixture
) -> None:
    first = shared.lock("lease", timeout=0.2, wait=0)
    first.__enter__()
    time.sleep(0.3)  # the first holder overruns its lease
    second = shared.lock("lease", timeout=10, wait=0)
    second.__enter__()
    with caplog.at_level(logging.WARNING, "wxserver.store"):
        first.__exit__(None, None, None)
    assert "held longer than its timeout" in caplog.text
    with pytest.raises(LockTimeout), shared.lock("lease", timeout=10, wait=0):
        pass  # the late release did not free the second holder's lock
    second.__exit__(None, None, None)


def test_store_lock_overrun_is_logged_even_when_nobody_took_over(
    shared: Store, caplog: pytest.LogCaptureFixture
) -> None:
    with (
        caplog.at_level(logging.WARNING, "wxserver.store"),
        shared.lock("slow", timeout=0.1, wait=0),
    ):
        time.sleep(0.15)
    assert "'slow' was held longer than its timeout" in caplog.text


def test_store_lock_timeout_must_be_positive(shared: Store) -> None:
    with pytest.raises(ValueError, match="positive"), shared.lock("x", timeout=0, wait=0):
        pass


# --- a forked child and the parent's handle ----------------------------------------------------
def _handle(store: SqliteStore | LmdbStore) -> object:
    """What a file store opens once per process: a SQLite connection, an LMDB environment."""
    return store._connection() if isinstance(store, SqliteStore) else store._environment()


def _use_inherited(store: SqliteStore | LmdbStore, inherited: object) -> tuple[bool, int]:
    counts = [store.incr("forked", ttl=60) for _ in range(50)]
    return _handle(store) is inherited, counts[-1]


@pytest.mark.parametrize("backend", ["sqlite", "lmdb"])
def test_store_child_of_a_fork_opens_its_own_handle(tmp_path: Path, backend: str) -> None:
    store = SqliteStore(tmp_path / "s.db") if backend == "sqlite" else LmdbStore(tmp_path / "s")
    store.incr("forked", ttl=60)  # this process's handle now exists, then we fork
    inherited = _handle(store)
    results = in_processes(_use_inherited, (store, inherited), (store, inherited))
    assert [reused for reused, _ in results] == [False, False]
    assert store.incr("forked", ttl=60) == 102  # the parent's handle still works
