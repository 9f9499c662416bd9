"""Each metric moves for the case that should move it, in-process and over gunicorn workers."""

from __future__ import annotations

import sys
import time
import types
from typing import Any

import httpx
import pytest
from flask import Flask

from tests.fakewechat import APP_ID as FAKE_APP_ID
from tests.fakewechat import APP_SECRET as FAKE_APP_SECRET
from tests.fakewechat import FakeWeChat
from tests.metric_values import value
from tests.servers import gunicorn
from tests.support import AES_KEY, APP_ID, TOKEN, AppFactory, config_with
from wxserver import HandlerSet, NewsReply, TextMessage
from wxserver.protocol.api_errors import DropError
from wxserver.protocol.replies import Article
from wxserver.protocol.signature import sign
from wxserver.services import metrics as metrics_module
from wxserver.services.config import load_settings
from wxserver.testing import WeChatTestClient, build_message, sign_handshake, sign_request

handlers = HandlerSet("metered")


@handlers.text("slow")
def slow(message: TextMessage) -> str:
    time.sleep(0.6)
    return "slow"


@handlers.text("broken")
def broken(message: TextMessage) -> str:
    raise RuntimeError("bug")


@handlers.text("two articles")
def two(message: TextMessage) -> NewsReply:
    return NewsReply(articles=(Article(title="a"), Article(title="b")))


@pytest.fixture
def app(make_app: AppFactory) -> Flask:
    module = types.ModuleType("wxtest_metered")
    module.handlers = handlers  # type: ignore[attr-defined]
    sys.modules["wxtest_metered"] = module
    config = config_with(reply_budget=0.5)
    config["plugins"] = ["wxtest_metered:handlers", "wxserver.builtin.echo:handlers"]
    return make_app(config)


