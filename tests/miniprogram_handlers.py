"""Handlers for the mini-program tests: each kind of reply a mini-program's handler may give."""

from __future__ import annotations

from wxserver import (
    NO_REPLY,
    HandlerSet,
    ImageReply,
    NoReply,
    TextMessage,
    TransferCustomerServiceReply,
)
from wxserver.protocol.replies import Deferred

handlers = HandlerSet("miniprogram")


@handlers.text("picture")
def picture(message: TextMessage) -> ImageReply:
    """An image reply: sent as an image customer-service message."""
    return ImageReply("media-of-a-picture")


@handlers.text("agent")
def agent(message: TextMessage) -> TransferCustomerServiceReply:
    """The one passive reply a mini-program has."""
    return TransferCustomerServiceReply()


@handlers.text("quiet")
def quiet(message: TextMessage) -> NoReply:
    """Nothing to say."""
    return NO_REPLY


@handlers.text("boom")
def boom(message: TextMessage) -> str:
    """A handler with a bug."""
    raise RuntimeError("a bug in the handler")


def made_later(content: str) -> str:
    """The deferred half of ``later``."""
    return f"later: {content}"


@handlers.text("later")
def later(message: TextMessage) -> Deferred:
    """A reply made by a job."""
    return Deferred(made_later, message.content)
