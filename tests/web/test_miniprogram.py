"""Mini-program accounts: replies go out through the customer-service API, answered success."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from tests.fakewechat import FakeWeChat, Sent
from tests.metric_values import value
from tests.support import AppFactory
from tests.web_apps import AppBuilder
from wxserver.testing import WeChatTestClient, build_message

CUSTOM_SEND = "/cgi-bin/message/custom/send"
USER = "oWxServerTestUser0000000000"
PLUGINS = ["tests.miniprogram_handlers:handlers", "wxserver.builtin.echo:handlers"]
APP_DEFAULTS: dict[str, Any] = {"kind": "miniprogram", "format": "json", "mode": "secure"}


def _sent(fake: FakeWeChat, count: int = 1, timeout: float = 5.0) -> list[Sent]:
    """The customer-service messages the fake accepted, once ``count`` arrived."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [sent for sent in fake.sent if sent.path == CUSTOM_SEND]
        if len(found) >= count:
            return found
        time.sleep(0.02)
    return [sent for sent in fake.sent if sent.path == CUSTOM_SEND]


@pytest.fixture
def wechat(build: AppBuilder) -> WeChatTestClient:
    """A mini-program on the fake API, with the test handlers before the echo set."""
    return WeChatTestClient(build(plugins=PLUGINS))


def test_miniprogram_text_reply_is_sent_through_the_api_and_answered_success(
    wechat: WeChatTestClient, fake: FakeWeChat
) -> None:
    result = wechat.send_text("你好")
    assert result.is_success
    assert result.body == b"success"
    (sent,) = _sent(fake)
    assert sent.body == {"touser": USER, "msgtype": "text", "text": {"content": "你好\nseen 1"}}


def test_miniprogram_image_reply_is_an_image_message(
    wechat: WeChatTestClient, fake: FakeWeChat
) -> None:
    assert wechat.send_text("picture").is_success
    (sent,) = _sent(fake)
    assert sent.body["msgtype"] == "image"
    assert sent.body["image"] == {"media_id": "media-of-a-picture"}


def test_miniprogram_transfer_stays_passive(wechat: WeChatTestClient, fake: FakeWeChat) -> None:
    result = wechat.send_text("agent")
    assert result.encrypted
    assert json.loads(result.xml)["MsgType"] == "transfer_customer_service"
    time.sleep(0.2)
    assert _sent(fake, timeout=0) == []


@pytest.mark.parametrize("content", ["quiet", "boom"])
def test_miniprogram_no_reply_or_handler_error_sends_nothing(
    wechat: WeChatTestClient, fake: FakeWeChat, content: str
) -> None:
    assert wechat.send_text(content).is_success
    time.sleep(0.2)
    assert _sent(fake, timeout=0) == []


def test_miniprogram_retry_of_a_message_sends_the_reply_once(
    wechat: WeChatTestClient, fake: FakeWeChat
) -> None:
    body = build_message("text", Content="once", MsgId=77, format="json")
    assert wechat.post(body).is_success
    assert wechat.post(body).is_success
    assert len(_sent(fake)) == 1
    time.sleep(0.2)
    assert len(_sent(fake, timeout=0)) == 1


def test_miniprogram_deferred_reply_is_sent_once_by_its_job(
    wechat: WeChatTestClient, fake: FakeWeChat
) -> None:
    assert wechat.send_text("later").is_success
    (sent,) = _sent(fake)
    assert sent.body["text"] == {"content": "later: later"}
    time.sleep(0.3)
    assert len(_sent(fake, timeout=0)) == 1


def test_miniprogram_customer_service_event_is_answered_through_the_api(
    wechat: WeChatTestClient, fake: FakeWeChat
) -> None:
    assert wechat.send_event("user_enter_tempsession", SessionFrom="order-7").is_success
    (sent,) = _sent(fake)
    assert sent.body["text"]["content"].startswith("event user_enter_tempsession")


def test_miniprogram_api_failure_is_counted_and_still_answered_success(
    wechat: WeChatTestClient, fake: FakeWeChat
) -> None:
    fake.inject(CUSTOM_SEND, errcode=45015)
    assert wechat.send_text("window closed").is_success
    metrics = wechat.app.extensions["wxserver"].metrics
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        scrape = metrics.exposition().decode()
        if value(scrape, "wxserver_dropped_replies_total", reason="api-error"):
            break
        time.sleep(0.02)
    assert value(scrape, "wxserver_dropped_replies_total", reason="api-error") == 1


def test_miniprogram_without_appsecret_drops_the_reply_with_a_counter(
    make_app: AppFactory, caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app(kind="miniprogram")
    assert WeChatTestClient(app).send_text("no secret").is_success
    metrics = app.extensions["wxserver"].metrics
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        scrape = metrics.exposition().decode()
        if value(scrape, "wxserver_dropped_replies_total", reason="no-api"):
            break
        time.sleep(0.02)
    assert value(scrape, "wxserver_dropped_replies_total", reason="no-api") == 1
    assert "cannot be passive (a mini-program)" in caplog.text
