"""The customer-service window: when the account may message a user, and how often.

WeChat lets an account send customer-service messages to a user only after the user did
something: after a message, up to 5 within 48 hours; after a menu click (click and scan-code
buttons), a follow or a QR-code scan, up to 3 within a minute. Outside a window WeChat answers
45015, past the count 45047; to a user who unfollowed, 43004. The simulator keeps the same rules,
so a plugin that would send too much here is seen doing so before it meets WeChat.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

MESSAGE_GRANT = (5, 48 * 3600.0)
EVENT_GRANT = (3, 60.0)
# The events after which WeChat opens the short window.
GRANTING_EVENTS = frozenset({"CLICK", "scancode_push", "scancode_waitmsg", "subscribe", "SCAN"})

OUT_OF_WINDOW = (45015, "response out of time limit or subscription is canceled")
OUT_OF_COUNT = (45047, "out of response count limit")
NOT_FOLLOWING = (43004, "require subscribe")


@dataclass
class _Grant:
    remaining: int
    until: float


@dataclass
class _User:
    following: bool = True
    message: _Grant | None = None
    event: _Grant | None = None


class ServiceWindow:
    """Every simulated user's windows, by OpenID."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._users: dict[str, _User] = {}
        self._lock = threading.Lock()
        self._clock = clock

    def acted(self, openid: str, msg_type: str, event: str = "") -> None:
        """The user sent a message (``msg_type``) or caused ``event``: open what that opens."""
        with self._lock:
            user = self._users.setdefault(openid, _User())
            now = self._clock()
            if event == "unsubscribe":
                user.following = False
                user.message = user.event = None
                return
            # Only a follower can message the account or use its menu.
            user.following = True
            if msg_type != "event":
                user.message = _Grant(MESSAGE_GRANT[0], now + MESSAGE_GRANT[1])
            elif event in GRANTING_EVENTS:
                user.event = _Grant(EVENT_GRANT[0], now + EVENT_GRANT[1])

    def following(self, openid: str) -> bool:
        """Whether ``openid`` follows the account (a user never seen is taken to)."""
        with self._lock:
            user = self._users.get(openid)
            return user is None or user.following

    def spend(self, openid: str) -> tuple[int, str] | None:
        """Take one message from ``openid``'s open window; the errcode and errmsg if none."""
        with self._lock:
            user = self._users.get(openid)
            if user is None:
                return OUT_OF_WINDOW
            if not user.following:
                return NOT_FOLLOWING
            now = self._clock()
            grants = [g for g in (user.message, user.event) if g is not None and g.until > now]
            if not grants:
                return OUT_OF_WINDOW
            usable = next((g for g in grants if g.remaining > 0), None)
            if usable is None:
                return OUT_OF_COUNT
            usable.remaining -= 1
            return None
