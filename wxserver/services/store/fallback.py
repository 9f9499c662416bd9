"""A shared store with a stand-in on this machine, for while the shared one cannot be reached.

A callback must be answered within WeChat's 5 seconds even when Redis is down, restarting or
failing over. :class:`FallbackStore` sends every operation to the shared store; when one fails
(a connection refused, a timeout, a replica that refuses writes during a failover), it logs one
warning, tells its listener, and serves that operation and the following ones from the local
store, the machine's LMDB. Every ``retry_after`` seconds the next operation tries the shared
store again, and the first one that succeeds ends the outage, with one more log line. Nothing
needs a restart.

What holds during an outage, and what does not:

- every message is still claimed, dispatched once and answered by its handler: exactly once per
  machine, since the machine's workers share the local store; a copy of a message that reaches
  another machine during the outage runs its handler there too;
- sessions, token records and other state written during the outage live in the local store and
  are not seen by other machines; after the outage each machine reads the shared store again;
- a lock taken during the outage excludes the processes of this machine only.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import TypeVar

from wxserver.services.store.base import LockTimeout, Store

log = logging.getLogger("wxserver.store")

T = TypeVar("T")
# Told True when an outage begins, False when it ends.
Listener = Callable[[bool], None]


class FallbackStore:
    """The shared store, or this machine's while the shared one fails (see the module)."""

    def __init__(
        self,
        shared: Store,
        local: Store,
        *,
        retry_after: float = 1.0,
        on_change: Listener | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.shared = shared
        self.local = local
        self.retry_after = retry_after
        self.on_change = on_change
        self._clock = clock
        self._guard = threading.Lock()
        # While the shared store is out: when the next operation may try it again.
        self._retry_at: float | None = None
        self._since = 0.0

    def __repr__(self) -> str:
        return f"FallbackStore({self.shared!r}, local={self.local!r})"

    @property
    def degraded(self) -> bool:
        """Whether operations are being served by the local store."""
        return self._retry_at is not None

    def _use_shared(self) -> bool:
        retry_at = self._retry_at
        return retry_at is None or self._clock() >= retry_at

    def _failed(self, error: Exception) -> None:
        with self._guard:
            now = self._clock()
            began = self._retry_at is None
            self._retry_at = now + self.retry_after
            if began:
                self._since = now
        if began:
            log.warning(
                "the shared store failed (%s: %s); answering from this machine's store until it "
                "returns",
                type(error).__name__,
                error,
            )
            if self.on_change is not None:
                self.on_change(True)

    def _recovered(self) -> None:
        with self._guard:
            if self._retry_at is None:
                return
            self._retry_at = None
            lasted = self._clock() - self._since
        log.warning("the shared store is back after %.1f s; using it again", lasted)
        if self.on_change is not None:
            self.on_change(False)

    def _run(self, shared: Callable[[], T], local: Callable[[], T]) -> T:
        if not self._use_shared():
            return local()
        try:
            result = shared()
        except LockTimeout:
            raise
        except Exception as error:  # the shared store's client raises its own error types
            self._failed(error)
            return local()
        if self._retry_at is not None:
            self._recovered()
        return result

    def get(self, key: str) -> bytes | None:
        return self._run(lambda: self.shared.get(key), lambda: self.local.get(key))

    def set(self, key: str, value: bytes, *, ttl: float) -> None:
        self._run(
            lambda: self.shared.set(key, value, ttl=ttl),
            lambda: self.local.set(key, value, ttl=ttl),
        )

    def add(self, key: str, value: bytes, *, ttl: float) -> bool:
        return self._run(
            lambda: self.shared.add(key, value, ttl=ttl),
            lambda: self.local.add(key, value, ttl=ttl),
        )

    def delete(self, key: str) -> None:
        self._run(lambda: self.shared.delete(key), lambda: self.local.delete(key))

    def incr(self, key: str, *, ttl: float) -> int:
        return self._run(
            lambda: self.shared.incr(key, ttl=ttl), lambda: self.local.incr(key, ttl=ttl)
        )

    def lock(self, name: str, *, timeout: float, wait: float) -> AbstractContextManager[None]:
        return self._lock(name, timeout=timeout, wait=wait)

    @contextmanager
    def _lock(self, name: str, *, timeout: float, wait: float) -> Iterator[None]:
        held = self._run(
            lambda: _entered(self.shared.lock(name, timeout=timeout, wait=wait)),
            lambda: _entered(self.local.lock(name, timeout=timeout, wait=wait)),
        )
        try:
            yield
        finally:
            try:
                held.__exit__(None, None, None)
            except Exception as error:  # releasing on a store that went away in between
                log.warning("releasing lock %r failed: %s: %s", name, type(error).__name__, error)


def _entered(manager: AbstractContextManager[None]) -> AbstractContextManager[None]:
    manager.__enter__()
    return manager
