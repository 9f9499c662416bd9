"""One token fetch makes at most three requests upstream, however WeChat or the network fails.

The owner is built as the server builds it (``connect``: the client's production retries), so
the transport's retries and the owner's must not multiply.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakewechat import APP_ID, APP_SECRET, FakeWeChat
from tests.servers import free_port
from wxserver.protocol.api_errors import ApiUnavailableError, RetryableApiError
from wxserver.services.api.client import WeChatAPI
from wxserver.services.store import MemoryStore
from wxserver.services.tokens import TokenOwner, connect

STABLE = "/cgi-bin/stable_token"


@pytest.fixture
def connected(fake: FakeWeChat) -> Iterator[WeChatAPI]:
    api = connect(MemoryStore(), APP_ID, APP_SECRET, base_urls=fake.url, backoff=0.01)
    yield api
    api.close()


def test_tokens_busy_platform_costs_three_requests_in_all(
    connected: WeChatAPI, fake: FakeWeChat
) -> None:
    assert connected.busy_retries == 2  # the production client retries -1 on its own calls
    fake.inject(STABLE, errcode=-1, times=100)
    owner = connected.tokens
    assert isinstance(owner, TokenOwner)
    with pytest.raises(RetryableApiError):
        owner.current()
    assert fake.calls(STABLE) == 3


def test_tokens_busy_then_served_stops_at_the_first_token(
    connected: WeChatAPI, fake: FakeWeChat
) -> None:
    fake.inject(STABLE, errcode=-1, times=1)
    assert connected.tokens is not None
    assert connected.tokens.current()
    assert fake.calls(STABLE) == 2


def test_tokens_unreachable_hosts_cost_three_requests_in_all() -> None:
    urls = [f"http://127.0.0.1:{free_port()}" for _ in range(5)]
    api = connect(MemoryStore(), APP_ID, APP_SECRET, base_urls=urls, backoff=0.01)
    owner = api.tokens
    assert isinstance(owner, TokenOwner)
    with api, pytest.raises(ApiUnavailableError) as raised:
        owner.current()
    assert len(raised.value.attempts) == 3
    tried = str(raised.value)
    assert [url in tried for url in urls] == [True, True, True, False, False]
