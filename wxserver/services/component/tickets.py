"""The component_verify_ticket WeChat pushes every 10 minutes, kept in the shared store.

Every process and machine reads the same ticket, and a restart loses nothing: the ticket is valid
12 hours, and a component without one cannot fetch its component_access_token, so nothing of its
authorizers works until WeChat pushes the next one (up to 10 minutes later).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from wxserver.services.store import Store

# How long a ticket is valid after WeChat pushed it.
TICKET_LIFETIME = 12 * 3600.0


@dataclass(frozen=True, slots=True)
class Ticket:
    """A ticket and when it arrived (seconds on the server's clock)."""

    value: str = field(repr=False)
    received_at: float


class TicketBox:
    """One component's ticket in the store, at ``component:<app_id>:ticket``."""

    def __init__(
        self, store: Store, component: str, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.store = store
        self.key = f"component:{component}:ticket"
        self._clock = clock

    def keep(self, ticket: str) -> None:
        """Keep the ticket WeChat has just pushed, for its 12 hours."""
        record = {"ticket": ticket, "at": self._clock()}
        self.store.set(self.key, json.dumps(record).encode(), ttl=TICKET_LIFETIME)

    def read(self) -> Ticket | None:
        """The ticket held, or None."""
        raw = self.store.get(self.key)
        if raw is None:
            return None
        try:
            record = json.loads(raw)
            return Ticket(str(record["ticket"]), float(record["at"]))
        except (ValueError, KeyError, TypeError):
            return None

    def current(self) -> str | None:
        """The ticket's text, or None."""
        ticket = self.read()
        return None if ticket is None else ticket.value

    def age(self) -> float | None:
        """Seconds since the last push, or None without a ticket."""
        ticket = self.read()
        return None if ticket is None else self._clock() - ticket.received_at
