"""One merchant's notify URL: verify, decrypt, claim, run the handler, answer; one result.

:meth:`PayPipeline.answer` takes a notification's headers and body and returns one immutable
:class:`PayResult`: the status and body WeChat Pay gets, and what the request's log line and
metric samples say (:meth:`PayPipeline.record`). The answers:

- 200, empty: handled now; or handled before (a copy); or no handler takes this event type.
- 401 / 400 with the FAIL JSON: a security check failed / the body did not decrypt or parse.
- 500 with the FAIL JSON: the handler raised; WeChat sends the notification again.
- 503 with the FAIL JSON: the handler is still running after the budget (it goes on, and a later
  delivery is answered 200 once it is done), or no handler set registers ``@handlers.pay``.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Callable
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import replace
from typing import NamedTuple

from wxserver.protocol.errors import ProtocolError
from wxserver.protocol.pay.notifications import PayNotification
from wxserver.protocol.pay.notify import fail_body, open_notification, read_headers
from wxserver.protocol.pay.notify import verify_notification as verify
from wxserver.protocol.pay.routing import PayRule
from wxserver.services.pay.keys import PlatformKeys
from wxserver.services.pay.ledger import Ledger
from wxserver.services.pay.metrics import PayMetrics
from wxserver.services.pay.runner import PayRunner
from wxserver.services.store import LockTimeout

__all__ = ["PayPipeline", "PayResult", "log_safe"]

log = logging.getLogger("wxserver.pay")

JSON = "application/json; charset=utf-8"
IN_PROGRESS = "the notification is still being handled; send it again later"
NO_HANDLER = "no handler for WeChat Pay notifications is loaded on this server"
_LINE = (
    "pay mch_id=%s id=%s event=%s serial=%s out_trade_no=%s handler=%s outcome=%s status=%s "
    "duration_ms=%s"
)


_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def log_safe(serial: str | None) -> str:
    """A sent serial as the log line shows it: at most 64 characters, none that split fields."""
    return _UNSAFE.sub("?", (serial or "").strip()[:64]) or "-"


class PayResult(NamedTuple):
    """The answer to one notification, and what its log line and metrics say of it."""

    status: int
    body: bytes
    # handled, duplicate, unhandled, handler-error, in-progress, no-handler, busy,
    # internal-error, or the name of the error that refused the request.
    outcome: str
    event_type: str = "-"
    notification_id: str = "-"
    serial: str = "-"
    out_trade_no: str = "-"
    handler: str = "-"
    handler_seconds: float | None = None
    reason: str = ""


class PayPipeline:
    """One merchant's notify URL."""

    def __init__(
        self,
        mch_id: str,
        apiv3_key: bytes,
        keys: PlatformKeys,
        runner: PayRunner,
        *,
        budget: float = 4.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.mch_id = mch_id
        self._apiv3_key = apiv3_key
        self.keys = keys
        self.runner = runner
        self.metrics: PayMetrics = runner.metrics
        self.budget = budget
        self.clock = clock

    def answer(self, header: Callable[[str], str | None], body: bytes) -> PayResult:
        """Answer a notification whose headers ``header`` reads (case-insensitively)."""
        arrived = self.clock()
        serial = log_safe(header("Wechatpay-Serial"))
        try:
            verify(read_headers(header), body, arrived, self.keys.find)
            notification = open_notification(body, self._apiv3_key)
        except ProtocolError as exc:
            return self.refused(exc, serial)
        rule = self.runner.router.match(notification)
        if rule is None:
            if not self.runner.router.rules:
                result = PayResult(503, fail_body(NO_HANDLER), "no-handler")
            else:
                result = PayResult(200, b"", "unhandled")
        else:
            try:
                result = self._run(rule, notification, body, arrived + self.budget)
            except LockTimeout:
                result = PayResult(503, fail_body(IN_PROGRESS), "busy", handler=rule.name)
        return result._replace(
            event_type=notification.event_type or "-",
            notification_id=notification.id or "-",
            serial=serial,
            out_trade_no=getattr(notification, "out_trade_no", "") or "-",
        )

    def _run(
        self, rule: PayRule, notification: PayNotification, body: bytes, deadline: float
    ) -> PayResult:
        # A notification without an id (never seen) is named by its body, which every copy
        # of it repeats.
        name = notification.id or "sha256:" + hashlib.sha256(body).hexdigest()[:32]
        ledger = Ledger(self.runner.store, self.mch_id, name)
        claim = ledger.claim()
        if claim.done:
            return PayResult(200, b"", "duplicate")
        if claim.token is None:  # another delivery's run is going on: wait for it
            done, _ = ledger.wait(None, deadline)
            if done:
                return PayResult(200, b"", "duplicate")
            return PayResult(503, fail_body(IN_PROGRESS), "in-progress", handler=rule.name)
        if notification.id != name:
            # The runner finds the records by the notification's id: give it its name.
            notification = replace(notification, id=name)
        future = self.runner.submit(rule, notification, claim.token)
        if future is None:  # a durable job: its result arrives in the store
            done, reason = ledger.wait(claim.token, deadline)
            if done:
                return PayResult(200, b"", "handled", handler=rule.name)
            if reason is not None:
                return PayResult(500, fail_body(reason), "handler-error", handler=rule.name)
            return PayResult(503, fail_body(IN_PROGRESS), "in-progress", handler=rule.name)
        try:
            ran = future.result(timeout=max(0.0, deadline - self.clock()))
        except FutureTimeout:
            return PayResult(503, fail_body(IN_PROGRESS), "in-progress", handler=rule.name)
        if ran.outcome == "handled":
            return PayResult(200, b"", "handled", handler=rule.name, handler_seconds=ran.seconds)
        if ran.outcome == "handler-error":
            return PayResult(
                500,
                fail_body(ran.reason),
                "handler-error",
                handler=rule.name,
                handler_seconds=ran.seconds,
                reason=ran.reason,
            )
        # Skipped: another run took the notification over between the claim and the start.
        done, _ = ledger.wait(None, deadline)
        if done:
            return PayResult(200, b"", "duplicate", handler=rule.name)
        return PayResult(503, fail_body(IN_PROGRESS), "in-progress", handler=rule.name)

    @staticmethod
    def refused(error: ProtocolError, serial: str = "-") -> PayResult:
        """The answer to a notification a check refused: its status and the FAIL JSON."""
        return PayResult(
            error.status,
            fail_body(str(error)),
            type(error).__name__,
            serial=serial,
            reason=str(error),
        )

    def record(self, result: PayResult, seconds: float) -> None:
        """Count one answered notification in the metrics and write its log line."""
        metrics = self.metrics
        metrics.notifications.labels(result.event_type, result.outcome).inc()
        metrics.seconds.observe(seconds)
        if result.status in (400, 401, 413):
            metrics.refused.labels(result.outcome).inc()
        level = logging.WARNING if result.status >= 400 else logging.INFO
        if not log.isEnabledFor(level):
            return
        values: tuple[object, ...] = (
            self.mch_id,
            result.notification_id,
            result.event_type,
            result.serial,
            result.out_trade_no,
            result.handler,
            result.outcome,
            result.status,
            round(seconds * 1000, 2),
        )
        if result.reason:
            log.log(level, _LINE + " reason=%r", *values, result.reason)
        else:
            log.log(level, _LINE, *values)
