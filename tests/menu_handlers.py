"""A handler set that takes only some of the example menu's keys, for the menu tests.

The CLI's subprocesses load it as tests.menu_handlers:handlers.
"""

from __future__ import annotations

from wxserver.protocol.handlers import HandlerSet

handlers = HandlerSet("menu_test")


@handlers.event("CLICK", key="MENU_TODAY")
def today(message: object) -> str:
    """Answers the one click key this set knows."""
    return "today"


@handlers.event("location_select", key_regex=r"MENU_.*")
def location(message: object) -> str:
    """Answers every location-picker key."""
    return "location"


@handlers.fallback()
def nobody(message: object) -> None:
    """A fallback, which must not count as handling a menu key."""
