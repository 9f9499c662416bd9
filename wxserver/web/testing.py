"""Play WeChat against a wxserver app in-process: for tests and plugin authors.

``WeChatTestClient`` signs (and in the aes modes encrypts) like WeChat, posts through Flask's
test client, and reads the reply the way WeChat does.
"""

from __future__ import annotations

from typing import Any

from flask import Flask

from wxserver.protocol.callback import Mode
from wxserver.protocol.simulate import (
    ReplyResult,
    build_event,
    build_message,
    open_reply,
    sign_handshake,
    sign_request,
)
from wxserver.services.config import Account


class WeChatTestClient:
    """Sends messages to an app the way WeChat does and reads the replies the way WeChat does."""

    def __init__(self, app: Flask, account: str = "default", *, mode: Mode | str | None = None):
        self.app = app
        self.account: Account = app.extensions["wxserver"].settings.account(account)
        self.mode = Mode(mode) if mode is not None else self.account.mode
        self.client = app.test_client()

    def handshake(self, echostr: str = "wxserver-handshake") -> tuple[int, bytes]:
        """Perform the GET handshake; return the status and the body."""
        response = self.client.get(
            self.account.path, query_string=sign_handshake(self.account, echostr)
        )
        return response.status_code, response.get_data()

    def post(self, xml: bytes, *, mode: Mode | str | None = None) -> ReplyResult:
        """POST ``xml`` (JSON for a JSON account) signed, and encrypted, for the mode."""
        signed = sign_request(self.account, xml, mode if mode is not None else self.mode)
        response = self.client.post(
            self.account.path,
            query_string=signed.query,
            data=signed.body,
            content_type="application/json" if self.account.format == "json" else "text/xml",
        )
        return open_reply(
            self.account, response.status_code, response.get_data(), response.content_type
        )

    def send(self, msg_type: str, **fields: Any) -> ReplyResult:
        """Send a normal message of ``msg_type`` with WeChat's field names."""
        fields.setdefault("format", self.account.format)
        return self.post(build_message(msg_type, **fields))

    def send_text(self, content: str, **fields: Any) -> ReplyResult:
        """Send a text message."""
        return self.send("text", Content=content, **fields)

    def send_event(self, event: str, event_key: str | None = None, **fields: Any) -> ReplyResult:
        """Send an event."""
        fields.setdefault("format", self.account.format)
        return self.post(build_event(event, event_key, **fields))
