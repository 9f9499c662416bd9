"""What the Open Platform console alarms on, recorded in the store for ``wxserver doctor``.

The console names two component alarms: the component_verify_ticket push timed out or failed
(推送component_verify_ticket超时/失败), and a push to the message URL timed out or failed
(推送第三方平台消息超时/失败). From this side they show as a ticket older than 20 minutes (WeChat
pushes every 10), a push to the authorization-event URL that was refused, and an authorizer's
message that was refused or answered with a fault. The metrics count them per process; here each
kind keeps, across processes, how many happened in the last day and the last one's reason.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass

from wxserver.services.store import Store

DAY = 86400.0
# No ticket push for this long means two pushes in a row were missed.
TICKET_STALE = 20 * 60.0
REFUSED_PUSH = "refused-push"
MESSAGE_FAILURE = "message-failure"


@dataclass(frozen=True, slots=True)
class Tally:
    """How often something went wrong in the last day, and the last time and reason."""

    count: int
    last_at: float
    last_reason: str


class Alarms:
    """One component's alarm records."""

    def __init__(
        self, store: Store, component: str, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.store = store
        self._prefix = f"component:{component}:alarm:"
        self._clock = clock

    def record(self, kind: str, reason: str) -> None:
        """Count one ``kind`` of failure (REFUSED_PUSH, MESSAGE_FAILURE) and keep its reason."""
        self.store.incr(f"{self._prefix}{kind}:count", ttl=DAY)
        last = {"at": self._clock(), "reason": reason[:300]}
        self.store.set(f"{self._prefix}{kind}:last", json.dumps(last).encode(), ttl=DAY)

    def tally(self, kind: str) -> Tally | None:
        """The failures of ``kind`` in the last day; None when there were none."""
        count = self.store.get(f"{self._prefix}{kind}:count")
        raw = self.store.get(f"{self._prefix}{kind}:last")
        if count is None or raw is None:
            return None
        try:
            last = json.loads(raw)
            return Tally(int(count), float(last["at"]), str(last["reason"]))
        except (ValueError, KeyError, TypeError):
            return None
