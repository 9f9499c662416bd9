"""The metrics of WeChat Pay notifications, in the app's registry beside the callback's."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

from wxserver.services.metrics import LATENCY_BUCKETS

__all__ = ["PayMetrics"]


class PayMetrics:
    """Notifications by event type and outcome, refusals, handler time and failures."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.notifications = Counter(
            "wxserver_pay_notifications",
            "WeChat Pay notifications answered, by event type and outcome (handled, duplicate, "
            "unhandled, handler-error, in-progress, no-handler, or the refusal's error).",
            ["event_type", "outcome"],
            registry=registry,
        )
        self.seconds = Histogram(
            "wxserver_pay_seconds",
            "Time from a notification's arrival to its answer.",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.refused = Counter(
            "wxserver_pay_refused",
            "Notifications refused, by the error (signature, serial, timestamp, decryption ...).",
            ["error"],
            registry=registry,
        )
        self.handler_seconds = Histogram(
            "wxserver_pay_handler_seconds",
            "Time spent in a pay handler, by handler.",
            ["handler"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.handler_errors = Counter(
            "wxserver_pay_handler_errors",
            "Pay handlers that raised (answered FAIL, so WeChat sends the notification again).",
            ["handler"],
            registry=registry,
        )
