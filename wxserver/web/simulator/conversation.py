"""The conversation the page shows: every message of the user and the account, in order.

Entries are appended by the player (the user's messages and the passive replies) and by the
simulated WeChat API (customer-service and template messages, which arrive later, from another
process); the page asks for the entries after the last one it has and waits, up to a bound, for
new ones. Kept in memory, the newest ``limit`` only.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any

Entry = dict[str, Any]


class Conversation:
    """Entries numbered from 1, a bounded history, and waiting for the next entry."""

    def __init__(self, limit: int = 500) -> None:
        self._entries: deque[Entry] = deque(maxlen=limit)
        self._last = 0
        self._changed = threading.Condition()
        self.typing_until = 0.0

    def add(
        self,
        sender: str,
        bubble: dict[str, Any],
        *,
        exchange: str,
        openid: str,
        via: str = "",
        details: dict[str, Any] | None = None,
    ) -> Entry:
        """Append a bubble from ``sender`` ("user" or "account") and wake every waiting page."""
        with self._changed:
            self._last += 1
            entry: Entry = {
                "seq": self._last,
                "exchange": exchange,
                "from": sender,
                "openid": openid,
                "via": via,
                "bubble": bubble,
                "details": details,
                "time": time.time(),
            }
            self._entries.append(entry)
            if sender == "account":
                self.typing_until = 0.0
            self._changed.notify_all()
            return entry

    def typing(self, seconds: float) -> None:
        """Show "typing…" for ``seconds`` (the customer-service typing command), or stop."""
        with self._changed:
            self.typing_until = time.time() + seconds if seconds > 0 else 0.0
            self._changed.notify_all()

    def since(self, after: int, wait: float) -> tuple[list[Entry], bool]:
        """Entries numbered above ``after``, waiting up to ``wait`` s for one; and "typing"."""
        deadline = time.monotonic() + wait
        with self._changed:
            if after > self._last:  # a page that knew an earlier simulator: send it everything
                after = 0
            typing = self.typing_until > time.time()
            while self._last <= after:
                left = deadline - time.monotonic()
                if left <= 0 or not self._changed.wait(left):
                    break
                if (self.typing_until > time.time()) != typing:
                    break
            return [e for e in self._entries if e["seq"] > after], self.typing_until > time.time()

    @property
    def last(self) -> int:
        """The number of the newest entry (0 before the first)."""
        with self._changed:
            return self._last
