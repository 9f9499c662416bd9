"""The Store contract, one suite over every backend: memory, LMDB, SQLite and a real Redis."""

from __future__ import annotations

import threading
import time

import pytest

from wxserver.services.store import LockTimeout, MemoryStore, Store
from wxserver.services.store.memory import SWEEP_EVERY

# --- every backend ------------------------------------------------------------------------------


def test_store_get_set_delete(store: Store) -> None:
    value = b"\x00\xff" + "中文".encode()
    assert store.get("a:b") is None
    store.set("a:b", value, ttl=60)
    assert store.get("a:b") == value
    store.set("a:b", b"second", ttl=60)
    assert store.get("a:b") == b"second"
    store.delete("a:b")
    assert store.get("a:b") is None
    store.delete("never-there")  # no error


def test_store_add_stores_only_when_absent(store: Store) -> None:
    assert store.add("claim", b"first", ttl=60) is True
    assert store.add("claim", b"second", ttl=60) is False
    assert store.get("claim") == b"first"
    store.delete("claim")
    assert store.add("claim", b"third", ttl=60) is True


def test_store_incr_counts_from_one_and_reads_as_digits(store: Store) -> None:
    assert [store.incr("n", ttl=60) for _ in range(3)] == [1, 2, 3]
    assert store.get("n") == b"3"
    store.set("m", b"41", ttl=60)
    assert store.incr("m", ttl=60) == 42


def test_store_set_and_add_expire_after_ttl(store: Store) -> None:
    # TTLs are short, with margins that a busy machine's scheduling delays cannot eat.
    store.set("short", b"v", ttl=0.4)
    assert store.get("short") == b"v"
    store.set("renewed", b"v", ttl=0.4)
    store.set("renewed", b"v", ttl=30)  # a later set replaces the TTL
    assert store.add("claim", b"v", ttl=0.4) is True
    time.sleep(0.45)
    assert store.get("short") is None
    assert store.get("renewed") == b"v"
    assert store.add("claim", b"again", ttl=60) is True


def test_store_incr_ttl_counts_from_creation(store: Store) -> None:
    assert store.incr("n", ttl=0.8) == 1
    time.sleep(0.4)
    assert store.incr("n", ttl=0.8) == 2  # does not extend the life of the counter
    time.sleep(0.45)
    assert store.get("n") is None
    assert store.incr("n", ttl=0.8) == 1


def test_store_incr_is_atomic_across_threads(store: Store) -> None:
    seen: list[int] = []

    def work() -> None:
        seen.extend(store.incr("t", ttl=60) for _ in range(100))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(seen) == list(range(1, 801))


def test_store_lock_times_out_after_wait(store: Store) -> None:
    with store.lock("busy", timeout=10, wait=0):
        started = time.monotonic()
        with pytest.raises(LockTimeout, match="busy"), store.lock("busy", timeout=10, wait=0.2):
            pass
        assert 0.15 <= time.monotonic() - started < 2.0  # generous: CI machines are busy
        with store.lock("other", timeout=10, wait=0):  # names are independent
            pass


def test_store_lock_is_released_on_error(store: Store) -> None:
    with pytest.raises(RuntimeError), store.lock("l", timeout=10, wait=0):
        raise RuntimeError("inside")
    with store.lock("l", timeout=10, wait=0):
        pass


def test_store_keys_longer_than_any_backend_limit(store: Store) -> None:
    long_a, long_b = "k" * 600 + "a", "k" * 600 + "b"  # LMDB's limit is 511 bytes
    store.set(long_a, b"A", ttl=60)
    assert store.add(long_b, b"B", ttl=60)
    assert (store.get(long_a), store.get(long_b)) == (b"A", b"B")
    assert store.incr("n" * 600, ttl=60) == 1


def test_store_lock_names_and_keys_do_not_collide(store: Store) -> None:
    store.set("k", b"value", ttl=60)
    with store.lock("k", timeout=10, wait=0):
        assert store.get("k") == b"value"
        store.delete("k")
        with pytest.raises(LockTimeout), store.lock("k", timeout=10, wait=0):
            pass
    assert store.get("k") is None


# --- MemoryStore specifics ----------------------------------------------------------------------
def test_store_memory_sweeps_keys_never_read_again() -> None:
    now = [1000.0]
    store = MemoryStore(clock=lambda: now[0])
    for number in range(SWEEP_EVERY):
        store.set(f"message:{number}", b"x", ttl=10)
    now[0] += 11  # all of them expired, none read again
    for number in range(SWEEP_EVERY):
        store.add(f"fresh:{number}", b"y", ttl=10)
    assert len(store._values) == SWEEP_EVERY  # only the fresh ones are left
