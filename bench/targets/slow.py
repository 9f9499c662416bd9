"""The mixed load's slow handler: ``slow <n>`` takes 6 seconds, as a call to a slow API would."""

from __future__ import annotations

import time

from wxserver import HandlerSet, TextMessage

handlers = HandlerSet("bench-slow")
SECONDS = 6.0


@handlers.text(regex=r"slow (?P<n>\d+)")
def slow(message: TextMessage, n: str) -> str:
    """Answer after six seconds: past WeChat's first attempt, inside its second."""
    time.sleep(SECONDS)
    return f"slow {n}"
