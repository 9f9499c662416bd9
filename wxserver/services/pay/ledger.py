"""Exactly once per notification: the store records every delivery of one notification shares.

WeChat Pay sends a notification until it is answered 200, and may send it again after that; its
``id`` names it in every delivery. Under ``pay:<mch_id>:<id>:`` the store keeps:

- ``done``: the handler returned; kept 25 hours, past WeChat's last retry (about 24 hours after
  the first delivery), so a late copy is answered 200 without running the handler again;
- ``claim``: a token naming the one run in progress, a lease its runner renews; a runner that
  died stops renewing and the next delivery runs the handler again;
- ``failed:<token>``: why that run failed, for the delivery waiting for it (a minute).

Every change happens under the store's lock of the notification, so that of two deliveries, or a
delivery and a job that started late, exactly one runs the handler.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import NamedTuple

from wxserver.services.store import Store

__all__ = ["DONE_TTL", "LEASE", "Claim", "Ledger"]

# At least 25 hours: WeChat's retries span about 24 hours and a copy may follow a success.
DONE_TTL = 25 * 3600
# A run renews its claim every third of this; a claim this old belongs to a dead runner.
LEASE = 15.0
FAILED_TTL = 60.0
POLL = 0.05
_LOCK_TIMEOUT = 5.0
_LOCK_WAIT = 3.0


class Claim(NamedTuple):
    """What a delivery found: its own claim's token, or that the work is done or held."""

    token: str | None
    done: bool = False


class Ledger:
    """The records of one notification of one merchant."""

    __slots__ = ("_clock", "_prefix", "_sleep", "store")

    def __init__(
        self,
        store: Store,
        mch_id: str,
        notification_id: str,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.store = store
        self._prefix = f"pay:{mch_id}:{notification_id}:"
        self._clock = clock
        self._sleep = sleep

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with self.store.lock(self._prefix + "lock", timeout=_LOCK_TIMEOUT, wait=_LOCK_WAIT):
            yield

    def done(self) -> bool:
        """Whether a handler already returned for this notification."""
        return self.store.get(self._prefix + "done") is not None

    def claim(self) -> Claim:
        """Take the run for this delivery, unless it is done or another run holds it."""
        with self._locked():
            if self.done():
                return Claim(None, done=True)
            if self.store.get(self._prefix + "claim") is not None:
                return Claim(None)
            token = secrets.token_hex(8)
            self.store.set(self._prefix + "claim", token.encode(), ttl=LEASE)
            return Claim(token)

    def start(self, token: str) -> bool:
        """A runner begins the run ``token``: True unless it is done or another run took over.

        A job that waited in the queue past its lease finds the claim free, or taken by a later
        delivery's run; it runs only in the first case.
        """
        with self._locked():
            if self.done():
                return False
            held = self.store.get(self._prefix + "claim")
            if held is not None and held != token.encode():
                return False
            self.store.set(self._prefix + "claim", token.encode(), ttl=LEASE)
            return True

    def renew(self, token: str) -> bool:
        """Extend the lease of the run ``token``; False once it is not the claim any more."""
        with self._locked():
            if self.store.get(self._prefix + "claim") != token.encode():
                return False
            self.store.set(self._prefix + "claim", token.encode(), ttl=LEASE)
            return True

    def succeed(self, token: str) -> None:
        """The handler returned: every later delivery is answered 200 without running it."""
        with self._locked():
            self.store.set(self._prefix + "done", token.encode(), ttl=DONE_TTL)
            if self.store.get(self._prefix + "claim") == token.encode():
                self.store.delete(self._prefix + "claim")

    def fail(self, token: str, reason: str) -> None:
        """The handler raised: free the claim, so the next delivery runs it again."""
        with self._locked():
            if self.store.get(self._prefix + "claim") == token.encode():
                self.store.delete(self._prefix + "claim")
            self.store.set(self._prefix + f"failed:{token}", reason.encode(), ttl=FAILED_TTL)

    def failure(self, token: str) -> str | None:
        """Why the run ``token`` failed, or None when it did not (or not yet)."""
        found = self.store.get(self._prefix + f"failed:{token}")
        return None if found is None else found.decode("utf-8", "replace")

    def wait(self, token: str | None, until: float) -> tuple[bool, str | None]:
        """Poll until the work is done, run ``token`` failed, or the clock passes ``until``.

        Returns (done, why the run failed).
        """
        while True:
            if self.done():
                return True, None
            reason = self.failure(token) if token is not None else None
            if reason is not None or self._clock() >= until:
                return False, reason
            self._sleep(min(POLL, max(0.0, until - self._clock())))
