"""Prometheus metrics: what an operator needs to see a problem before WeChat's alarm does.

Each app owns its metrics in its own registry (no module-level state, so tests can build many
apps). Under gunicorn, ``wxserver/web/gunicorn_conf.py`` sets ``PROMETHEUS_MULTIPROC_DIR`` and
prometheus-client's multiprocess mode sums every worker's values at scrape time.

The MP console's alarm categories (接口报警), and what shows each one coming from this side:

============================  =====================================================================
MP console alarm              metric to alert on
============================  =====================================================================
请求超时 (request timeout)    ``wxserver_alarm_signals_total{category="request_timeout"}``: a reply
                              that left after WeChat's 5 s; ``wxserver_request_seconds`` near 5 s
回应不合法 (invalid response) ``wxserver_alarm_signals_total{category="invalid_response"}``: a 5xx,
                              or a handler reply that could not be rendered (answered success)
连接超时 (connect timeout)    ``wxserver_inflight_requests`` near workers x threads: new
                              connections queue; ``wxserver_callback_check_ok{check="ping"}`` 0
DNS失败 (DNS failure)         ``wxserver_callback_check_ok{check="dns"}`` 0: WeChat's hourly check
                              of the callback URL (wxserver.netcheck) could not resolve it
MarkFail (自动屏蔽)           follows the three above; alert on any of them, not on this one
component ticket push         ``wxserver_component_ticket_age_seconds`` over 1200 (two pushes
(推送component_verify_ticket   missed) or -1 (none held); ``wxserver_component_tickets_total``
超时/失败)                    ``{result="refused"}``: pushes the component's checks refused
component message push        ``wxserver_authorizer_message_failures_total``: authorizers'
(推送第三方平台消息超时/失败)  messages refused, answered late or with a fault
============================  =====================================================================
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Protocol

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    values,
)

from wxserver.protocol.errors import CryptoError, ProtocolError, SignatureError, XmlError
from wxserver.services import forks

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
# WeChat waits 5 s; the buckets are dense where a reply turns from fine into a retry.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 4, 4.5, 5, 10, 30)
WECHAT_DEADLINE = 5.0


def refusal_stage(error: ProtocolError) -> str:
    """Which check refused a request: signature, decrypt, parse, or request (anything else)."""
    if isinstance(error, SignatureError):
        return "signature"
    if isinstance(error, CryptoError):
        return "decrypt"
    if isinstance(error, XmlError):
        return "parse"
    return "request"


# prometheus-client's multiprocess values ask the kernel for the pid on every write, to notice a
# fork: seven system calls a request. The same check, with the pid a fork hook keeps.
_fork_aware: object = None


def _use_fork_aware_values() -> None:
    """In multiprocess mode, make the metrics created from now on check the pid without a call."""
    global _fork_aware  # noqa: PLW0603 - one value class for the process
    if values.ValueClass is values.MutexValue or values.ValueClass is _fork_aware:
        return
    values.ValueClass = _fork_aware = values.MultiProcessValue(  # type: ignore[no-untyped-call]
        process_identifier=forks.current_pid
    )


class Metrics:
    """The metrics of one app."""

    def __init__(
        self, registry: CollectorRegistry | None = None, environ: Mapping[str, str] | None = None
    ) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        # Decided once, as the app is built: gunicorn's config file sets the folder before that.
        self.multiprocess_dir = (os.environ if environ is None else environ).get(MULTIPROCESS_ENV)
        if self.multiprocess_dir:
            # gunicorn's settings name the folder; the first app to use it makes it.
            os.makedirs(self.multiprocess_dir, exist_ok=True)
            _use_fork_aware_values()
        r = self.registry
        self.requests = Counter(
            "wxserver_requests",
            "Callback requests by account, mode, message type and outcome.",
            ["account", "method", "mode", "type", "outcome"],
            registry=r,
        )
        self.request_seconds = Histogram(
            "wxserver_request_seconds",
            "Time from the request's arrival to its response, by account.",
            ["account"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.handler_seconds = Histogram(
            "wxserver_handler_seconds",
            "Time spent in the handler that answered, by account and handler.",
            ["account", "handler"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.refused = Counter(
            "wxserver_refused",
            "Requests refused, by the check that refused them (signature, decrypt, parse, "
            "request) and the error.",
            ["account", "stage", "error"],
            registry=r,
        )
        self.duplicates = Counter(
            "wxserver_duplicates",
            "Copies of a message already received (WeChat's retries).",
            ["account"],
            registry=r,
        )
        self.late_replies = Counter(
            "wxserver_late_replies",
            "Replies ready later than the account's reply budget.",
            ["account"],
            registry=r,
        )
        self.dropped_replies = Counter(
            "wxserver_dropped_replies",
            "Replies that missed every attempt and could not go out as customer-service "
            "messages, by reason (no-api, api-error).",
            ["account", "reason"],
            registry=r,
        )
        self.handler_errors = Counter(
            "wxserver_handler_errors",
            "Handlers that raised or returned an unusable reply (answered success).",
            ["account", "handler"],
            registry=r,
        )
        self.alarm_signals = Counter(
            "wxserver_alarm_signals",
            "Events that lead to an MP console alarm, by alarm category.",
            ["account", "category"],
            registry=r,
        )
        self.inflight = Gauge(
            "wxserver_inflight_requests",
            "Callback requests being handled right now, over all workers.",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.token_refreshes = Counter(
            "wxserver_token_refreshes",
            "Fetches of an access_token or jsapi_ticket from WeChat, by result.",
            ["app_id", "credential", "result"],
            registry=r,
        )
        self.api_errors = Counter(
            "wxserver_api_errors",
            "WeChat API calls that returned an errcode, by errcode.",
            ["app_id", "errcode"],
            registry=r,
        )
        self.allowlist_events = Counter(
            "wxserver_callback_allowlist_events",
            "Callback IP list refreshes (refreshed, refresh_failed) and requests let through "
            "unchecked for want of a list (fail_open).",
            ["event"],
            registry=r,
        )
        self.store_degraded = Gauge(
            "wxserver_store_degraded",
            "1 while the shared store cannot be reached and this machine's store stands in.",
            registry=r,
            # The state a worker saw last: a worker with no request since the outage ended must
            # not keep it alive.
            multiprocess_mode="livemostrecent",
        )
        self.store_outages = Counter(
            "wxserver_store_outages",
            "Times a worker found the shared store unreachable and fell back to this machine's.",
            registry=r,
        )
        self.callback_check = Gauge(
            "wxserver_callback_check_ok",
            "1 when WeChat's last network check of the callback URL passed, else 0.",
            ["app_id", "check"],
            registry=r,
            multiprocess_mode="mostrecent",
        )

        # An Open Platform component's alarms (see wxserver.services.component.alarms).
        self.component_tickets = Counter(
            "wxserver_component_tickets",
            "Pushes to a component's authorization-event URL: tickets stored, and pushes "
            "refused (signature, decryption, or a ticket push without a ticket).",
            ["component", "result"],
            registry=r,
        )
        self.component_ticket_age = Gauge(
            "wxserver_component_ticket_age_seconds",
            "Seconds since the last component_verify_ticket push (-1: none held); WeChat pushes "
            "every 10 minutes, so over 1200 means two pushes were missed.",
            ["component"],
            registry=r,
            multiprocess_mode="mostrecent",
        )
        self.authorizer_failures = Counter(
            "wxserver_authorizer_message_failures",
            "Authorizers' messages refused or answered with a fault, by reason.",
            ["component", "reason"],
            registry=r,
        )

    def store_state(self, degraded: bool) -> None:
        """Record the start (True) or the end (False) of a shared-store outage."""
        self.store_degraded.set(int(degraded))
        if degraded:
            self.store_outages.inc()

    def meter(self, account: str) -> AccountMeter:
        """The request metrics of ``account``, for its callback route."""
        return AccountMeter(self, account)

    def exposition(self) -> bytes:
        """The text format for a scrape: every worker's values in multiprocess mode."""
        if self.multiprocess_dir:
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return generate_latest(registry)
        return generate_latest(self.registry)


