"""Handlers for the 5-second contract tests: slow work, counted in the shared store."""

from __future__ import annotations

import time

from wxserver import HandlerSet, TextMessage, current_context
from wxserver.protocol.replies import Deferred

handlers = HandlerSet("contract")


def _count(message: TextMessage) -> None:
    current_context().store.incr(f"runs:{message.key}", ttl=600)


@handlers.text(regex=r"work (?P<seconds>[0-9.]+)", background=True)
def work(message: TextMessage, seconds: str) -> str:
    """A handler that takes ``seconds``, run as a job."""
    _count(message)
    time.sleep(float(seconds))
    return f"done after {seconds}"


def answer_later(seconds: float, content: str) -> str:
    """The deferred half of ``later``."""
    time.sleep(seconds)
    return f"answered {content}"


@handlers.text(regex=r"later (?P<seconds>[0-9.]+)")
def later(message: TextMessage, seconds: str) -> Deferred:
    """A handler that answers at once with a Deferred and a placeholder."""
    _count(message)
    return Deferred(answer_later, float(seconds), message.content, placeholder="Working on it")


@handlers.text("fast")
def fast(message: TextMessage) -> str:
    """An inline handler."""
    _count(message)
    return "fast"


def runs(store: object, key: str) -> int:
    """How many times a handler ran for the message with ``key``."""
    value = store.get(f"runs:{key}")  # type: ignore[attr-defined]
    return 0 if value is None else int(value)
