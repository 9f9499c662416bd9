"""Shared state behind one small interface: counters and values with a time to live."""

from wxserver.store.base import LockTimeout, Store
from wxserver.store.memory import MemoryStore

__all__ = [
    "LockTimeout",
    "MemoryStore",
    "Store",
]
