"""Handlers for the simulator's tests: a menu click, a background job, and replies of each look.

The servers those tests start load them with ``WX_PLUGINS=tests.simulator_handlers:handlers``
before the echo set, so these rules come first.
"""

from __future__ import annotations

import time

from wxserver import NO_REPLY, Article, HandlerSet, NewsReply, NoReply, TextMessage
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


@handlers.text("link")
def link(message: TextMessage) -> str:
    """A text reply with a link, as WeChat lets a text carry."""
    return 'Read <a href="https://example.com/guide">the guide</a> or https://example.com/plain'


@handlers.text("news")
def news(message: TextMessage) -> NewsReply:
    """A news card (without a picture, which the browser would fetch from elsewhere)."""
    article = Article("Menu of the day", description="Dumplings", url="https://example.com/menu")
    return NewsReply(articles=(article,))


@handlers.text("quiet")
def quiet(message: TextMessage) -> NoReply:
    """No reply: the server answers ``success``."""
    return NO_REPLY
