"""The job queue: huey beside the store, which backs off while the store cannot be reached.

The queue lives beside the store: a SQLite file next to the LMDB or SQLite store (every worker on
this machine), or the same Redis (several machines; through Sentinel, the current primary).

When the queue's storage fails (Redis stopped, restarting, failing over), huey's consumer would
log a traceback on every poll of every worker thread, dozens a second. Here a read that fails is
an empty read: the thread sleeps with an exponential back-off (0.1 s doubling to 5 s), and the
outage is told in one line when it begins, one a minute while it lasts, and one when it ends.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from huey import RedisHuey, SqliteHuey
from huey.api import Huey

from wxserver.services.store.factory import is_shared, local_path

log = logging.getLogger("wxserver.jobs")

FIRST_BACKOFF = 0.1
MAX_BACKOFF = 5.0
# While an outage lasts, how often it is told again.
REMIND_EVERY = 60.0


class Outage:
    """The state of the queue's storage, told once per change and once a minute while down."""

    def __init__(self, clock: Any = time.monotonic, sleep: Any = time.sleep) -> None:
        self._clock = clock
        self._sleep = sleep
        self._guard = threading.Lock()
        self._since: float | None = None
        self._told = 0.0
        self._failures = 0

    @property
    def down(self) -> bool:
        """Whether the last operation on the storage failed."""
        return self._since is not None

    def failed(self, error: Exception, *, wait: bool = True) -> None:
        """An operation failed: tell it if it is news, then (``wait``) back off."""
        with self._guard:
            now = self._clock()
            self._failures += 1
            delay = min(MAX_BACKOFF, FIRST_BACKOFF * 2 ** min(self._failures - 1, 16))
            if self._since is None:
                self._since = self._told = now
                message = f"the job queue cannot be reached ({type(error).__name__}: {error})"
            elif now - self._told >= REMIND_EVERY:
                self._told = now
                message = f"the job queue is still unreachable after {now - self._since:.0f} s"
            else:
                message = ""
        if message:
            log.warning("%s; retrying with back-off", message)
        if wait:
            self._sleep(delay)

    def succeeded(self) -> None:
        """An operation succeeded: end the outage, if there was one."""
        if self._since is None:
            return
        with self._guard:
            since, self._since, self._failures = self._since, None, 0
        if since is not None:
            log.warning("the job queue is back after %.1f s", self._clock() - since)


class _OutageAware:
    """Reads of the queue that fail are empty reads, with a back-off (see the module)."""

    outage: Outage

    def dequeue(self) -> Any:
        try:
            task = super().dequeue()  # type: ignore[misc]
        except Exception as error:  # the storage's client raises its own error types
            self.outage.failed(error)
            return None
        self.outage.succeeded()
        return task

    def read_schedule(self, timestamp: Any = None) -> Any:
        try:
            tasks = super().read_schedule(timestamp)  # type: ignore[misc]
        except Exception as error:  # as above
            self.outage.failed(error, wait=False)
            return []
        self.outage.succeeded()
        return tasks


class _SqliteQueue(_OutageAware, SqliteHuey):  # type: ignore[misc]
    pass


class _RedisQueue(_OutageAware, RedisHuey):  # type: ignore[misc]
    pass


def make_huey(store_url: str, name: str = "wxserver") -> Huey | None:
    """The huey instance that sits beside the store at ``store_url``; None for ``memory://``."""
    store_path = local_path(store_url)
    if store_path is not None:
        queue_path = store_path.with_name(store_path.stem + "-jobs.db")
        queue_path.parent.mkdir(parents=True, exist_ok=True)
        huey: Huey = _SqliteQueue(name, filename=str(queue_path), results=False)
    elif is_shared(store_url):
        from wxserver.services.store.redis import redis_client  # noqa: PLC0415 - optional extra

        # The store's own client: through Sentinel, the pool follows the primary.
        pool = redis_client(store_url).connection_pool
        huey = _RedisQueue(name, connection_pool=pool, results=False, blocking=True, read_timeout=1)
    else:
        return None
    huey.outage = Outage()
    return huey


def consumer_options() -> dict[str, Any]:
    """How ``wxserver worker`` consumes: many threads (jobs mostly wait on the network), and a
    short, steady poll so an idle worker still starts a job within a fraction of a second."""
    return {
        "workers": 32,
        "worker_type": "thread",
        "initial_delay": 0.05,
        "backoff": 1.0,
        "max_delay": 0.05,
        "periodic": False,
        "scheduler_interval": 1,
    }
