"""An in-process store: one dict per process, guarded by a lock for threaded workers."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from wxserver.services.store.base import LockTimeout

SWEEP_EVERY = 1024


class MemoryStore:
    """Keeps values in this process only; each gunicorn worker has its own."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._guard = threading.Lock()
        self._values: dict[str, tuple[float, bytes | int]] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._writes = 0

    def _written(self, now: float) -> None:
        # Expired keys are dropped when read; one never read again (every message's records)
        # would stay for ever, so every SWEEP_EVERY writes the whole dict is swept.
        self._writes += 1
        if self._writes % SWEEP_EVERY == 0:
            for key in [k for k, (expires, _) in self._values.items() if expires <= now]:
                del self._values[key]

    def _live(self, key: str, now: float) -> bytes | int | None:
        entry = self._values.get(key)
        if entry is None:
            return None
        expires, value = entry
        if expires <= now:
            del self._values[key]
            return None
        return value

    def get(self, key: str) -> bytes | None:
        with self._guard:
            value = self._live(key, self._clock())
        if isinstance(value, int):
            return str(value).encode()
        return value

    def set(self, key: str, value: bytes, *, ttl: float) -> None:
        with self._guard:
            now = self._clock()
            self._values[key] = (now + ttl, value)
            self._written(now)

    def add(self, key: str, value: bytes, *, ttl: float) -> bool:
        with self._guard:
            now = self._clock()
            if self._live(key, now) is not None:
                return False
            self._values[key] = (now + ttl, value)
            self._written(now)
            return True

    def delete(self, key: str) -> None:
        with self._guard:
            self._values.pop(key, None)

    def incr(self, key: str, *, ttl: float) -> int:
        with self._guard:
            now = self._clock()
            current = self._live(key, now)
            if current is None:
                self._values[key] = (now + ttl, 1)
                self._written(now)
                return 1
            count = (int(current) if isinstance(current, bytes) else current) + 1
            self._values[key] = (self._values[key][0], count)
            return count

    @contextmanager
    def lock(self, name: str, *, timeout: float, wait: float) -> Iterator[None]:
        # One process only: a holder that hangs is not freed after ``timeout`` here.
        with self._guard:
            lock = self._locks.setdefault(name, threading.Lock())
        if not lock.acquire(timeout=wait):
            raise LockTimeout(f"lock {name!r} not acquired within {wait} s")
        try:
            yield
        finally:
            lock.release()
