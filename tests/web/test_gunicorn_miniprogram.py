"""A mini-program under a real gunicorn process: the reply reaches the fake customer-service API.

WeChat never sees a passive text reply from a mini-program: the callback answers ``success`` and
the handler's reply arrives at ``/cgi-bin/message/custom/send``, sent with the mini-program's own
access_token.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from tests.fakewechat import APP_ID, APP_SECRET, FakeWeChat, Sent
from tests.servers import Server, gunicorn
from tests.support import AES_KEY, TOKEN
from wxserver.services.config import load_settings
from wxserver.testing import build_message, sign_request

CUSTOM_SEND = "/cgi-bin/message/custom/send"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeWeChat]:
    with FakeWeChat() as running:
        yield running


@pytest.fixture(scope="module")
def env(fake: FakeWeChat) -> dict[str, str]:
    return {
        "WX_ENV": "test",
        "WX_KIND": "miniprogram",
        "WX_FORMAT": "json",
        "WX_MODE": "secure",
        "WX_TOKEN": TOKEN,
        "WX_APPID": APP_ID,
        "WX_APPSECRET": APP_SECRET,
        "WX_ENCODING_AES_KEY": AES_KEY,
        "WX_API_BASE_URL": fake.url,
        "WX_PLUGINS": "wxserver.builtin.echo:handlers",
        "WX_LOAD_ENTRY_POINTS": "false",
    }


@pytest.fixture(scope="module")
def server(env: dict[str, str]) -> Iterator[Server]:
    with gunicorn(env) as running:
        yield running


def _sent(fake: FakeWeChat, count: int, timeout: float = 10.0) -> list[Sent]:
    deadline = time.monotonic() + timeout
    while True:
        found = [sent for sent in fake.sent if sent.path == CUSTOM_SEND]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def test_gunicorn_miniprogram_text_reply_arrives_at_the_customer_service_api(
    server: Server, fake: FakeWeChat, env: dict[str, str]
) -> None:
    account = load_settings(env).account("default")
    body = build_message("text", Content="小程序 hello", from_user="oMiniUser", format="json")
    signed = sign_request(account, body, "secure")
    response = httpx.post(
        f"{server.url}/wechat", params=signed.query, content=signed.body, timeout=10
    )
    assert (response.status_code, response.content) == (200, b"success")
    (sent,) = _sent(fake, 1)
    assert sent.body == {
        "touser": "oMiniUser",
        "msgtype": "text",
        "text": {"content": "小程序 hello\nseen 1"},
    }
    # Sent with the mini-program's own token, which the fake issued through stable_token.
    assert fake.calls("/cgi-bin/stable_token") == 1
    assert fake.calls_per_token() == [1]
