"""Running a pay handler: on a thread of the web process, or as a durable job.

The delivery that claimed a notification hands its handler to the runner and waits for it up to
the budget (about 4 s; WeChat Pay gives up at 5). A handler still running then goes on: the
delivery is answered FAIL and WeChat's next delivery, 15 s or more later, finds it done (200) or
still running. A handler registered with ``background=True`` runs as a huey job consumed by
``wxserver worker``, stored with the queue, so it outlives the web process; any other runs on a
thread of the web process. Either way its claim is a lease renewed while it runs: a runner that
dies stops renewing, and a later delivery runs the handler again.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import NamedTuple

from huey import Huey

from wxserver.protocol.pay.notifications import PayNotification
from wxserver.protocol.pay.routing import PayRouter, PayRule
from wxserver.services.pay.ledger import LEASE, Ledger
from wxserver.services.pay.metrics import PayMetrics
from wxserver.services.store import LockTimeout, Store

__all__ = ["PayJob", "PayRunner", "Ran"]

log = logging.getLogger("wxserver.pay")


@dataclass(frozen=True, slots=True)
class PayJob:
    """One claimed notification's run: the rule, the notification and the claim's token."""

    rule: str
    notification: PayNotification
    token: str


class Ran(NamedTuple):
    """How a run ended: handled, handler-error or skipped (another run had it)."""

    outcome: str
    seconds: float | None = None
    reason: str = ""


class PayRunner:
    """Runs the pay handlers of one merchant."""

    def __init__(
        self,
        router: PayRouter,
        store: Store,
        mch_id: str,
        metrics: PayMetrics,
        huey: Huey | None = None,
        *,
        threads: int = 8,
    ) -> None:
        self.router = router
        self.store = store
        self.mch_id = mch_id
        self.metrics = metrics
        # Threads start with the first submission: none exists yet when gunicorn forks.
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="wxserver-pay")
        self._task = huey.task(name="wxserver.pay")(self.run) if huey is not None else None

    def ledger(self, notification: PayNotification) -> Ledger:
        """The store records of ``notification``."""
        return Ledger(self.store, self.mch_id, notification.id)

    def submit(
        self, rule: PayRule, notification: PayNotification, token: str
    ) -> Future[Ran] | None:
        """Start the run; its Future when on a thread here, None when queued as a job."""
        job = PayJob(rule.name, notification, token)
        if rule.background and self._task is not None:
            try:
                self._task(job)
            except Exception as error:  # the queue's client raises its own error types
                log.warning(
                    "pay job for %s could not be queued (%s: %s); running it in this process",
                    notification.id,
                    type(error).__name__,
                    error,
                )
            else:
                return None
        return self._pool.submit(self.run, job)

    def run(self, job: PayJob) -> Ran:
        """Run the handler of ``job`` once, unless it is done or another run took over."""
        ledger = self.ledger(job.notification)
        rule = self.router.rule(job.rule)
        if rule is None:
            reason = f"no pay handler {job.rule!r} is loaded here"
            log.error("%s (notification %s)", reason, job.notification.id)
            ledger.fail(job.token, reason)
            return Ran("handler-error", reason=reason)
        if not ledger.start(job.token):
            return Ran("skipped")
        stop = threading.Event()
        beat = threading.Thread(
            target=_heartbeat, args=(ledger, job.token, stop), daemon=True, name="wxserver-lease"
        )
        beat.start()
        started = time.perf_counter()
        try:
            rule.handler(job.notification)
        except Exception as exc:  # the handler's failure: WeChat must send it again
            seconds = time.perf_counter() - started
            reason = f"handler {rule.name} raised {type(exc).__name__}; see the server log"
            log.error(
                "pay handler %s raised %s: %s (notification %s, %s); answered FAIL",
                rule.name,
                type(exc).__name__,
                exc,
                job.notification.id,
                job.notification.event_type,
                exc_info=exc,
            )
            self.metrics.handler_errors.labels(rule.name).inc()
            ledger.fail(job.token, reason)
            return Ran("handler-error", seconds, reason)
        finally:
            stop.set()
        seconds = time.perf_counter() - started
        self.metrics.handler_seconds.labels(rule.name).observe(seconds)
        try:
            ledger.succeed(job.token)
        except LockTimeout:
            # Handled all the same; a later delivery may run it again, which idempotent
            # handlers (WeChat Pay asks for them) take in their stride.
            log.warning("notification %s: handled, but not recorded in time", job.notification.id)
        return Ran("handled", seconds)


def _heartbeat(ledger: Ledger, token: str, stop: threading.Event) -> None:
    while not stop.wait(LEASE / 3):
        try:
            if not ledger.renew(token):
                return
        except LockTimeout:
            continue
