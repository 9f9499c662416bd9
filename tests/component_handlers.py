"""Handlers for the component tests: what an authorizer's message and context carry."""

from __future__ import annotations

from wxserver import NO_REPLY, HandlerSet, NoReply, TextMessage, current_context

handlers = HandlerSet("component-test")


@handlers.text("whoami")
def whoami(message: TextMessage) -> str:
    """The authorizer on the message, and the one the context's API client is bound to."""
    return f"{message.authorizer_app_id} {current_context().api.app_id}"


@handlers.text("send")
def send(message: TextMessage) -> NoReply:
    """A customer-service message through the context's API client (the authorizer's token)."""
    current_context().api.send_text(message.from_user_name, "sent through the authorizer")
    return NO_REPLY
