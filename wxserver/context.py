"""What a handler can reach while it answers a message: its account and the store.

Handlers are called with the message alone (no parameter counting), so the rest travels in a
context variable set around each dispatch. It is per thread and per task, never global.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from wxserver.messages import Message
from wxserver.settings import Account
from wxserver.store import Store


@dataclass(frozen=True, slots=True)
class HandlerContext:
    """The account a message arrived for, the message, and the server's store."""

    account: Account
    message: Message
    store: Store


_current: ContextVar[HandlerContext] = ContextVar("wxserver_handler_context")


def current_context() -> HandlerContext:
    """Return the context of the message being handled; only valid inside a handler."""
    try:
        return _current.get()
    except LookupError:
        raise RuntimeError("current_context() is only available inside a handler") from None


@contextmanager
def handler_context(context: HandlerContext) -> Iterator[HandlerContext]:
    """Make ``context`` current for the duration of a dispatch."""
    token = _current.set(context)
    try:
        yield context
    finally:
        _current.reset(token)
