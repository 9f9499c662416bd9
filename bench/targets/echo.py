"""The benchmark's handler: the text back, as every peer's echo answers it."""

from __future__ import annotations

from wxserver import HandlerSet, TextMessage

handlers = HandlerSet("bench-echo")


@handlers.text()
def echo(message: TextMessage) -> str:
    """Answer with the text received."""
    return message.content
