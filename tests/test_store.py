"""The Store contract, one suite over every backend: memory, LMDB, SQLite and a real redis-server.

The shared backends (LMDB, SQLite, Redis) are also driven from several processes at once, as
gunicorn workers use them. Children are forked, like gunicorn's workers, and open the store from
its URL.
"""

from __future__ import annotations

import faulthandler
import logging
import multiprocessing
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

import pytest

from tests.redis_server import MISSING, redis_server
from wxserver.protocol.errors import ConfigError
from wxserver.services.store import LmdbStore, LockTimeout, MemoryStore, Store, open_store
from wxserver.services.store import lmdb as lmdb_store
from wxserver.services.store.memory import SWEEP_EVERY
from wxserver.services.store.redis import RedisStore
from wxserver.services.store.sqlite import PURGE_EVERY, SqliteStore

BACKENDS = ["memory", "lmdb", "sqlite", "redis"]
SHARED = ["lmdb", "sqlite", "redis"]  # the backends shared across processes
CONTEXT = multiprocessing.get_context("fork")


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


# --- children: module-level functions, each started in its own process -----------------------


def _child(target: Callable[..., Any], start: Any, results: Any, index: int, *args: Any) -> None:
    try:
        start.wait(10)  # all children begin together, so they really contend
        results.put((index, target(*args)))
    except BaseException as error:  # report to the parent rather than die silently
        results.put((index, error))


def _in_processes(target: Callable[..., Any], *per_child: tuple[Any, ...]) -> list[Any]:
    start, results = CONTEXT.Barrier(len(per_child)), CONTEXT.Queue()
    children = [
        CONTEXT.Process(target=_child, args=(target, start, results, i, *args))
        for i, args in enumerate(per_child)
    ]
    try:
        for child in children:
            child.start()
        collected = dict(results.get(timeout=30) for _ in children)
    finally:
        for child in children:
            child.join(10)
            if child.is_alive():
                child.kill()
    for value in collected.values():
        if isinstance(value, BaseException):
            raise value
    return [collected[i] for i in range(len(children))]


def _add_keys(url: str, me: int, keys: int) -> list[str]:
    store = open_store(url)
    return [f"k{n}" for n in range(keys) if store.add(f"k{n}", str(me).encode(), ttl=60)]


def _incr_many(url: str, times: int) -> list[int]:
    store = open_store(url)
    return [store.incr("hits", ttl=60) for _ in range(times)]


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


# --- the shared backends, across processes ------------------------------------------------------


def test_store_add_has_exactly_one_winner_per_key_across_processes(shared_url: str) -> None:
    won = _in_processes(_add_keys, *[(shared_url, me, 200) for me in range(4)])
    assert sorted(key for keys in won for key in keys) == sorted(f"k{n}" for n in range(200))
    store = open_store(shared_url)
    for me, keys in enumerate(won):
        assert all(store.get(key) == str(me).encode() for key in keys)


def test_store_incr_is_atomic_across_processes(shared_url: str) -> None:
    counts = _in_processes(_incr_many, *[(shared_url, 250)] * 4)
    assert sorted(n for values in counts for n in values) == list(range(1, 1001))
    assert open_store(shared_url).get("hits") == b"1000"


def test_store_lock_excludes_other_processes(shared_url: str, tmp_path: Path) -> None:
    (tmp_path / "counter").write_text("0")
    overlaps = _in_processes(_critical_section, *[(shared_url, 25, tmp_path, True)] * 4)
    assert sum(overlaps) == 0
    assert (tmp_path / "counter").read_text() == "100"


def test_store_overlap_detector_catches_an_unlocked_section(tmp_path: Path) -> None:
    # The section above without the lock: shows that test would see an overlap if one happened.
    (tmp_path / "counter").write_text("0")
    overlaps = _in_processes(_critical_section, *[("memory://", 25, tmp_path, False)] * 4)
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


# --- SQLite specifics ---------------------------------------------------------------------------


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
        counts = _in_processes(_incr_many, *[(url, 20)] * 4)
        assert sorted(n for values in counts for n in values) == list(range(1, 81))


# --- LMDB specifics -----------------------------------------------------------------------------


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
    assert _in_processes(_write_entries, (f"lmdb:///{path}", 3000)) == [3000]
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
    assert _in_processes(_write_entries, (f"lmdb:///{path}", 3000)) == [3000]
    store = LmdbStore(path)
    assert store.get("k02999") == b"v" * 50
    assert not list(tmp_path.glob("*.broken-*"))


