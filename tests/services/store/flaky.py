"""A store that goes down on request, and a clock the test moves: for outage tests."""

from __future__ import annotations

from contextlib import AbstractContextManager

from wxserver.services.store import MemoryStore


class Switchable:
    """A memory store that raises ConnectionError, as a Redis client does, while ``down``."""

    def __init__(self) -> None:
        self.inner = MemoryStore()
        self.down = False
        self.calls = 0

    def _check(self) -> MemoryStore:
        self.calls += 1
        if self.down:
            raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
        return self.inner

    def get(self, key: str) -> bytes | None:
        return self._check().get(key)

    def set(self, key: str, value: bytes, *, ttl: float) -> None:
        self._check().set(key, value, ttl=ttl)

    def add(self, key: str, value: bytes, *, ttl: float) -> bool:
        return self._check().add(key, value, ttl=ttl)

    def delete(self, key: str) -> None:
        self._check().delete(key)

    def incr(self, key: str, *, ttl: float) -> int:
        return self._check().incr(key, ttl=ttl)

    def lock(self, name: str, *, timeout: float, wait: float) -> AbstractContextManager[None]:
        return self._check().lock(name, timeout=timeout, wait=wait)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now
