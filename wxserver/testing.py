"""Play WeChat against a wxserver app, for tests and plugin authors (the public surface).

``WeChatTestClient`` drives an app in-process; the builders beside it make messages and events
signed, and in the aes modes encrypted, exactly as WeChat sends them.
"""

from wxserver.protocol.simulate import (
    ReplyResult,
    SignedRequest,
    build_event,
    build_message,
    open_reply,
    sign_handshake,
    sign_request,
)
from wxserver.web.testing import WeChatTestClient

__all__ = [
    "ReplyResult",
    "SignedRequest",
    "WeChatTestClient",
    "build_event",
    "build_message",
    "open_reply",
    "sign_handshake",
    "sign_request",
]