def test_lmdb_one_environment_per_file_in_a_process(tmp_path: Path) -> None:
    first, second = LmdbStore(tmp_path / "s.lmdb"), open_store(f"lmdb:///{tmp_path / 's.lmdb'}")
    assert isinstance(second, LmdbStore)
    assert first._environment() is second._environment()
    first.set("k", b"v", ttl=60)
    assert second.get("k") == b"v"


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
    results = _in_processes(_use_inherited, (store, inherited), (store, inherited))
    assert [reused for reused, _ in results] == [False, False]
    assert store.incr("forked", ttl=60) == 102  # the parent's handle still works


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


# --- open_store: the WX_STORE_URL setting -------------------------------------------------------


def test_open_store_reads_each_form(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    relative = open_store("sqlite:///instance/wxserver.db")
    absolute = open_store(f"sqlite:///{tmp_path / 'abs.db'}")
    assert isinstance(relative, SqliteStore)
    assert relative.path == tmp_path / "instance" / "wxserver.db"
    assert isinstance(absolute, SqliteStore)
    assert absolute.path == tmp_path / "abs.db"
    default = open_store("lmdb:///instance/wxserver.lmdb")
    assert isinstance(default, LmdbStore)
    assert default.path == tmp_path / "instance" / "wxserver.lmdb"
    assert (default.path / "data.mdb").is_file()
    lmdb_absolute = open_store(f"lmdb:///{tmp_path / 'abs.lmdb'}")
    assert isinstance(lmdb_absolute, LmdbStore)
    assert lmdb_absolute.path == tmp_path / "abs.lmdb"
    assert isinstance(open_store("memory://"), MemoryStore)
    # Creating a Redis client does not connect, so no server is needed here.
    assert isinstance(open_store("redis://127.0.0.1:6379/2"), RedisStore)
    assert isinstance(open_store("rediss://:pw@127.0.0.1:6380"), RedisStore)


@pytest.mark.parametrize(
    "url",
    [
        "",
        "postgres://db/x",
        "memory://somewhere",
        "sqlite://host/x.db",
        "sqlite:///",
        "sqlite:///x.db?mode=ro",
        "lmdb://host/x.lmdb",
        "lmdb:///",
        "lmdb:///x.lmdb?map_size=1",
        "redis://",
        "redis://127.0.0.1:port/0",
        "redis://127.0.0.1/zero",
    ],
)
def test_open_store_bad_url_names_the_setting_and_the_fix(url: str) -> None:
    with pytest.raises(ConfigError) as raised:
        open_store(url)
    assert raised.value.key == "WX_STORE_URL"
    assert str(raised.value).startswith("WX_STORE_URL: ")
    assert "redis://host:6379/0" in raised.value.fix


def test_open_store_masks_a_redis_password() -> None:
    with pytest.raises(ConfigError) as raised:
        open_store("redis://user:s3cret@127.0.0.1/zero")
    assert "s3cret" not in str(raised.value)
    assert "user:***@127.0.0.1" in str(raised.value)


@pytest.mark.parametrize("scheme", ["sqlite", "lmdb"])
def test_open_store_unwritable_directory(tmp_path: Path, scheme: str) -> None:
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(ConfigError, match="cannot be created"):
        open_store(f"{scheme}:///{tmp_path / 'file' / 'store'}")


def test_open_store_redis_without_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "redis", None)  # as if not installed: import fails
    with pytest.raises(ConfigError, match=r"pip install 'wxserver\[redis\]'"):
        open_store("redis://127.0.0.1:6379/0")


def test_store_package_imports_without_redis() -> None:
    code = (
        "import sys\n"
        "sys.modules['redis'] = None\n"
        "import wxserver.services.store\n"
        "print(wxserver.services.store.open_store('memory://').add('k', b'v', ttl=1))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "True"


def test_store_memory_sweeps_keys_never_read_again() -> None:
    now = [1000.0]
    store = MemoryStore(clock=lambda: now[0])
    for number in range(SWEEP_EVERY):
        store.set(f"message:{number}", b"x", ttl=10)
    now[0] += 11  # all of them expired, none read again
    for number in range(SWEEP_EVERY):
        store.add(f"fresh:{number}", b"y", ttl=10)
    assert len(store._values) == SWEEP_EVERY  # only the fresh ones are left
