"""Answering a message inside WeChat's 5 seconds: dispatch once, wait, hold, or hand off.

``Answerer.answer`` is called for every copy of a message WeChat sends. The first copy runs the
handler (a Deferred goes to a job); every copy then waits, up to the account's budget, for the
reply in the store (see :mod:`wxserver.deferred`). When the reply is not ready in time:

- ``retry``: the first two attempts are held past WeChat's timeout without an answer, so WeChat
  sends the message again and the next copy waits for the same work; the last attempt answers in
  time (the placeholder, or ``success``) and hands the reply to the customer-service API;
- ``customer-service``: every attempt answers in time and the reply goes out through the API.

An account without the customer-service API drops a reply that missed every attempt, with a
warning and a counter.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from wxserver.api import WeChatAPI
from wxserver.api_errors import ApiError, ApiUnavailableError
from wxserver.context import HandlerContext, handler_context
from wxserver.deferred import ATTEMPTS, Continuation, Exchange
from wxserver.errors import ReplyError
from wxserver.jobs import LEASE, Job, Jobs
from wxserver.messages import EventMessage, Message, NormalMessage
from wxserver.metrics import Metrics
from wxserver.parsing import parse_xml
from wxserver.replies import SUCCESS, Deferred, NoReply, TextReply, render
from wxserver.routing import Dispatched, Router
from wxserver.sessions import SessionStore
from wxserver.settings import Account
from wxserver.store import Store

log = logging.getLogger("wxserver.handler")

XML = "application/xml"
TEXT = "text/plain; charset=utf-8"
# How long a finished reply waits for the next copy of its message before going out as a
# customer-service message: the gap between one attempt's budget and the next attempt.
GRACE = 2.0


@dataclass(slots=True)
class Outcome:
    """The response to send and what the request log line says about it."""

    body: bytes
    content_type: str
    mode: str = "-"
    msg_type: str = "-"
    event: str = "-"
    event_key: str = "-"
    msg_id: str = "-"
    handler: str = "-"
    outcome: str = "-"
    reason: str = ""
    handler_seconds: float | None = None
    duplicate: bool = False
    attempt: int = 0


class Answerer:
    """Answers the copies of one account's messages."""

    def __init__(
        self,
        account: Account,
        router: Router,
        store: Store,
        *,
        api: WeChatAPI | None,
        jobs: Callable[[], Jobs],
        metrics: Metrics | None = None,
        wechat_timeout: float = 5.0,
        dedup_ttl: float = 300.0,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.account = account
        self.router = router
        self.store = store
        self.api = api
        self.sessions = SessionStore(store)
        self._jobs = jobs
        self.metrics = metrics
        self.wechat_timeout = wechat_timeout
        self.dedup_ttl = dedup_ttl
        self.clock = clock
        self.sleep = sleep

    def exchange(self, message: Message) -> Exchange:
        """The store records shared by the copies of ``message``."""
        return Exchange(
            self.store,
            self.account.name,
            message.key,
            self.dedup_ttl,
            clock=self.clock,
            sleep=self.sleep,
        )

    def context(self, message: Message) -> HandlerContext:
        """What the handlers of ``message`` can reach."""
        return HandlerContext(
            account=self.account,
            message=message,
            store=self.store,
            sessions=self.sessions,
            api=self.api,
        )

    # --- the request's side ---------------------------------------------------------------------

    def answer(self, message: Message, mode: str, arrived: float) -> Outcome:
        """Answer one copy of ``message``, which arrived at ``arrived`` (the clock's time)."""
        outcome = _describe(message, mode)
        exchange = self.exchange(message)
        arrival = exchange.arrive()
        outcome.duplicate = not arrival.first
        outcome.attempt = arrival.attempt
        deadline = arrived + self.account.reply_budget
        placeholder: str | None = None
        if arrival.first:
            started = time.perf_counter()
            with handler_context(self.context(message)):
                dispatched = self.router.dispatch(message)
            outcome.handler_seconds = time.perf_counter() - started
            outcome.handler = dispatched.handler or "-"
            if isinstance(dispatched.reply, Deferred) and dispatched.error is None:
                placeholder = dispatched.reply.placeholder
                self._jobs().submit(Job(self.account.name, message, dispatched.reply))
            else:
                body = self._body(dispatched, message, outcome)
                if self.clock() <= deadline:
                    exchange.complete(body)
                    # No job will look for this reply, so nothing to mark as delivered.
                    return self._respond(outcome, exchange, body, mark=False)
                # Finished after the budget: the next copy, or the customer-service API, has it.
                self._settle(exchange, message, body)
                outcome.outcome = "late"
                return outcome
        ready = exchange.wait(deadline)
        if ready is not None:
            return self._respond(outcome, exchange, ready)
        return self._not_ready(
            outcome,
            exchange=exchange,
            message=message,
            first_seen=arrival.first_seen,
            arrived=arrived,
            placeholder=placeholder,
        )

    def _respond(
        self, outcome: Outcome, exchange: Exchange, body: bytes, *, mark: bool = True
    ) -> Outcome:
        if body and mark:
            exchange.mark_delivered()
        if body:
            outcome.body, outcome.content_type = body, XML
            if outcome.outcome == "-":
                outcome.outcome = "reply"
        elif outcome.outcome == "-":
            outcome.outcome = "success"
        return outcome

    def _not_ready(
        self,
        outcome: Outcome,
        *,
        exchange: Exchange,
        message: Message,
        first_seen: float,
        arrived: float,
        placeholder: str | None,
    ) -> Outcome:
        # The last attempt by count, or by time (a copy lost on the way must not make the server
        # hold WeChat's last attempt too).
        last = outcome.attempt >= ATTEMPTS or arrived - first_seen >= 1.5 * self.wechat_timeout
        if self.account.continuation is Continuation.RETRY and not last:
            outcome.outcome = "held"
            exchange.hold(arrived + self.wechat_timeout + 0.5)
            return outcome
        exchange.hand_off()
        text = placeholder if placeholder is not None else self.account.placeholder
        outcome.outcome = "handed-off"
        if text:
            outcome.body = render(TextReply(content=text), message, create_time=int(self.clock()))
            outcome.content_type = XML
        return outcome

    def _body(self, dispatched: Dispatched, message: Message, outcome: Outcome) -> bytes:
        """The rendered reply of a dispatch; b"" (success) for no reply or a handler's fault."""
        if dispatched.error is not None:
            log.error(
                "handler %s raised %s: %s (account=%s msg_id=%s key=%s); answered success",
                dispatched.handler,
                type(dispatched.error).__name__,
                dispatched.error,
                self.account.name,
                outcome.msg_id,
                message.key,
                exc_info=dispatched.error,
            )
            outcome.outcome = "handler-error"
            return b""
        reply = dispatched.reply
        if isinstance(reply, NoReply | Deferred):
            return b""
        try:
            return render(reply, message, create_time=int(self.clock()))
        except ReplyError as exc:
            log.error(
                "handler %s returned a reply WeChat would not deliver (account=%s msg_id=%s): %s",
                dispatched.handler,
                self.account.name,
                outcome.msg_id,
                exc,
            )
            outcome.outcome = "reply-error"
            return b""

    # --- the job's side -------------------------------------------------------------------------

    def finish(self, job: Job) -> None:
        """Do a deferred message's work (in the job worker) and deliver the reply."""
        message = job.message
        exchange = self.exchange(message)
        runs = exchange.start(LEASE)
        outcome = _describe(message, "job")
        stop = threading.Event()
        beat = threading.Thread(target=_heartbeat, args=(exchange, stop), daemon=True)
        beat.start()
        try:
            started = time.perf_counter()
            with handler_context(self.context(message)):
                dispatched = self.router.finish(job.deferred, message)
            seconds = time.perf_counter() - started
            body = self._body(dispatched, message, outcome)
        finally:
            stop.set()
        log.info(
            "job account=%s key=%s handler=%s run=%d duration_ms=%.1f outcome=%s",
            self.account.name,
            message.key,
            dispatched.handler,
            runs,
            seconds * 1000,
            outcome.outcome if outcome.outcome != "-" else ("reply" if body else "success"),
        )
        if self.metrics is not None and dispatched.handler:
            self.metrics.handler_seconds.labels(self.account.name, dispatched.handler).observe(
                seconds
            )
        self._settle(exchange, message, body)

    def watch(self, job: Job) -> bool | None:
        """The job's state for the watchdog: done, running (or queued), or dead."""
        exchange = self.exchange(job.message)
        if exchange.result() is not None:
            return True
        if not exchange.started() or exchange.alive():
            return False
        return None

    def _settle(self, exchange: Exchange, message: Message, body: bytes) -> None:
        if not exchange.settle(body, grace=GRACE):
            return
        if self.api is None:
            log.warning(
                "reply to %s was ready after every attempt and account %s has no "
                "customer-service API (no AppSecret); dropped",
                message.key,
                self.account.name,
            )
            if self.metrics is not None:
                self.metrics.dropped_replies.labels(self.account.name, "no-api").inc()
            return
        try:
            send_customer_service(self.api, message.from_user_name, body)
        except (ApiError, ApiUnavailableError, ReplyError) as exc:
            log.warning("customer-service reply to %s failed: %s", message.key, exc)
            if self.metrics is not None:
                self.metrics.dropped_replies.labels(self.account.name, "api-error").inc()
            return
        log.info("reply to %s sent as a customer-service message", message.key)


def _heartbeat(exchange: Exchange, stop: threading.Event) -> None:
    while not stop.wait(LEASE / 3):
        exchange.renew(LEASE)


def _describe(message: Message, mode: str) -> Outcome:
    outcome = Outcome(SUCCESS, TEXT, mode=mode, msg_type=message.msg_type)
    if isinstance(message, EventMessage):
        outcome.event = message.event
        outcome.event_key = message.event_key or "-"
    if isinstance(message, NormalMessage) and message.msg_id is not None:
        outcome.msg_id = str(message.msg_id)
    return outcome


def send_customer_service(api: WeChatAPI, openid: str, body: bytes) -> None:
    """Send a rendered passive reply as the equivalent customer-service message."""
    fields = parse_xml(body)
    kind = str(fields.get("MsgType", ""))
    inner = fields.get(kind.capitalize(), {})
    media = str(inner.get("MediaId", "")) if isinstance(inner, dict) else ""
    if kind == "text":
        api.send_text(openid, str(fields.get("Content", "")))
    elif kind in ("image", "voice"):
        (api.send_image if kind == "image" else api.send_voice)(openid, media)
    elif kind == "news":
        item = fields["Articles"]["item"][0]
        api.send_news(
            openid,
            title=str(item.get("Title", "")),
            description=str(item.get("Description", "")),
            url=str(item.get("Url", "")),
            pic_url=str(item.get("PicUrl", "")),
        )
    else:
        raise ReplyError(f"a {kind} reply cannot be sent as a customer-service message")


__all__ = ["GRACE", "TEXT", "XML", "Answerer", "Outcome", "send_customer_service"]
