"""Answering a message inside WeChat's 5 seconds: claim, dispatch once, wait, hold, or hand off.

``Answerer.answer`` is called for every copy of a message WeChat sends. The first copy claims the
message in the store and runs the handler (a Deferred goes to a job); every copy then waits, up to
the account's budget, for the reply in the store (see :mod:`wxserver.services.exchange`). When the
reply is not ready in time:

- ``retry``: the first two attempts are held past WeChat's timeout without an answer, so WeChat
  sends the message again and the next copy waits for the same work; the last attempt answers in
  time (the placeholder, or ``success``) and hands the reply to the customer-service API;
- ``customer-service``: every attempt answers in time and the reply goes out through the API.

An account without the customer-service API drops a reply that missed every attempt, with a
warning and a counter (see :mod:`wxserver.services.delivery`).
"""

from __future__ import annotations

import time
from typing import NamedTuple

from wxserver.protocol.messages import Message
from wxserver.protocol.replies import Deferred, Reply, TextReply
from wxserver.services.account import AccountServices
from wxserver.services.context import handler_context
from wxserver.services.delivery import Delivery, rendered
from wxserver.services.exchange import ATTEMPTS, Continuation, Exchange
from wxserver.services.jobs import Job, Jobs


class Answer(NamedTuple):
    """How one copy of a message was answered: the reply's body in the account's format (b"" for
    ``success``) and why."""

    xml: bytes
    # reply, success, late, held, handed-off, handler-error or reply-error.
    outcome: str
    handler: str = "-"
    handler_seconds: float | None = None
    duplicate: bool = False


class Answerer:
    """Answers the copies of one account's messages."""

    def __init__(self, services: AccountServices, delivery: Delivery, jobs: Jobs) -> None:
        self.services = services
        self.delivery = delivery
        self.jobs = jobs
        self._passive_only = delivery.passive_only

    def answer(self, message: Message, arrived: float) -> Answer:
        """Answer one copy of ``message``, which arrived at ``arrived`` (the clock's time)."""
        services = self.services
        exchange = services.exchange(message)
        arrival = exchange.arrive()
        deadline = arrived + services.account.reply_budget
        if not arrival.first:
            return self._await(exchange, message, arrived, arrival.attempt, arrival.first_seen)
        started = time.perf_counter()
        with handler_context(services.context(message)):
            dispatched = services.router.dispatch(message)
        seconds = time.perf_counter() - started
        handler = dispatched.handler or "-"
        reply = dispatched.reply
        if isinstance(reply, Deferred) and dispatched.error is None:
            self.jobs.submit(Job(services.name, message, reply))
            waited = self._await(
                exchange, message, arrived, 1, arrival.first_seen, placeholder=reply.placeholder
            )
            return waited._replace(handler=handler, handler_seconds=seconds)
        answer, xml, fault = rendered(services, dispatched, message)
        if self._passive_only and answer is not None and self.delivery.sends(answer):
            # A mini-program: the reply goes out through the customer-service API.
            return self._send_soon(exchange, message, answer, handler, seconds)
        if services.clock() > deadline:
            # Finished after the budget: the next copy, or the customer-service API, has it.
            self.delivery.settle(exchange, message, answer, xml)
            return Answer(b"", "late", handler, seconds)
        exchange.complete(xml)
        # No job will look for this reply, so there is nothing to mark as delivered.
        return Answer(xml, fault or ("reply" if xml else "success"), handler, seconds)

    def _send_soon(
        self, exchange: Exchange, message: Message, reply: Reply, handler: str, seconds: float
    ) -> Answer:
        self.delivery.send_soon(exchange, message, reply)
        return Answer(b"", "handed-off", handler, seconds)

    def _await(
        self,
        exchange: Exchange,
        message: Message,
        arrived: float,
        attempt: int,
        first_seen: float,
        *,
        placeholder: str | None = None,
    ) -> Answer:
        """Wait for the reply another copy or a job is making, within this copy's budget."""
        services = self.services
        duplicate = attempt > 1
        ready = exchange.wait(arrived + services.account.reply_budget)
        if ready is not None:
            if ready:
                exchange.mark_delivered()
            return Answer(ready, "reply" if ready else "success", duplicate=duplicate)
        # The last attempt by count, or by time (a copy lost on the way must not make the server
        # hold WeChat's last attempt too).
        last = attempt >= ATTEMPTS or arrived - first_seen >= 1.5 * services.wechat_timeout
        if services.account.continuation is Continuation.RETRY and not last:
            exchange.hold(arrived + services.wechat_timeout + 0.5)
            return Answer(b"", "held", duplicate=duplicate)
        exchange.hand_off()
        text = placeholder if placeholder is not None else services.account.placeholder
        xml = (
            services.render(TextReply(content=text), message, create_time=int(services.clock()))
            if text and not self._passive_only  # a mini-program has no passive text
            else b""
        )
        return Answer(xml, "handed-off", duplicate=duplicate)


__all__ = ["Answer", "Answerer"]
