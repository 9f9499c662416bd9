"""WeChat's 5-second contract: each message handled once, and its reply never lost.

WeChat waits 5 s for a passive reply, then sends the same message again: three attempts, at about
t, t+5 s and t+10 s. Every copy of a message meets the others in the store under its key
(ToUserName, FromUserName, MsgId; or CreateTime, Event and EventKey for events):

- ``claim``: the first copy to add it runs the handler (inline, or as a job); the others wait.
- ``result``: the rendered reply (plaintext XML; each copy seals it for its own response), or
  empty for ``success``. A copy that finds it inside its budget answers with it, every time:
  WeChat sending another copy means it did not receive the earlier answer.
- ``handoff``: set by the copy that answers without the reply when no copy will follow (the last
  attempt in ``retry`` mode, any attempt in ``customer-service`` mode). The worker that finishes
  the work then sends the reply through the customer-service API.
- ``delivered``: added by a copy that answered with the reply, and by the one sender of a
  customer-service message, so the user receives one answer, not two.
- ``started``, ``lease``: a job that began, and is alive. A watchdog re-runs a job whose worker
  died (its lease ran out before it wrote a result).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import StrEnum
from typing import NamedTuple

from wxserver.services.store import Store


class Continuation(StrEnum):
    """What an account does when a reply is not ready within the budget."""

    # Hold the first two attempts past WeChat's 5 s so it sends the message again, and answer the
    # last in time; for accounts without the customer-service API (up to ~14 s of work).
    RETRY = "retry"
    # Answer every attempt in time and send the reply through the customer-service API.
    CUSTOMER_SERVICE = "customer-service"


ATTEMPTS = 3
POLL = 0.05


class Arrival(NamedTuple):
    """One copy of a message as it arrives: which attempt, and whether it owns the work."""

    attempt: int
    first: bool
    first_seen: float


class Exchange:
    """The store records that the copies of one message share."""

    __slots__ = ("_clock", "_prefix", "_sleep", "store", "ttl")

    def __init__(
        self,
        store: Store,
        account: str,
        key: str,
        ttl: float,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.store = store
        self.ttl = ttl
        self._prefix = f"wx5s:{account}:{key}:"
        self._clock = clock
        self._sleep = sleep

    def _key(self, name: str) -> str:
        return self._prefix + name

    def arrive(self) -> Arrival:
        """Claim the work if no copy did before; otherwise count this copy (2, 3, ...).

        The first copy, nearly always the only one, costs one write: only later copies count.
        """
        now = self._clock()
        if self.store.add(self._key("claim"), repr(now).encode(), ttl=self.ttl):
            return Arrival(1, True, now)
        attempt = self.store.incr(self._key("copies"), ttl=self.ttl) + 1
        seen = self.store.get(self._key("claim"))
        return Arrival(attempt, False, float(seen) if seen else now)

    def result(self) -> bytes | None:
        """The finished reply (b"" for ``success``), or None while the work is running."""
        return self.store.get(self._key("result"))

    def complete(self, body: bytes) -> None:
        """Record the reply for every copy, present and future."""
        self.store.set(self._key("result"), body, ttl=self.ttl)

    def wait(self, until: float) -> bytes | None:
        """Poll for the reply until the clock passes ``until``."""
        while True:
            found = self.result()
            if found is not None or self._clock() >= until:
                return found
            self._sleep(min(POLL, max(0.0, until - self._clock())))

    def hold(self, until: float) -> None:
        """Keep the request open until ``until``, so WeChat gives up on it and sends a copy."""
        remaining = until - self._clock()
        if remaining > 0:
            self._sleep(remaining)

    def delivered(self) -> bool:
        """Whether the user already has the reply (passively, or as a customer-service message)."""
        return self.store.get(self._key("delivered")) is not None

    def mark_delivered(self) -> None:
        """A copy answered with the reply inside its budget."""
        self.store.set(self._key("delivered"), b"passive", ttl=self.ttl)

    def take_delivery(self) -> bool:
        """Claim the one customer-service delivery; False when the reply went out already."""
        return self.store.add(self._key("delivered"), b"customer-service", ttl=self.ttl)

    def hand_off(self) -> None:
        """No copy will take the reply passively any more: the worker must send it."""
        self.store.set(self._key("handoff"), b"1", ttl=self.ttl)

    def handed_off(self) -> bool:
        """Whether a copy handed the delivery to the worker."""
        return self.store.get(self._key("handoff")) is not None

    # --- the job's side -------------------------------------------------------------------------

    def start(self, lease: float) -> int:
        """A worker begins the work; returns how many times it was begun (re-runs included)."""
        self.renew(lease)
        return self.store.incr(self._key("started"), ttl=self.ttl)

    def started(self) -> bool:
        """Whether a worker began the work."""
        return self.store.get(self._key("started")) is not None

    def renew(self, lease: float) -> None:
        """The worker is alive; without renewal the lease runs out ``lease`` seconds from now."""
        self.store.set(self._key("lease"), b"1", ttl=lease)

    def alive(self) -> bool:
        """Whether the worker running the work renewed its lease recently."""
        return self.store.get(self._key("lease")) is not None

    def settle(self, body: bytes, *, grace: float) -> bool:
        """Record the reply; return True when the caller must send it as a customer-service message.

        When no copy has handed off, a copy may still be on its way (the next attempt arrives
        within ``grace``) and will answer passively; only if none takes it in that time does the
        worker send it.
        """
        self.complete(body)
        if not body:
            return False
        deadline = self._clock() + grace
        while not self.handed_off() and not self.delivered() and self._clock() < deadline:
            self._sleep(POLL)
        if self.delivered():
            return False
        return self.take_delivery()
