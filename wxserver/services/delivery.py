"""Replies that miss their request: a job's work, and a late reply, delivered exactly once.

A reply ready after its request was answered is recorded for the next copy of the message
(WeChat sends one about 5 s after the last), and sent as a customer-service message when no copy
will take it: the one sender claims ``delivered`` first, so the user receives one answer. The
reply travels as its :class:`~wxserver.protocol.replies.Reply` value to the API call; only the
copy for a passive answer is rendered.
"""

from __future__ import annotations

import logging
import threading
import time

from wxserver.protocol.api_errors import ApiError, ApiUnavailableError
from wxserver.protocol.callback import Kind
from wxserver.protocol.errors import ReplyError
from wxserver.protocol.messages import Message, facts
from wxserver.protocol.replies import (
    Deferred,
    ImageReply,
    MusicReply,
    NewsReply,
    NoReply,
    Reply,
    TextReply,
    TransferCustomerServiceReply,
    VoiceReply,
)
from wxserver.protocol.routing import Dispatched
from wxserver.services.account import AccountServices
from wxserver.services.api.client import WeChatAPI
from wxserver.services.background import Background
from wxserver.services.context import handler_context
from wxserver.services.exchange import Exchange
from wxserver.services.jobs import LEASE, Job

log = logging.getLogger("wxserver.handler")

# How long a finished reply waits for the next copy of its message before going out as a
# customer-service message: the gap between one attempt's budget and the next attempt.
GRACE = 2.0


# A dispatch's reply, its passive XML (b"" answers ``success``), and the fault that made it
# empty ("handler-error" or "reply-error"), if any. A plain tuple, unpacked where it is made:
# one is made per message.
Rendered = tuple[Reply | None, bytes, str | None]
NOTHING: Rendered = (None, b"", None)


def rendered(services: AccountServices, dispatched: Dispatched, message: Message) -> Rendered:
    """The reply of a dispatch, rendered; nothing (``success``) for no reply or a fault."""
    if dispatched.error is not None:
        log.error(
            "handler %s raised %s: %s (account=%s msg_id=%s key=%s); answered success",
            dispatched.handler,
            type(dispatched.error).__name__,
            dispatched.error,
            services.name,
            facts(message)[3],
            message.key,
            exc_info=dispatched.error,
        )
        return (None, b"", "handler-error")
    reply = dispatched.reply
    if isinstance(reply, NoReply | Deferred):
        return NOTHING
    try:
        return (reply, services.render(reply, message, create_time=int(services.clock())), None)
    except ReplyError as exc:
        log.error(
            "handler %s returned a reply WeChat would not deliver (account=%s msg_id=%s): %s",
            dispatched.handler,
            services.name,
            facts(message)[3],
            exc,
        )
        return (None, b"", "reply-error")


def send_reply(api: WeChatAPI, openid: str, reply: Reply) -> None:
    """Send a passive reply as the equivalent customer-service message."""
    if isinstance(reply, TextReply):
        api.send_text(openid, reply.content)
    elif isinstance(reply, ImageReply):
        api.send_image(openid, reply.media_id)
    elif isinstance(reply, VoiceReply):
        api.send_voice(openid, reply.media_id)
    elif isinstance(reply, NewsReply):
        article = reply.articles[0]
        api.send_news(
            openid,
            title=article.title,
            description=article.description or "",
            url=article.url or "",
            pic_url=article.pic_url or "",
        )
    elif isinstance(reply, MusicReply):
        api.send_music(
            openid,
            title=reply.title or "",
            description=reply.description or "",
            music_url=reply.music_url or "",
            hq_music_url=reply.hq_music_url or "",
            thumb_media_id=reply.thumb_media_id,
        )
    else:
        # A video needs a thumbnail the passive reply lacks; a transfer has no message form.
        raise ReplyError(f"a {reply.msg_type} reply cannot be sent as a customer-service message")


