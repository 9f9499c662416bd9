"""The ``echo`` handler set: answers every message with what it saw, and how often.

Enable it with ``WX_PLUGINS=wxserver.builtin.echo:handlers``. ``seen N`` counts how many times this
handler ran for the same message (MsgId, or FromUserName+CreateTime+Event for events), so a person
or a test can tell whether a retry ran it twice.
"""

from __future__ import annotations

from wxserver.protocol.handlers import HandlerSet
from wxserver.protocol.messages import (
    EventMessage,
    Message,
    TextMessage,
    UnknownEvent,
    UnknownMessage,
)
from wxserver.protocol.replies import NO_REPLY, NoReply
from wxserver.services.context import current_context

handlers = HandlerSet("echo")

# Long enough to span WeChat's three attempts (t, t+5 s, t+10 s) with room to spare.
SEEN_TTL = 3600.0


def _seen(message: Message) -> int:
    context = current_context()
    if isinstance(message, EventMessage):
        key = f"{message.from_user_name}:{message.create_time}:{message.event}"
    else:
        key = str(message.raw.get("MsgId") or f"{message.from_user_name}:{message.create_time}")
    return context.store.incr(f"echo:seen:{context.account.name}:{key}", ttl=SEEN_TTL)


@handlers.text()
def echo_text(message: TextMessage) -> str:
    """Echo the text back."""
    return f"{message.content}\nseen {_seen(message)}"


@handlers.event()
def echo_event(message: EventMessage) -> str | NoReply:
    """Name the event and its key."""
    if isinstance(message, UnknownEvent):
        return NO_REPLY
    key = f" {message.event_key}" if message.event_key else ""
    return f"event {message.event}{key}\nseen {_seen(message)}"


@handlers.message()
def echo_other(message: Message) -> str | NoReply:
    """Name the message type."""
    if isinstance(message, UnknownMessage):
        return NO_REPLY
    return f"{message.msg_type}\nseen {_seen(message)}"