class RequestFacts(Protocol):
    """What the metrics read from a request's outcome."""

    @property
    def mode(self) -> str: ...
    @property
    def msg_type(self) -> str: ...
    @property
    def handler(self) -> str: ...
    @property
    def outcome(self) -> str: ...
    @property
    def handler_seconds(self) -> float | None: ...
    @property
    def duplicate(self) -> bool: ...


class AccountMeter:
    """One account's callback metrics, each labelled series looked up once, not per request.

    prometheus-client's ``labels()`` validates and locks on every call; a request touches three
    to five series, so the children are kept here by their label values. The sets stay small:
    methods, modes, message types, outcomes and handler names.
    """

    def __init__(self, metrics: Metrics, account: str) -> None:
        self._metrics = metrics
        self.account = account
        self._request_seconds = metrics.request_seconds.labels(account)
        self._requests: dict[tuple[str, str, str, str], Counter] = {}
        self._handler_seconds: dict[str, Histogram] = {}

    def request(
        self,
        method: str,
        facts: RequestFacts,
        seconds: float,
        *,
        error: ProtocolError | None = None,
        late: bool = False,
    ) -> None:
        """Count one callback request that took ``seconds``."""
        key = (method, facts.mode, facts.msg_type, facts.outcome)
        requests = self._requests.get(key)
        if requests is None:
            requests = self._requests[key] = self._metrics.requests.labels(self.account, *key)
        requests.inc()
        self._request_seconds.observe(seconds)
        if facts.handler_seconds is not None:
            handler = self._handler_seconds.get(facts.handler)
            if handler is None:
                handler = self._metrics.handler_seconds.labels(self.account, facts.handler)
                self._handler_seconds[facts.handler] = handler
            handler.observe(facts.handler_seconds)
        if (
            error is not None
            or facts.duplicate
            or late
            or seconds >= WECHAT_DEADLINE
            or facts.outcome in _FAULTS
        ):
            self._rare(facts, seconds, error=error, late=late)

    def _rare(
        self, facts: RequestFacts, seconds: float, *, error: ProtocolError | None, late: bool
    ) -> None:
        # Refusals, retries and faults: looked up through labels() each time, as they are rare.
        m, account = self._metrics, self.account
        if error is not None:
            m.refused.labels(account, refusal_stage(error), type(error).__name__).inc()
        if facts.duplicate:
            m.duplicates.labels(account).inc()
        if facts.outcome in _HANDLER_FAULTS:
            m.handler_errors.labels(account, facts.handler).inc()
            m.alarm_signals.labels(account, "invalid_response").inc()
        elif facts.outcome == INTERNAL_ERROR:
            m.alarm_signals.labels(account, "invalid_response").inc()
        if late:
            m.late_replies.labels(account).inc()
        if seconds >= WECHAT_DEADLINE:
            m.alarm_signals.labels(account, "request_timeout").inc()


# Outcomes that WeChat sees as a faulty answer: a handler's (answered success) or ours (a 500).
_HANDLER_FAULTS = frozenset({"handler-error", "reply-error"})
INTERNAL_ERROR = "internal-error"
_FAULTS = _HANDLER_FAULTS | {INTERNAL_ERROR}
