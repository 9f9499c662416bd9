"""Jobs: the work of a Deferred runs outside the request, on huey.

The queue (:mod:`wxserver.services.queue`) lives beside the store. ``wxserver worker`` (the
Procfile's ``worker:``) consumes it. A job that cannot be queued (the queue's Redis is out) runs
on a thread of the web process that made it, so that it is not lost. With the in-process
``memory://`` store (tests, one process) every job runs on a thread pool of the same process,
since there is no other process to hand it to.

A job that a killed worker dropped is not lost: each job is followed by a watchdog, a scheduled
huey task stored with the queue. It finds a job that began but whose lease ran out without a
result, and runs it again; the ``delivered`` record keeps the user to one answer.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

from huey import Huey

from wxserver.protocol.messages import Message
from wxserver.protocol.replies import Deferred

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
        # For jobs the queue cannot take: made only when one needs it.
        self._here: ThreadJobs | None = None

    def submit(self, job: Job) -> None:
        try:
            self._finish_task(job)
        except Exception as error:  # the queue's client raises its own error types
            log.warning(
                "job for %s could not be queued (%s: %s); running it in this process",
                job.message.key,
                type(error).__name__,
                error,
            )
            if self._here is None:
                self._here = ThreadJobs(self._finishers)
            self._here.submit(job)
            return
        try:
            self._watch_task.schedule((job, 1), delay=WATCH_EVERY)
        except Exception as error:  # queued, but not watched: a dead worker is not noticed
            log.warning("job for %s is queued without its watchdog: %s", job.message.key, error)

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


__all__ = [
    "LEASE",
    "HueyJobs",
    "Job",
    "Jobs",
    "ThreadJobs",
]
