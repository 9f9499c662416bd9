"""The JS-SDK config endpoint: the official vector, the domains' 403, CORS, against the fake."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.fakewechat import APP_ID as FAKE_APP_ID
from tests.fakewechat import FakeWeChat
from tests.servers import free_port
from tests.support import load_vector
from tests.web_apps import AppBuilder, owner_of
from wxserver.protocol.signature import jsapi_signature
from wxserver.web import jssdk
from wxserver.web.jssdk import sign_page

VECTOR = load_vector("official__jssdk_signature_official")
CONFIG = "/jssdk/default/config"
GETTICKET = "/cgi-bin/ticket/getticket"
DOMAINS = ["example.com", "example.org/mp", "dev.example.net:8080"]
SHOP = "https://shop.example.com"
# Settings of the app the `build` fixture makes (tests/conftest.py).
APP_DEFAULTS = {"jssdk_domains": DOMAINS, "cors_origins": [SHOP]}


def config_for(client: FlaskClient, url: str, **headers: str) -> Any:
    return client.get(CONFIG, query_string={"url": url}, headers=headers)


# --- the official vector --------------------------------------------------------------------------

CASES = VECTOR["cases"]
CASE_IDS = ["with-query", "bare-host"]


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_jssdk_sign_page_matches_the_official_vector(case: dict[str, str]) -> None:
    for url in (case["url"], case["url"] + "#/some/route?x=1"):
        signed = sign_page(
            app_id="wxappid",
            ticket=VECTOR["jsapi_ticket"],
            url=url,
            nonce_str=VECTOR["noncestr"],
            timestamp=int(VECTOR["timestamp"]),
        )
        assert signed.signature == case["signature"]
        assert signed.url == case["url"]  # the fragment is not signed


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_jssdk_view_answers_the_official_vector(
    build: AppBuilder, fake: FakeWeChat, monkeypatch: pytest.MonkeyPatch, case: dict[str, str]
) -> None:
    app = build(jssdk_domains=["mp.weixin.qq.com"])
    monkeypatch.setattr(jssdk, "new_nonce", lambda: VECTOR["noncestr"])
    monkeypatch.setattr(jssdk, "now", lambda: int(VECTOR["timestamp"]))
    monkeypatch.setattr(owner_of(app), "jsapi_ticket", lambda: VECTOR["jsapi_ticket"])
    response = config_for(app.test_client(), case["url"] + "#section")
    assert response.status_code == 200
    assert response.get_json() == {
        "appId": FAKE_APP_ID,
        "timestamp": int(VECTOR["timestamp"]),
        "nonceStr": VECTOR["noncestr"],
        "signature": case["signature"],
        "url": case["url"],
    }
    assert fake.calls(GETTICKET) == 0


# --- against the fake platform ------------------------------------------------------------------


def test_jssdk_config_signs_with_the_owners_ticket_fetched_once(
    build: AppBuilder, fake: FakeWeChat
) -> None:
    app = build()
    client = app.test_client()
    page = "https://www.example.com/shop/item?id=7&from=timeline"
    first = config_for(client, page + "#reviews")
    second = config_for(client, page)
    assert first.status_code == second.status_code == 200
    assert first.headers["Cache-Control"] == "no-store"
    body = first.get_json()
    assert set(body) == {"appId", "timestamp", "nonceStr", "signature", "url"}
    assert body["appId"] == FAKE_APP_ID
    assert body["url"] == page
    assert re.fullmatch(r"[A-Za-z0-9]{16}", body["nonceStr"])
    assert abs(body["timestamp"] - time.time()) < 5
    ticket = owner_of(app).jsapi_ticket()
    assert ticket.startswith("ticket-1-")
    for answer in (body, second.get_json()):
        expected = jsapi_signature(
            ticket=ticket, noncestr=answer["nonceStr"], timestamp=answer["timestamp"], url=page
        )
        assert answer["signature"] == expected
    assert second.get_json()["nonceStr"] != body["nonceStr"]
    assert fake.calls(GETTICKET) == 1
    assert fake.token_fetches() == 1


@pytest.mark.parametrize(
    "url",
    [
        "",
        "example.com/page",
        "//example.com/page",
        "ftp://example.com/file",
        "javascript:alert(1)",
        "http://",
        "https:///path",
        "https://exa mple.com/",
        "https://example.com:port/",
        "https://example.com\\@evil.net/",
        "https://example.com/" + "a" * 5000,
    ],
    ids=[
        "empty",
        "no-scheme",
        "scheme-relative",
        "ftp",
        "javascript",
        "no-host",
        "empty-host",
        "space",
        "bad-port",
        "backslash",
        "too-long",
    ],
)
def test_jssdk_bad_url_is_400(client: FlaskClient, fake: FakeWeChat, url: str) -> None:
    response = config_for(client, url)
    assert response.status_code == 400
    assert "encodeURIComponent" in response.get_json()["error"]
    assert fake.calls(GETTICKET) == 0


def test_jssdk_missing_url_is_400(client: FlaskClient) -> None:
    assert client.get(CONFIG).status_code == 400


# --- pages outside the domains --------------------------------------------------------------------


def test_jssdk_host_outside_the_domains_is_403_naming_them(
    client: FlaskClient, fake: FakeWeChat
) -> None:
    response = config_for(client, "https://evil.example.net/page")
    assert response.status_code == 403
    error = response.get_json()["error"]
    assert "'evil.example.net'" in error
    assert "example.com, example.org/mp, dev.example.net:8080" in error
    assert fake.calls(GETTICKET) == 0


def test_jssdk_without_configured_domains_is_403(build: AppBuilder) -> None:
    client = build(jssdk_domains=[]).test_client()
    response = config_for(client, "https://example.com/")
    assert response.status_code == 403
    assert "WX_JSSDK_DOMAINS" in response.get_json()["error"]


# --- CORS -----------------------------------------------------------------------------------------


def test_jssdk_cors_echoes_an_allowed_origin(client: FlaskClient) -> None:
    response = config_for(client, "https://example.com/", Origin=SHOP)
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == SHOP
    assert "Origin" in response.headers["Vary"]
    assert "Access-Control-Allow-Credentials" not in response.headers


def test_jssdk_cors_origins_compare_without_case_or_trailing_slash(build: AppBuilder) -> None:
    client = build(cors_origins=["HTTPS://Shop.Example.com/"]).test_client()
    response = config_for(client, "https://example.com/", Origin=SHOP)
    assert response.headers["Access-Control-Allow-Origin"] == SHOP


@pytest.mark.parametrize(
    "origin",
    [
        "https://evil.example.net",
        "http://shop.example.com",
        "https://shop.example.com:8443",
        "null",
    ],
    ids=["other-site", "other-scheme", "other-port", "null"],
)
def test_jssdk_cors_refuses_other_origins(client: FlaskClient, origin: str) -> None:
    response = config_for(client, "https://example.com/", Origin=origin)
    # Served, but without the header the browser will not hand the answer to the page.
    assert response.status_code == 200
    assert "Access-Control-Allow-Origin" not in response.headers
    assert "Origin" in response.headers["Vary"]


def test_jssdk_cors_is_never_a_wildcard(build: AppBuilder) -> None:
    client = build(cors_origins=["*"]).test_client()
    response = config_for(client, "https://example.com/", Origin=SHOP)
    assert "Access-Control-Allow-Origin" not in response.headers


def test_jssdk_cors_without_origin_adds_nothing(client: FlaskClient) -> None:
    response = config_for(client, "https://example.com/")
    assert "Access-Control-Allow-Origin" not in response.headers


def test_jssdk_cors_applies_to_refusals_too(client: FlaskClient) -> None:
    # The page's script can then read why it was refused.
    response = config_for(client, "https://evil.example.net/", Origin=SHOP)
    assert response.status_code == 403
    assert response.headers["Access-Control-Allow-Origin"] == SHOP


def test_jssdk_preflight_from_an_allowed_origin(client: FlaskClient, fake: FakeWeChat) -> None:
    response = client.options(
        CONFIG, headers={"Origin": SHOP, "Access-Control-Request-Method": "GET"}
    )
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == SHOP
    assert response.headers["Access-Control-Allow-Methods"] == "GET"
    assert response.headers["Access-Control-Max-Age"] == "600"
    assert "Origin" in response.headers["Vary"]
    assert fake.calls(GETTICKET) == 0


def test_jssdk_preflight_from_another_origin_is_403(client: FlaskClient) -> None:
    response = client.options(
        CONFIG,
        headers={"Origin": "https://evil.example.net", "Access-Control-Request-Method": "GET"},
    )
    assert response.status_code == 403
    assert "Access-Control-Allow-Origin" not in response.headers
    assert "Access-Control-Allow-Methods" not in response.headers


def test_jssdk_preflight_for_an_unknown_account_is_404(client: FlaskClient) -> None:
    response = client.options("/jssdk/shop/config", headers={"Origin": SHOP})
    assert response.status_code == 404


# --- accounts and WeChat failing ------------------------------------------------------------------


def test_jssdk_unknown_account_is_404(client: FlaskClient) -> None:
    response = client.get("/jssdk/shop/config", query_string={"url": "https://example.com/"})
    assert response.status_code == 404
    assert response.get_json() == {"error": "There is no account named 'shop'."}


def test_jssdk_account_without_appsecret_is_409(build: AppBuilder) -> None:
    client = build(app_secret="").test_client()
    response = config_for(client, "https://example.com/")
    assert response.status_code == 409
    assert "AppSecret" in response.get_json()["error"]


def test_jssdk_ticket_refused_is_502_without_operator_details(
    client: FlaskClient, fake: FakeWeChat
) -> None:
    fake.inject(GETTICKET, errcode=40164, errmsg="invalid ip 203.0.113.7, not in whitelist")
    response = config_for(client, "https://example.com/", Origin=SHOP)
    assert response.status_code == 502
    assert response.get_json() == {
        "error": "WeChat refused the request (errcode 40164); see the server log.",
        "errcode": 40164,
    }
    assert "203.0.113.7" not in response.text
    assert response.headers["Access-Control-Allow-Origin"] == SHOP


def test_jssdk_unreachable_wechat_is_503(build: AppBuilder) -> None:
    app = build(base_url=f"http://127.0.0.1:{free_port()}")
    response = config_for(app.test_client(), "https://example.com/")
    assert response.status_code == 503
    assert response.get_json()["errcode"] is None
    assert "Traceback" not in response.text
