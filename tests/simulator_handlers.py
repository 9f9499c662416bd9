"""Handlers for the simulator's tests: a menu click with its own answer, and a background job.

The servers those tests start load them with ``WX_PLUGINS=tests.simulator_handlers:handlers``
before the echo set, so these rules come first.
"""

from __future__ import annotations

import time

from wxserver import HandlerSet, TextMessage
from wxserver.protocol.messages import EventMessage

handlers = HandlerSet("simulator_test")


@handlers.event("CLICK", key="MENU_TODAY")
def today(message: EventMessage) -> str:
    """The example menu's first button."""
    return "Today: dumplings"


@handlers.text(regex=r"slow (?P<seconds>[0-9.]+)", background=True)
def slow(message: TextMessage, seconds: str) -> str:
    """Work that outlasts the reply budget, so its answer arrives as a customer-service message."""
    time.sleep(float(seconds))
    return f"slow answer after {seconds} s"
