"""The embedded store: one LMDB environment shared by every gunicorn worker on this machine.

LMDB is a memory-mapped B+tree built for many processes on one machine: readers never block,
and one write transaction at a time is serialised by a robust mutex in its lock file, which a
crashed holder cannot leave locked. A write here is a short transaction in shared memory, with no
system call at all (the map is written directly, and the kernel writes it back to the file), where
an SQLite write takes a dozen file locks and writes. Every operation the Store interface asks to
be atomic is one write transaction: ``add`` reads and writes inside it, as do ``incr`` and the
lease row of a ``lock``. The only thing added on top is polling with a short sleep while a lock is
held by someone else.

How it is safe across processes and crashes:

- Copy-on-write pages and a switch of the meta page at commit: a process killed in the middle of
  a write leaves the last committed state. Commits are not flushed to disk one by one (the data is
  short-lived), so a power cut can lose the last seconds, or leave a file whose tree is broken.
  The first process to open it after all earlier ones exited walks every page (in a forked
  child: LMDB aborts on some broken pages) and sets a broken one aside
  (``<name>.broken-<time>``) for a fresh one, so the server starts either way.
- One environment per path and per process: LMDB forbids using one opened before ``fork()``, and
  opening the same file twice in a process (closing either would drop the other's file locks). A
  pid change (gunicorn forks its workers) closes the inherited one and opens a new one.
- Values carry their expiry time (wall-clock seconds, as the file outlives boots). Expired entries
  are never returned; every few writes, a write also deletes the expired entries among the next
  few keys, sweeping the whole key space in turn, so no cleanup job is needed.
"""

from __future__ import annotations

import fcntl
import hashlib
import itertools
import logging
import os
import secrets
import struct
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

import lmdb

from wxserver.protocol.errors import WxServerError
from wxserver.services import forks
from wxserver.services.store.lease import lease

log = logging.getLogger("wxserver.store")

# Sparse: the file takes only the pages in use. Ten minutes of messages at 2,000 a second, each
# with its records, take well under a tenth of it.
MAP_SIZE = 2 << 30
# Every SWEEP_EVERY writes of a process look at the next SWEEP_KEYS keys and delete the expired
# ones: two keys looked at per write, where a write adds at most one, so expired entries never
# outnumber live ones. Each key looked at costs about 2,500 instructions (py-lmdb's iteration).
SWEEP_EVERY = 64
SWEEP_KEYS = 128
# LMDB's key limit is 511 bytes; longer keys are stored under a digest.
_LONGEST_KEY = 400

_EXPIRES = struct.Struct("<d")
_pack = _EXPIRES.pack
_expires_of = _EXPIRES.unpack_from
_HEAD = _EXPIRES.size

# What a file a power cut broke raises; any other error (permissions, a full disk) is the
# caller's to see, and the file is left where it is.
_BROKEN = (lmdb.CorruptedError, lmdb.PageNotFoundError, lmdb.InvalidError, lmdb.PanicError)

# (path, pid) -> environment: the one environment of this process for that path.
_environments: dict[tuple[Path, int], lmdb.Environment] = {}
_opening = threading.Lock()


class StoreFull(WxServerError):
    """Every entry of the store is live, and the map has no room for another."""


def _encode(key: str) -> bytes:
    raw = key.encode()
    if len(raw) <= _LONGEST_KEY:
        return raw
    return b"#sha256:" + hashlib.sha256(raw).hexdigest().encode()


