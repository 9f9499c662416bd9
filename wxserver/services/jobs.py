"""Jobs: the work of a Deferred runs outside the request, on huey.

The queue lives beside the store: a SQLite file next to the LMDB or SQLite store (every worker
on this machine), or the same Redis (several machines). ``wxserver worker`` (the Procfile's
``worker:``) consumes it. With the in-process ``memory://`` store (tests, one process) jobs run
on a thread pool of the same process instead, since there is no other process to hand them to.

A job that a killed worker dropped is not lost: each job is followed by a watchdog, a scheduled
huey task stored with the queue. It finds a job that began but whose lease ran out without a
result, and runs it again; the ``delivered`` record keeps the user to one answer.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

from huey import Huey, RedisHuey, SqliteHuey

from wxserver.protocol.messages import Message
from wxserver.protocol.replies import Deferred
from wxserver.services.store.factory import local_path

log = logging.getLogger("wxserver.jobs")

# A job's worker renews its lease this often; a lease this old means the worker died.
LEASE = 6.0
WATCH_EVERY = 3.0
MAX_RUNS = 3


@dataclass(frozen=True, slots=True)
class Job:
    """One message's deferred work."""

    account: str
    message: Message
    deferred: Deferred


class Finisher(Protocol):
    """Runs a job of one account: ``finish`` the work, ``watch`` a job's health."""

    def finish(self, job: Job) -> None:
        """Do the work and deliver the reply."""

    def watch(self, job: Job) -> bool | None:
        """True: the job is done; False: still running; None: it died and must run again."""


class Jobs(Protocol):
    """Where jobs are sent."""

    def submit(self, job: Job) -> None:
        """Queue ``job``; returns at once."""


class ThreadJobs:
    """Jobs on a thread pool of this process, for the in-process store."""

    def __init__(self, finishers: Mapping[str, Finisher], workers: int = 16) -> None:
        self._finishers = finishers
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="wxserver-job")

    def submit(self, job: Job) -> None:
        self._pool.submit(self._run, job)

    def _run(self, job: Job) -> None:
        try:
            self._finishers[job.account].finish(job)
        except Exception:  # a job's failure is logged; nothing else waits on it
            log.exception("job for %s failed", job.message.key)


class HueyJobs:
    """Jobs on huey: ``finish`` runs in ``wxserver worker``; a watchdog re-runs a dropped job."""

    def __init__(self, huey: Huey, finishers: Mapping[str, Finisher]) -> None:
        self.huey = huey
        self._finishers = finishers
        self._finish_task = huey.task(name="wxserver.finish")(self._finish)
        self._watch_task = huey.task(name="wxserver.watch")(self._watch)

    def submit(self, job: Job) -> None:
        self._finish_task(job)
        self._watch_task.schedule((job, 1), delay=WATCH_EVERY)

    def _finish(self, job: Job) -> None:
        self._finishers[job.account].finish(job)

    def _watch(self, job: Job, runs: int) -> None:
        state = self._finishers[job.account].watch(job)
        if state is True:
            return
        if state is None:
            if runs >= MAX_RUNS:
                log.error("job for %s died %d times; giving up", job.message.key, runs)
                return
            log.warning("job for %s lost its worker; running it again", job.message.key)
            self._finish_task(job)
            runs += 1
        self._watch_task.schedule((job, runs), delay=WATCH_EVERY)


def make_huey(store_url: str, name: str = "wxserver") -> Huey | None:
    """The huey instance that sits beside the store at ``store_url``; None for ``memory://``."""
    store_path = local_path(store_url)
    if store_path is not None:
        queue_path = store_path.with_name(store_path.stem + "-jobs.db")
        queue_path.parent.mkdir(parents=True, exist_ok=True)
        return SqliteHuey(name, filename=str(queue_path), results=False)
    if urlsplit(store_url.strip()).scheme.lower() in ("redis", "rediss"):
        return RedisHuey(name, url=store_url, results=False, blocking=True, read_timeout=1)
    return None


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


__all__ = [
    "LEASE",
    "HueyJobs",
    "Job",
    "Jobs",
    "ThreadJobs",
    "consumer_options",
    "make_huey",
]
