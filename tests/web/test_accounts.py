"""Two Official Accounts on one server: own paths, credentials, store keys and metrics labels.

Both accounts live in one app over one SQLite store, the way every gunicorn worker of a machine
shares it; the last test runs the same through a real gunicorn with two workers, the second account
configured only through ``WX__ACCOUNTS__SHOP__*`` variables.
"""

from __future__ import annotations

import copy
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from flask import Flask
from prometheus_client.parser import text_string_to_metric_families

from tests.servers import gunicorn
from tests.support import AES_KEY, APP_ID, BASE_CONFIG, PREVIOUS_AES_KEY, TOKEN, AppFactory
from wxserver import HandlerSet, TextMessage, current_context
from wxserver.services.config import Account, Mode, Settings, load_settings
from wxserver.testing import (
    WeChatTestClient,
    build_message,
    open_reply,
    sign_handshake,
    sign_request,
)

SHOP_PATH = "/wechat/shop"
SHOP_TOKEN = "shoptoken2024"
SHOP_APP_ID = "wx00000000000shopapp"
SHOP_AES_KEY = PREVIOUS_AES_KEY  # another public test key: the two accounts share nothing
USER = "oWxServerTestUser0000000000"

handlers = HandlerSet("counting")


@handlers.text("count")
def count(message: TextMessage) -> str:
    """Count in the sender's session of the account the message came to."""
    context = current_context()
    session = context.session
    session["n"] = session.get("n", 0) + 1
    return f"{context.account.name} count {session['n']}"


@pytest.fixture
def config(tmp_path: Path) -> dict[str, Any]:
    """The default account (compat) and the shop (secure) on one SQLite file."""
    module = types.ModuleType("wxtest_accounts")
    module.handlers = handlers  # type: ignore[attr-defined]
    sys.modules["wxtest_accounts"] = module
    config = copy.deepcopy(BASE_CONFIG)
    config["store_url"] = f"sqlite:///{tmp_path / 'store.db'}"
    config["plugins"] = ["wxtest_accounts:handlers", "wxserver.builtin.echo:handlers"]
    config["accounts"]["shop"] = {
        "path": SHOP_PATH,
        "token": SHOP_TOKEN,
        "app_id": SHOP_APP_ID,
        "encoding_aes_key": SHOP_AES_KEY,
        "mode": "secure",
    }
    return config


@pytest.fixture
def app(make_app: AppFactory, config: dict[str, Any]) -> Flask:
    return make_app(config)


def _clients(app: Flask) -> tuple[WeChatTestClient, WeChatTestClient]:
    return WeChatTestClient(app, "default"), WeChatTestClient(app, "shop")


def _metric(text: str, name: str, **labels: str) -> float:
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    )


def test_accounts_each_on_its_own_path_with_its_own_credentials(app: Flask) -> None:
    default, shop = _clients(app)
    assert (default.account.path, shop.account.path) == ("/wechat", SHOP_PATH)
    assert default.send_text("hello").content == "hello\nseen 1"
    answer = shop.send_text("hello")
    # Opened by the test client with the shop's Token and key: sealed with the shop's own.
    assert answer.encrypted
    assert answer.content == "hello\nseen 1"
    assert default.handshake("111") == (200, b"111")
    assert shop.handshake("222") == (200, b"222")


@pytest.mark.parametrize(
    ("signer", "target"),
    [pytest.param("default", SHOP_PATH, id="default-to-shop"), ("shop", "/wechat")],
)
def test_accounts_answer_only_their_own_signatures(app: Flask, signer: str, target: str) -> None:
    account = app.extensions["wxserver"].settings.account(signer)
    client = app.test_client()
    signed = sign_request(account, build_message("text", Content="x"), account.mode)
    response = client.post(target, query_string=signed.query, data=signed.body)
    assert response.status_code == 403
    assert "signature" in response.get_data(as_text=True)
    handshake = client.get(target, query_string=sign_handshake(account, "1"))
    assert handshake.status_code == 403


def test_accounts_same_msgid_is_counted_and_deduplicated_per_account(app: Flask) -> None:
    default, shop = _clients(app)
    xml = build_message("text", Content="same", MsgId=4242, from_user=USER)
    assert default.post(xml).content == "same\nseen 1"
    # The same MsgId from the same user to the other account: a new message there, counted anew.
    assert shop.post(xml).content == "same\nseen 1"
    default.post(xml)  # WeChat's retry, to the default account only
    text = app.test_client().get("/internal/metrics").get_data(as_text=True)
    assert _metric(text, "wxserver_duplicates_total", account="default") == 1
    assert _metric(text, "wxserver_duplicates_total", account="shop") == 0


