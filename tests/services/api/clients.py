"""What the API client tests share: the user they write to, a path, the client factory's type."""

from __future__ import annotations

from collections.abc import Callable

from wxserver.services.api.client import WeChatAPI

OPENID = "oWxServerApiTestUser0000000"
GETCALLBACKIP = "/cgi-bin/getcallbackip"

ClientFactory = Callable[..., WeChatAPI]
