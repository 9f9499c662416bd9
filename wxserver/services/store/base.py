"""The store interface every backend implements.

One small interface, four engines: ``MemoryStore`` (one process, for tests), the LMDB store (the
default: every gunicorn worker on one machine), the SQLite store (the same, on one SQLite file) and
the Redis store (several machines).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Protocol

from wxserver.protocol.errors import WxServerError


class LockTimeout(WxServerError):
    """The lock could not be acquired within the time the caller was willing to wait."""


class Store(Protocol):
    """Keys with a time to live. Keys are namespaced by the caller (``echo:seen:...``)."""

    def get(self, key: str) -> bytes | None:
        """Return the value stored at ``key``, or None when absent or expired."""

    def set(self, key: str, value: bytes, *, ttl: float) -> None:
        """Store ``value`` at ``key`` for ``ttl`` seconds."""

    def add(self, key: str, value: bytes, *, ttl: float) -> bool:
        """Store ``value`` only if ``key`` is absent or expired; True when this call stored it.

        Atomic across every process sharing the store: of concurrent callers exactly one wins.
        """

    def delete(self, key: str) -> None:
        """Remove ``key`` if present."""

    def incr(self, key: str, *, ttl: float) -> int:
        """Add one to the counter at ``key`` and return the new value.

        A new counter starts at 1 and lives ``ttl`` seconds from its creation.
        """

    def lock(self, name: str, *, timeout: float, wait: float) -> AbstractContextManager[None]:
        """A mutual-exclusion lock shared by every process using the store.

        ``timeout`` bounds how long a holder keeps it (a crashed holder frees it then); ``wait``
        bounds how long to wait for it, after which LockTimeout is raised.
        """