def test_accounts_sessions_are_separate(make_app: AppFactory, config: dict[str, Any]) -> None:
    app = make_app(config)
    default, shop = _clients(app)
    assert default.send_text("count", from_user=USER).content == "default count 1"
    assert default.send_text("count", from_user=USER).content == "default count 2"
    assert shop.send_text("count", from_user=USER).content == "shop count 1"
    # Another app on the same store (another worker): the same sessions, still per account.
    again, shop_again = _clients(make_app(config))
    assert again.send_text("count", from_user=USER).content == "default count 3"
    assert shop_again.send_text("count", from_user=USER).content == "shop count 2"


def test_accounts_share_one_store_and_keep_their_own_api_credentials(
    make_app: AppFactory, config: dict[str, Any]
) -> None:
    config["accounts"]["default"]["app_secret"] = "d" * 32
    config["accounts"]["shop"]["app_secret"] = "s" * 32
    state = make_app(config).extensions["wxserver"]
    default, shop = state.accounts["default"], state.accounts["shop"]
    assert default.store is shop.store is state.store
    assert (default.api.app_id, shop.api.app_id) == (APP_ID, SHOP_APP_ID)


def test_accounts_metrics_are_labelled_per_account(app: Flask) -> None:
    default, shop = _clients(app)
    for _ in range(3):
        default.send_text("hi")
    shop.send_text("hi")
    signed = sign_request(default.account, build_message("text", Content="x"), Mode.COMPAT)
    app.test_client().post(SHOP_PATH, query_string=signed.query, data=signed.body)
    text = app.test_client().get("/internal/metrics").get_data(as_text=True)
    requests = "wxserver_requests_total"
    assert _metric(text, requests, account="default", mode="compat", outcome="reply") == 3
    assert _metric(text, requests, account="shop", mode="secure", outcome="reply") == 1
    assert _metric(text, "wxserver_request_seconds_count", account="default") == 3
    assert _metric(text, "wxserver_request_seconds_count", account="shop") == 2
    assert _metric(text, "wxserver_refused_total", account="shop", stage="signature") == 1
    assert _metric(text, "wxserver_refused_total", account="default") == 0


# --- the same through gunicorn --------------------------------------------------------------

ENV = {
    "WX_ENV": "test",
    "WX_TOKEN": TOKEN,
    "WX_APPID": APP_ID,
    "WX_ENCODING_AES_KEY": AES_KEY,
    "WX_MODE": "compat",
    "WX_PLUGINS": "wxserver.builtin.echo:handlers",
    "WX_LOAD_ENTRY_POINTS": "false",
    "WX__ACCOUNTS__SHOP__PATH": SHOP_PATH,
    "WX__ACCOUNTS__SHOP__TOKEN": SHOP_TOKEN,
    "WX__ACCOUNTS__SHOP__APP_ID": SHOP_APP_ID,
    "WX__ACCOUNTS__SHOP__ENCODING_AES_KEY": SHOP_AES_KEY,
    "WX__ACCOUNTS__SHOP__MODE": "secure",
}


@pytest.fixture(scope="module")
def settings() -> Settings:
    return load_settings(ENV)


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    # tests.servers.gunicorn puts the store in a SQLite file every worker shares.
    with gunicorn(ENV, workers=2) as server:
        yield server.url


def _send(http: httpx.Client, url: str, account: Account, xml: bytes) -> tuple[int, str | None]:
    signed = sign_request(account, xml, account.mode)
    response = http.post(url + account.path, params=signed.query, content=signed.body)
    reply = open_reply(
        account, response.status_code, response.content, response.headers["content-type"]
    )
    return reply.status, reply.content


def test_accounts_through_gunicorn_with_two_workers(settings: Settings, server_url: str) -> None:
    default, shop = settings.account("default"), settings.account("shop")
    assert shop.mode is Mode.SECURE
    with httpx.Client(timeout=10) as http:
        for index in range(10):
            for account in (default, shop):
                content = f"{account.name} {index}"
                xml = build_message("text", Content=content)
                assert _send(http, server_url, account, xml) == (200, f"{content}\nseen 1")
        same = build_message("text", Content="same", MsgId=777, from_user=USER)
        assert _send(http, server_url, default, same) == (200, "same\nseen 1")
        assert _send(http, server_url, shop, same) == (200, "same\nseen 1")
        crossed = sign_request(default, build_message("text", Content="x"), default.mode)
        refused = http.post(server_url + SHOP_PATH, params=crossed.query, content=crossed.body)
        assert refused.status_code == 403
        text = http.get(f"{server_url}/internal/metrics").text
    # Summed over both workers, still apart per account.
    requests = "wxserver_requests_total"
    assert _metric(text, requests, account="default", mode="compat", outcome="reply") == 11
    assert _metric(text, requests, account="shop", mode="secure", outcome="reply") == 11
    assert _metric(text, "wxserver_refused_total", account="shop", stage="signature") == 1
    assert _metric(text, "wxserver_refused_total", account="default") == 0