def scrape(app: Flask) -> str:
    response = app.test_client().get("/internal/metrics")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_metrics_each_counter_moves_for_its_case(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    wechat = WeChatTestClient(app)
    account = app.extensions["wxserver"].settings.account("default")
    client = app.test_client()
    before = scrape(app)
    assert value(before, "wxserver_requests_total") == 0

    wechat.send_text("hello")
    repeated = build_message("text", Content="again", MsgId=31337)
    wechat.post(repeated)
    wechat.post(repeated)
    wechat.send_text("broken")
    wechat.send_text("two articles")
    monkeypatch.setattr(metrics_module, "WECHAT_DEADLINE", 0.55)
    wechat.send_text("slow")
    bad = sign_handshake(account, "1")
    bad["signature"] = "0" * 40
    client.get("/wechat", query_string=bad)
    signed = sign_request(account, build_message("text", Content="x"), "secure")
    tampered = signed.body.replace(b"<Encrypt><![CDATA[", b"<Encrypt><![CDATA[AAAA")
    client.post("/wechat", query_string=signed.query, data=tampered)
    garbage = sign_request(account, b"<xml><unclosed>", "plain")
    client.post("/wechat", query_string=garbage.query, data=garbage.body)

    text = scrape(app)
    assert (
        value(text, "wxserver_requests_total", account="default", mode="compat", outcome="reply")
        == 3
    )
    # The slow handler finished after the budget: its request answered without the reply.
    assert value(text, "wxserver_requests_total", outcome="late") == 1
    # A two-article NewsReply fails as it is built, inside the handler: a handler error too.
    assert value(text, "wxserver_requests_total", outcome="handler-error") == 2
    assert value(text, "wxserver_request_seconds_count", account="default") == 9
    assert value(text, "wxserver_handler_seconds_count", handler="metered.slow") == 1
    # The repeated message ran its handler once: the copy was answered from the store.
    assert value(text, "wxserver_handler_seconds_count", handler="echo.echo_text") == 2
    assert value(text, "wxserver_duplicates_total", account="default") == 1
    assert value(text, "wxserver_late_replies_total", account="default") == 1
    assert value(text, "wxserver_handler_errors_total", handler="metered.broken") == 1
    assert value(text, "wxserver_handler_errors_total", handler="metered.two") == 1
    assert value(text, "wxserver_alarm_signals_total", category="invalid_response") == 2
    assert value(text, "wxserver_alarm_signals_total", category="request_timeout") == 1
    assert value(text, "wxserver_refused_total", stage="signature", error="SignatureError") == 2
    assert value(text, "wxserver_refused_total", stage="parse", error="XmlError") == 1
    assert value(text, "wxserver_inflight_requests") == 0


def test_metrics_decrypt_failure_counts_as_decrypt(app: Flask) -> None:
    account = app.extensions["wxserver"].settings.account("default")
    signed = sign_request(account, build_message("text", Content="x"), "secure")
    encrypt = signed.body.decode().split("<Encrypt><![CDATA[")[1].split("]]>")[0]
    broken = encrypt[:-4] + "!!!!"
    query = {
        **signed.query,
        "msg_signature": sign(TOKEN, signed.query["timestamp"], signed.query["nonce"], broken),
    }
    app.test_client().post(
        "/wechat", query_string=query, data=signed.body.replace(encrypt.encode(), broken.encode())
    )
    text = scrape(app)
    assert value(text, "wxserver_refused_total", stage="decrypt", error="Base64DecodeError") == 1


def test_metrics_are_summed_over_gunicorn_workers() -> None:
    env = {
        "WX_ENV": "test",
        "WX_TOKEN": TOKEN,
        "WX_APPID": APP_ID,
        "WX_ENCODING_AES_KEY": AES_KEY,
        "WX_MODE": "compat",
        "WX_PLUGINS": "wxserver.builtin.echo:handlers",
        "WX_LOAD_ENTRY_POINTS": "false",
    }
    account = load_settings(env).account("default")
    with gunicorn(env, workers=2) as server, httpx.Client(timeout=10) as http:
        pids: set[str] = set()
        for _ in range(40):
            signed = sign_request(account, build_message("text", Content="n"), "secure")
            response = http.post(f"{server.url}/wechat", params=signed.query, content=signed.body)
            assert response.status_code == 200
        scraped: dict[str, Any] = {}
        text = http.get(f"{server.url}/internal/metrics").text
        scraped["requests"] = value(
            text, "wxserver_requests_total", account="default", outcome="reply"
        )
        pids = {
            line.split('pid="')[1].split('"')[0] for line in text.splitlines() if 'pid="' in line
        }
    assert scraped["requests"] == 40
    assert value(text, "wxserver_request_seconds_count") == 40
    assert len(pids) <= 2


def test_metrics_token_refreshes_and_api_errors_are_counted(make_app: AppFactory) -> None:
    with FakeWeChat() as fake:
        config = config_with(app_id=FAKE_APP_ID, app_secret=FAKE_APP_SECRET)
        config["api_base_url"] = fake.url
        app = make_app(config)
        api = app.extensions["wxserver"].accounts["default"].api
        fake.inject("/cgi-bin/message/custom/send", errcode=45015)
        with pytest.raises(DropError, match="45015"):
            api.send_text("oUser", "hello")
        api.send_text("oUser", "again")
        text = scrape(app)
    assert (
        value(text, "wxserver_token_refreshes_total", credential="access_token", result="ok") == 1
    )
    assert value(text, "wxserver_api_errors_total", errcode="45015") == 1


def test_metrics_callback_check_signals_dns_failure(make_app: AppFactory) -> None:
    with FakeWeChat() as fake:
        config = config_with(app_id=FAKE_APP_ID, app_secret=FAKE_APP_SECRET)
        config["api_base_url"] = fake.url
        app = make_app(config)
        check = app.extensions["wxserver"].netchecks["default"]
        result = check.run()
        assert result is not None
        assert result.dns_ok
        assert check.run() is None  # not due again within the hour
        text = scrape(app)
        assert value(text, "wxserver_callback_check_ok", check="dns") == 1
        assert fake.calls("/cgi-bin/callback/check") == 1

        broken = make_app(config)  # a fresh store: due at once
        fake.inject("/cgi-bin/callback/check", errcode=40201, errmsg="invalid url")
        failed = broken.extensions["wxserver"].netchecks["default"].run()
        assert failed is not None
        assert not failed.dns_ok
        assert value(scrape(broken), "wxserver_callback_check_ok", check="dns") == 0
