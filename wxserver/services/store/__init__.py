"""Shared state behind one small interface: counters and values with a time to live.

``open_store(url)`` picks the backend. ``RedisStore`` needs the optional ``redis`` package only
when one is created, so this package imports without it.
"""

from wxserver.services.store.base import LockTimeout, Store
from wxserver.services.store.factory import open_shared_store, open_store
from wxserver.services.store.fallback import FallbackStore
from wxserver.services.store.lmdb import LmdbStore
from wxserver.services.store.memory import MemoryStore
from wxserver.services.store.redis import RedisStore
from wxserver.services.store.sqlite import SqliteStore

__all__ = [
    "FallbackStore",
    "LmdbStore",
    "LockTimeout",
    "MemoryStore",
    "RedisStore",
    "SqliteStore",
    "Store",
    "open_shared_store",
    "open_store",
]
