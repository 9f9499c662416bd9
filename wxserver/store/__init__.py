"""Shared state behind one small interface: counters and values with a time to live.

``open_store(url)`` picks the backend. ``RedisStore`` needs the optional ``redis`` package only
when one is created, so this package imports without it.
"""

from wxserver.store.base import LockTimeout, Store
from wxserver.store.factory import open_store
from wxserver.store.lmdb import LmdbStore
from wxserver.store.memory import MemoryStore
from wxserver.store.redis import RedisStore
from wxserver.store.sqlite import SqliteStore

__all__ = [
    "LmdbStore",
    "LockTimeout",
    "MemoryStore",
    "RedisStore",
    "SqliteStore",
    "Store",
    "open_store",
]
