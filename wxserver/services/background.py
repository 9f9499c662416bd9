"""Work that must not hold a request, on a few threads of this process.

A mini-program's reply sent through the customer-service API, or an Open Platform authorization
finished with ``api_query_auth``: the callback answers at once and the work follows within
seconds, in the process that received it (no job worker needed, so nothing waits on a queue).
The pool is made on first use in each process: gunicorn forks its workers after the app is
built, and threads do not survive a fork.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from wxserver.services import forks

log = logging.getLogger("wxserver.background")


class Background:
    """A small thread pool per process; a task's exception is logged, never raised."""

    def __init__(self, workers: int = 4, name: str = "wxserver-background") -> None:
        self.workers = workers
        self.name = name
        self._guard = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._pid = 0

    def submit(self, task: Callable[..., Any], *args: Any) -> Future[Any]:
        """Run ``task(*args)`` on a thread of this process, soon."""
        with self._guard:
            if self._pool is None or self._pid != forks.pid:
                self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix=self.name)
                self._pid = forks.pid
            pool = self._pool
        return pool.submit(self._run, task, args)

    @staticmethod
    def _run(task: Callable[..., Any], args: tuple[Any, ...]) -> Any:
        try:
            return task(*args)
        except Exception:  # nobody waits on the result: the log is where a failure shows
            log.exception("background task %s failed", getattr(task, "__qualname__", task))
            return None
