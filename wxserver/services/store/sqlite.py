"""The embedded store: one SQLite file shared by every gunicorn worker on this machine.

This is not home-made distributed machinery. Every operation that must be atomic is a single
SQLite write transaction, and SQLite's own file locking already gives write transactions across
processes the guarantees the Store interface asks for: ``add`` is one upsert whose ``WHERE``
only lets an absent or expired row be replaced, so of concurrent callers exactly one changes a
row; ``incr`` reads and writes inside ``BEGIN IMMEDIATE``, which takes the write lock before the
read; a lock is a lease row (owner token, expiry) taken by the same kind of upsert and released by
deleting it only while the token is still ours. The only thing added on top is polling with a
short sleep while a lock is held by someone else.

How it is safe across processes:

- WAL journal: readers never block the writer nor each other; ``synchronous=NORMAL`` survives a
  crashed process (a power cut may lose the last moments, which a TTL store can afford).
- A busy timeout makes a writer wait for the write lock instead of failing at once.
- One connection per thread and per process. SQLite forbids using a connection opened before
  ``fork()`` in the child, so a pid change (gunicorn forks its workers) opens a new one.
- Times are wall-clock seconds (``time.time``): the monotonic clock restarts at boot, and the file
  outlives boots. Expired rows are never returned; they are deleted in small indexed batches
  every few writes, so no cleanup job is needed.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, closing, contextmanager
from pathlib import Path

from wxserver.services import forks
from wxserver.services.store.lease import lease

_SCHEMA = """
CREATE TABLE IF NOT EXISTS wx_store (
    key TEXT PRIMARY KEY,
    value BLOB NOT NULL,
    expires REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS wx_store_expires ON wx_store (expires);
CREATE TABLE IF NOT EXISTS wx_locks (
    name TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    expires REAL NOT NULL
) WITHOUT ROWID;
"""

# The row of an absent or expired key is (re)written; a live one is left alone, and then
# sqlite3_changes() reports 0 rows, which is how the caller learns it lost.
_ADD = """
INSERT INTO wx_store (key, value, expires) VALUES (?1, ?2, ?3)
ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires = excluded.expires
WHERE wx_store.expires <= ?4
"""
_SET = """
INSERT INTO wx_store (key, value, expires) VALUES (?1, ?2, ?3)
ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires = excluded.expires
"""
_ACQUIRE = """
INSERT INTO wx_locks (name, owner, expires) VALUES (?1, ?2, ?3)
ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires = excluded.expires
WHERE wx_locks.expires <= ?4
"""
_PURGE = """
DELETE FROM wx_store WHERE key IN (SELECT key FROM wx_store WHERE expires <= ?1 LIMIT ?2)
"""

# Every PURGE_EVERY writes of a connection delete up to PURGE_BATCH expired rows: deletion
# outpaces creation, and each purge is one short indexed statement.
PURGE_EVERY = 64
PURGE_BATCH = 256
# How long a process opening a fresh file waits between tries to switch it to WAL.
_RETRY_OPEN = 0.005


class SqliteStore:
    """The Store on one SQLite file, shared by every process and thread that opens it."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        busy_timeout: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if str(path) in {"", ":memory:"}:
            raise ValueError(f"SqliteStore needs a file that processes can share, not {path!r}")
        self.path = Path(path).resolve()
        self._busy_timeout = busy_timeout
        self._clock = clock
        self._local = threading.local()
        # Connections inherited through fork(). SQLite forbids touching them in the child, and
        # closing is touching (it acts on lock bookkeeping copied from the parent), so they are
        # kept, unused, instead of being closed by the garbage collector.
        self._inherited: list[sqlite3.Connection] = []
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._initialise()

    def __repr__(self) -> str:
        return f"SqliteStore({str(self.path)!r})"

    # --- connections ----------------------------------------------------------------------

    def _initialise(self) -> None:
        # WAL mode and the schema, once, on a connection closed before anyone can fork. The
        # journal mode is stored in the file, so later connections need not set it. Switching
        # to WAL does not wait on the busy handler when another process has the new file open,
        # so workers starting together on a fresh file retry here for up to the busy timeout.
        deadline = time.monotonic() + self._busy_timeout
        while True:
            try:
                with closing(self._open()) as conn:
                    conn.execute("PRAGMA journal_mode=WAL")
                    conn.executescript(_SCHEMA)
                return
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) or time.monotonic() > deadline:
                    raise
                time.sleep(_RETRY_OPEN)

    def _open(self) -> sqlite3.Connection:
        # isolation_level=None: autocommit, so each statement is its own transaction and the
        # multi-statement ones say BEGIN IMMEDIATE themselves.
        conn = sqlite3.connect(self.path, timeout=self._busy_timeout, isolation_level=None)
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    def _connection(self) -> sqlite3.Connection:
        local = self._local
        conn: sqlite3.Connection | None = getattr(local, "conn", None)
        pid = forks.pid
        if conn is not None and local.pid == pid:
            return conn
        if conn is not None:
            self._inherited.append(conn)
        conn = self._open()
        local.conn, local.pid, local.writes = conn, pid, 0
        return conn

    def _wrote(self, conn: sqlite3.Connection) -> None:
        local = self._local
        local.writes += 1
        if local.writes % PURGE_EVERY == 0:
            now = self._clock()
            conn.execute(_PURGE, (now, PURGE_BATCH))
            conn.execute("DELETE FROM wx_locks WHERE expires <= ?", (now,))

    # --- the Store interface --------------------------------------------------------------

    def get(self, key: str) -> bytes | None:
        row = (
            self._connection()
            .execute(
                "SELECT value FROM wx_store WHERE key = ? AND expires > ?", (key, self._clock())
            )
            .fetchone()
        )
        if row is None:
            return None
        value: bytes | int = row[0]
        # Counters are stored as integers, as MemoryStore keeps them; read back as their digits.
        return str(value).encode() if isinstance(value, int) else value

    def set(self, key: str, value: bytes, *, ttl: float) -> None:
        conn = self._connection()
        conn.execute(_SET, (key, value, self._clock() + ttl))
        self._wrote(conn)

    def add(self, key: str, value: bytes, *, ttl: float) -> bool:
        conn = self._connection()
        now = self._clock()
        won = conn.execute(_ADD, (key, value, now + ttl, now)).rowcount == 1
        self._wrote(conn)
        return won

    def delete(self, key: str) -> None:
        self._connection().execute("DELETE FROM wx_store WHERE key = ?", (key,))

    def incr(self, key: str, *, ttl: float) -> int:
        conn = self._connection()
        with _immediate(conn):
            now = self._clock()  # read under the write lock: waiting for it may have taken a while
            row = conn.execute(
                "SELECT value, expires FROM wx_store WHERE key = ?", (key,)
            ).fetchone()
            if row is None or row[1] <= now:
                count = 1
                conn.execute(_SET, (key, count, now + ttl))
            else:
                count = int(row[0]) + 1  # a value set as b"41" counts on from 41, as in Redis
                conn.execute("UPDATE wx_store SET value = ? WHERE key = ?", (count, key))
        self._wrote(conn)
        return count

    def lock(self, name: str, *, timeout: float, wait: float) -> AbstractContextManager[None]:
        owner = secrets.token_hex(16)

        def take(now: float, expires: float) -> bool:
            acquired = self._connection().execute(_ACQUIRE, (name, owner, expires, now))
            return acquired.rowcount == 1

        def release() -> bool:
            released = self._connection().execute(
                "DELETE FROM wx_locks WHERE name = ? AND owner = ?", (name, owner)
            )
            return released.rowcount == 1

        return lease(
            name, timeout=timeout, wait=wait, clock=self._clock, take=take, release=release
        )


@contextmanager
def _immediate(conn: sqlite3.Connection) -> Iterator[None]:
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