class LmdbStore:
    """The Store in one LMDB environment (a directory), shared by every process that opens it."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        map_size: int = MAP_SIZE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = Path(path).resolve()
        self._map_size = map_size
        self._clock = clock
        self._writes = itertools.count(1)
        self._sweep_from = b""
        self._env_pid = 0
        self._env = self._environment()

    def __repr__(self) -> str:
        return f"LmdbStore({str(self.path)!r})"

    # --- the environment ------------------------------------------------------------------

    def _environment(self) -> lmdb.Environment:
        key = (self.path, forks.pid)
        env = _environments.get(key)
        if env is None:
            with _opening:
                env = _environments.get(key)
                if env is None:
                    # Inherited through fork(): closed first, since closing any descriptor of the
                    # file drops this process's locks on it. The parent's locks stay its own.
                    for other in [k for k in _environments if k[0] == self.path]:
                        _environments.pop(other).close()
                    env = _environments[key] = _open_checked(self.path, self._map_size)
        self._env, self._env_pid = env, key[1]
        return env

    def _begin(self, *, write: bool) -> lmdb.Transaction[bytes]:
        env = self._env if self._env_pid == forks.pid else self._environment()
        return env.begin(write=write)

    def _wrote(self, txn: lmdb.Transaction[bytes]) -> None:
        """Count a write; every SWEEP_EVERY writes also sweep, in the same transaction."""
        if next(self._writes) % SWEEP_EVERY == 0:
            self._sweep(txn, self._clock())

    def _sweep(self, txn: lmdb.Transaction[bytes], now: float, keys: int = SWEEP_KEYS) -> None:
        cursor = txn.cursor()
        cursor.set_range(self._sweep_from)
        for _ in range(keys):
            # An unpositioned cursor (past the last key) reads as the empty key, which no entry has.
            if not cursor.key():
                break
            if _expires_of(cursor.value())[0] <= now:
                cursor.delete()  # and moves on to the next key
            else:
                cursor.next()
        self._sweep_from = cursor.key()

    def _make_room(self) -> None:
        """The map is full: delete every expired entry, or say how to make the store larger."""
        with self._begin(write=True) as txn:
            before = txn.stat()["entries"]
            self._sweep_from = b""
            self._sweep(txn, self._clock(), keys=before)
            freed = before - txn.stat()["entries"]
        if freed == 0:
            raise StoreFull(
                f"the store at {self.path} is full: {before} live entries fill its "
                f"{self._map_size >> 20} MiB. Lower the TTLs that fill it, or use a Redis store"
            )
        log.warning("the store at %s was full; %d expired entries were deleted", self.path, freed)

    # --- the Store interface --------------------------------------------------------------

    def get(self, key: str) -> bytes | None:
        with self._begin(write=False) as txn:
            value = txn.get(_encode(key))
        if value is None or _expires_of(value)[0] <= self._clock():
            return None
        return value[_HEAD:]

    # A write is one transaction: committed when its block ends, rolled back if it raises. When
    # the map is full, room is made and the write is tried again.

    def set(self, key: str, value: bytes, *, ttl: float) -> None:
        try:
            with self._begin(write=True) as txn:
                txn.put(_encode(key), _pack(self._clock() + ttl) + value)
                self._wrote(txn)
        except lmdb.MapFullError:
            self._make_room()
            self.set(key, value, ttl=ttl)

    def add(self, key: str, value: bytes, *, ttl: float) -> bool:
        raw = _encode(key)
        try:
            with self._begin(write=True) as txn:
                now = self._clock()  # read under the write lock: waiting for it may take a while
                # A new key, nearly always: one call stores it. A key present but expired counts
                # as absent and is overwritten.
                entry = _pack(now + ttl) + value
                if not txn.put(raw, entry, overwrite=False):
                    old = txn.get(raw)
                    if old is not None and _expires_of(old)[0] > now:
                        return False
                    txn.put(raw, entry)
                self._wrote(txn)
                return True
        except lmdb.MapFullError:
            self._make_room()
            return self.add(key, value, ttl=ttl)

    def delete(self, key: str) -> None:
        with self._begin(write=True) as txn:
            txn.delete(_encode(key))

    def incr(self, key: str, *, ttl: float) -> int:
        raw = _encode(key)
        try:
            with self._begin(write=True) as txn:
                now = self._clock()
                old = txn.get(raw)
                if old is None or _expires_of(old)[0] <= now:
                    count, expires = 1, now + ttl
                else:
                    # A value set as b"41" counts on from 41, as in Redis; the creation's TTL
                    # stays.
                    count, expires = int(old[_HEAD:]) + 1, _expires_of(old)[0]
                txn.put(raw, _pack(expires) + str(count).encode())
                self._wrote(txn)
                return count
        except lmdb.MapFullError:
            self._make_room()
            return self.incr(key, ttl=ttl)

    def lock(self, name: str, *, timeout: float, wait: float) -> AbstractContextManager[None]:
        # Lock leases live among the keys, under a prefix no caller's key has.
        raw = b"\x00lock:" + _encode(name)
        owner = secrets.token_hex(16).encode()

        def take(now: float, expires: float) -> bool:
            with self._begin(write=True) as txn:
                held = txn.get(raw)
                if held is not None and _expires_of(held)[0] > now:
                    return False
                txn.put(raw, _pack(expires) + owner)
                return True

        def release() -> bool:
            with self._begin(write=True) as txn:
                held = txn.get(raw)
                if held is None or held[_HEAD:] != owner:
                    return False
                txn.delete(raw)
                return True

        return lease(
            name, timeout=timeout, wait=wait, clock=self._clock, take=take, release=release
        )


def _open(path: Path, map_size: int) -> lmdb.Environment:
    return lmdb.open(
        str(path),
        map_size=map_size,
        subdir=True,
        # Durability per commit is traded for speed (see the module's docstring): the map is
        # written in place and the kernel writes it back, with no system call per commit.
        sync=False,
        metasync=False,
        writemap=True,
        map_async=True,
        max_readers=1024,
        max_dbs=0,
    )


def _open_checked(path: Path, map_size: int) -> lmdb.Environment:
    """Open the environment at ``path``; a broken one (a power cut) is set aside for a new one.

    Only the first process to open it since every earlier user exited (a boot, a deploy) checks
    it, under an exclusive lock on a file beside it, so two starting workers never both move it.
    """
    path.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".opening"), "a+b") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)
        if _first_user(path) and (path / "data.mdb").exists():
            problem = _check_apart(path)
            if problem is not None:
                aside = path.with_name(f"{path.name}.broken-{time.strftime('%Y%m%d-%H%M%S')}")
                log.error(
                    "the store at %s cannot be read (%s); it is moved to %s and a new one is "
                    "started",
                    path,
                    problem,
                    aside,
                )
                path.rename(aside)
                path.mkdir()
        env = _open(path, map_size)
        # Readers left by killed processes would keep their pages from being reused.
        env.reader_check()
        return env


def _first_user(path: Path) -> bool:
    """Whether no other living process has ``path`` open.

    Each user takes a shared lock on a file beside it and keeps it (the file stays open for the
    process's life), so the first user is the one that finds no lock held.
    """
    users = open(path.with_name(path.name + ".users"), "a+b")  # noqa: SIM115 - held open
    _held.append(users)
    try:
        fcntl.flock(users, fcntl.LOCK_EX | fcntl.LOCK_NB)
        first = True
    except BlockingIOError:
        first = False
    fcntl.flock(users, fcntl.LOCK_SH)
    return first


_held: list[object] = []


def _check_apart(path: Path) -> str | None:
    """Walk every page of the environment in a child process; what is wrong with it, or None.

    LMDB meets some broken pages with an assertion that aborts the process, so the walk runs
    in a forked child, whose death is the finding.
    """
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: only LMDB work, then _exit (no atexit, no inherited buffers)
        code = 0
        try:
            os.close(read)
            os.write(write, (_walk(path) or "").encode()[:4000])
        except BaseException:  # not a broken file (permissions, say): the parent's open will tell
            code = 3
        os._exit(code)
    os.close(write)
    with os.fdopen(read, "rb") as found:
        problem = found.read().decode(errors="replace")
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return f"reading it killed the reader with signal {os.WTERMSIG(status)}"
    return problem or None


def _walk(path: Path) -> str | None:
    try:
        env = lmdb.open(str(path), readonly=True, lock=False, subdir=True)
        with env, env.begin() as txn:
            for key, value in txn.cursor():
                if len(value) < _HEAD:
                    return f"the entry {key[:40]!r} is {len(value)} bytes long"
    except _BROKEN as error:
        return f"{type(error).__name__}: {error}"
    return None
