"""The store interface every backend implements."""

from __future__ import annotations

from typing import Protocol


class Store(Protocol):
    """Keys with a time to live. Keys are namespaced by the caller (``echo:seen:...``)."""

    def get(self, key: str) -> bytes | None:
        """Return the value stored at ``key``, or None when absent or expired."""

    def set(self, key: str, value: bytes, *, ttl: float) -> None:
        """Store ``value`` at ``key`` for ``ttl`` seconds."""

    def delete(self, key: str) -> None:
        """Remove ``key`` if present."""

    def incr(self, key: str, *, ttl: float) -> int:
        """Add one to the counter at ``key`` and return the new value.

        A new counter starts at 1 and lives ``ttl`` seconds from its creation.
        """