class Delivery:
    """One account's late replies: settled for the next copy, or sent through the API.

    A mini-program has no passive reply but transfer_customer_service: every other reply of its
    handlers goes out through the customer-service API (see :meth:`send_soon`), and every copy
    of the message is answered ``success``.
    """

    def __init__(self, services: AccountServices, background: Background | None = None) -> None:
        self.services = services
        self.background = background or Background(workers=1)
        self.passive_only = services.account.kind is Kind.MINIPROGRAM

    def sends(self, reply: Reply | None) -> bool:
        """Whether ``reply`` goes out through the API rather than passively (mini-programs)."""
        return (
            self.passive_only
            and reply is not None
            and not isinstance(reply, TransferCustomerServiceReply)
        )

    def settle(self, exchange: Exchange, message: Message, reply: Reply | None, xml: bytes) -> None:
        """Record a reply that missed its request; send it if no copy of the message will."""
        if self.sends(reply):
            exchange.complete(b"")
            if exchange.take_delivery() and reply is not None:
                self.send(message, reply)
            return
        if not exchange.settle(xml, grace=GRACE) or reply is None:
            return
        self.send(message, reply)

    def send_soon(self, exchange: Exchange, message: Message, reply: Reply) -> None:
        """Answer every copy ``success`` and send ``reply`` through the API, off the request."""
        exchange.complete(b"")
        self.background.submit(self._send_once, exchange, message, reply)

    def _send_once(self, exchange: Exchange, message: Message, reply: Reply) -> None:
        if exchange.take_delivery():
            self.send(message, reply)

    def send(self, message: Message, reply: Reply) -> None:
        """Send ``reply`` to the sender of ``message`` as a customer-service message."""
        services = self.services
        metrics = services.metrics
        api = services.api_for(message)
        if api is None:
            log.warning(
                "reply to %s %s and account %s has no customer-service API (no AppSecret); dropped",
                message.key,
                "cannot be passive (a mini-program)"
                if self.passive_only
                else "was ready after every attempt",
                services.name,
            )
            if metrics is not None:
                metrics.dropped_replies.labels(services.name, "no-api").inc()
            return
        try:
            send_reply(api, message.from_user_name, reply)
        except (ApiError, ApiUnavailableError, ReplyError) as exc:
            log.warning("customer-service reply to %s failed: %s", message.key, exc)
            if metrics is not None:
                metrics.dropped_replies.labels(services.name, "api-error").inc()
            return
        log.info("reply to %s sent as a customer-service message", message.key)

    # --- the job's side -------------------------------------------------------------------------

    def finish(self, job: Job) -> None:
        """Do a deferred message's work (in the job worker) and deliver the reply."""
        services = self.services
        message = job.message
        exchange = services.exchange(message)
        runs = exchange.start(LEASE)
        stop = threading.Event()
        beat = threading.Thread(target=_heartbeat, args=(exchange, stop), daemon=True)
        beat.start()
        try:
            started = time.perf_counter()
            with handler_context(services.context(message)):
                dispatched = services.router.finish(job.deferred, message)
            seconds = time.perf_counter() - started
            reply, xml, fault = rendered(services, dispatched, message)
        finally:
            stop.set()
        log.info(
            "job account=%s key=%s handler=%s run=%d duration_ms=%.1f outcome=%s",
            services.name,
            message.key,
            dispatched.handler,
            runs,
            seconds * 1000,
            fault or ("reply" if xml else "success"),
        )
        if services.metrics is not None and dispatched.handler:
            services.metrics.handler_seconds.labels(services.name, dispatched.handler).observe(
                seconds
            )
        self.settle(exchange, message, reply, xml)

    def watch(self, job: Job) -> bool | None:
        """The job's state for the watchdog: done, running (or queued), or dead."""
        exchange = self.services.exchange(job.message)
        if exchange.result() is not None:
            return True
        if not exchange.started() or exchange.alive():
            return False
        return None


def _heartbeat(exchange: Exchange, stop: threading.Event) -> None:
    while not stop.wait(LEASE / 3):
        exchange.renew(LEASE)


__all__ = ["GRACE", "Delivery", "Rendered", "rendered", "send_reply"]
