"""The 5-second contract in one process: WeChat's three attempts played against the app.

WeChat's clock is compressed: it waits T = 2 s instead of 5 s, and the reply budget is 1.6 s
instead of 4.5 s. The "9-second handler" ends before the second attempt's budget runs out (3 s
against 3.6 s, as 9 s against 9.5 s at full scale); the "30-second" one outlasts all three
attempts (6.5 s, after the last budget ends at 5.6 s).
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from flask import Flask

from tests.contract_handlers import runs
from tests.fakewechat import APP_ID as FAKE_APP_ID
from tests.fakewechat import APP_SECRET as FAKE_APP_SECRET
from tests.fakewechat import FakeWeChat
from tests.support import AppFactory, config_with
from tests.wechat_player import Attempt, play
from wxserver.protocol.messages import Message
from wxserver.protocol.parsing import parse_message
from wxserver.testing import WeChatTestClient, build_message, open_reply, sign_request

T = 2.0
BUDGET = 1.6


def contract_app(make_app: AppFactory, fake: FakeWeChat | None, **account: Any) -> Flask:
    extra: dict[str, Any] = {"reply_budget": BUDGET, **account}
    if fake is not None:
        extra.update(app_id=FAKE_APP_ID, app_secret=FAKE_APP_SECRET)
    config = config_with(**extra)
    config["plugins"] = ["tests.contract_handlers:handlers", "wxserver.builtin.echo:handlers"]
    config["wechat_timeout"] = T
    if fake is not None:
        config["api_base_url"] = fake.url
    return make_app(config)


def attempts_for(app: Flask, xml: bytes) -> list[Attempt]:
    account = app.extensions["wxserver"].settings.account("default")
    signed = sign_request(account, xml, "secure")

    def send(timeout: float) -> tuple[int, bytes]:
        response = app.test_client().post("/wechat", query_string=signed.query, data=signed.body)
        result = open_reply(account, response.status_code, response.get_data(), "")
        return response.status_code, result.xml if result.encrypted else result.body

    return play(send, T)


def key_of(xml: bytes) -> str:
    message: Message = parse_message(xml)
    return message.key


def wait_for(condition: Any, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return bool(condition())


def test_deferred_three_copies_run_the_handler_once(make_app: AppFactory) -> None:
    app = contract_app(make_app, None)
    wechat = WeChatTestClient(app)
    xml = build_message("text", Content="fast")
    answers = [wechat.post(xml).content for _ in range(3)]
    assert answers == ["fast", "fast", "fast"]
    assert runs(app.extensions["wxserver"].store, key_of(xml)) == 1


def test_deferred_retry_mode_answers_a_9_second_handler_on_the_second_attempt(
    make_app: AppFactory,
) -> None:
    app = contract_app(make_app, None)
    xml = build_message("text", Content="work 3")
    attempts = attempts_for(app, xml)
    assert [a.received for a in attempts] == [False, True]
    assert b"done after 3" in attempts[1].body
    assert runs(app.extensions["wxserver"].store, key_of(xml)) == 1


def test_deferred_retry_mode_30_second_handler_goes_out_as_one_customer_service_message(
    make_app: AppFactory, fake: FakeWeChat
) -> None:
    app = contract_app(make_app, fake)
    xml = build_message("text", Content="work 6.5")
    attempts = attempts_for(app, xml)
    assert [a.received for a in attempts] == [False, False, True]
    assert attempts[2].elapsed is not None
    assert attempts[2].elapsed < T
    assert attempts[2].body == b"success"
    assert wait_for(lambda: len(fake.sent) == 1, 10)
    time.sleep(0.5)
    assert len(fake.sent) == 1
    assert fake.sent[0].body["text"]["content"] == "done after 6.5"
    assert runs(app.extensions["wxserver"].store, key_of(xml)) == 1


def test_deferred_customer_service_mode_answers_every_attempt_in_time(
    make_app: AppFactory, fake: FakeWeChat
) -> None:
    app = contract_app(make_app, fake, continuation="customer-service")
    xml = build_message("text", Content="later 2")
    attempts = attempts_for(app, xml)
    # The first answer came inside the budget, so WeChat sends no other copy.
    assert [a.received for a in attempts] == [True]
    assert b"Working on it" in attempts[0].body
    assert wait_for(lambda: len(fake.sent) == 1, 10)
    assert fake.sent[0].body["text"]["content"] == "answered later 2"


def test_deferred_quick_job_is_still_a_passive_reply(
    make_app: AppFactory, fake: FakeWeChat
) -> None:
    app = contract_app(make_app, fake, continuation="customer-service")
    attempts = attempts_for(app, build_message("text", Content="work 0.2"))
    assert [a.received for a in attempts] == [True]
    assert b"done after 0.2" in attempts[0].body
    time.sleep(0.5)
    assert fake.sent == []


def test_deferred_without_customer_service_api_drops_with_a_warning(
    make_app: AppFactory, caplog: pytest.LogCaptureFixture
) -> None:
    app = contract_app(make_app, None)
    xml = build_message("text", Content="work 6")
    attempts = attempts_for(app, xml)
    assert attempts[-1].received
    assert wait_for(
        lambda: any("no customer-service API" in r.getMessage() for r in caplog.records), 10
    )
    text = app.test_client().get("/internal/metrics").get_data(as_text=True)
    assert 'wxserver_dropped_replies_total{account="default",reason="no-api"} 1.0' in text


def test_deferred_plaintext_query_string_cannot_carry_another_body(app: Flask) -> None:
    account = app.extensions["wxserver"].settings.account("default")
    signed = sign_request(account, build_message("text", Content="original"), "plain")
    client = app.test_client()
    assert client.post("/wechat", query_string=signed.query, data=signed.body).status_code == 200
    # WeChat's own retry: the same query and body.
    assert client.post("/wechat", query_string=signed.query, data=signed.body).status_code == 200
    forged = build_message("text", Content="forged")
    response = client.post("/wechat", query_string=signed.query, data=forged)
    assert response.status_code == 403
    assert b"replay" in response.get_data()
