"""Fixtures of the API client tests: clients of the fake WeChat API on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.fakewechat import APP_ID, APP_SECRET, FakeWeChat
from tests.services.api.clients import ClientFactory
from wxserver.services.api.client import WeChatAPI
from wxserver.services.store import MemoryStore
from wxserver.services.tokens import TokenOwner


@pytest.fixture
def make_api(fake: FakeWeChat) -> Iterator[ClientFactory]:
    """A client of the fake with a token owner on a MemoryStore; closed after the test."""
    clients: list[WeChatAPI] = []

    def factory(base_urls: str | list[str] | None = None, **options: Any) -> WeChatAPI:
        options.setdefault("backoff", 0.05)
        api = WeChatAPI(APP_ID, APP_SECRET, base_urls=base_urls or fake.url, **options)
        api.tokens = TokenOwner(MemoryStore(), api, APP_ID)
        clients.append(api)
        return api

    yield factory
    for api in clients:
        api.close()
