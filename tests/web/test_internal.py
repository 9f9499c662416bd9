"""The token centre for business servers, against the fake platform on 127.0.0.1."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.fakewechat import APP_ID as FAKE_APP_ID
from tests.fakewechat import APP_SECRET as FAKE_APP_SECRET
from tests.fakewechat import FakeWeChat
from tests.servers import free_port
from tests.web_apps import SECRET, AppBuilder, owner_of
from wxserver.services.api.client import WeChatAPI

AUTH = {"Authorization": f"Bearer {SECRET}"}
TOKEN_URL = "/internal/accounts/default/token"
REFRESH_URL = "/internal/accounts/default/token/refresh"
TICKET_URL = "/internal/accounts/default/jsapi_ticket"
STABLE = "/cgi-bin/stable_token"
GETTICKET = "/cgi-bin/ticket/getticket"


def accepted(fake: FakeWeChat, token: str) -> bool:
    """Does the platform accept ``token`` right now?"""
    with WeChatAPI(FAKE_APP_ID, FAKE_APP_SECRET, base_urls=fake.url) as api:
        try:
            api.call("GET", "/cgi-bin/getcallbackip", params={"access_token": token}, token=False)
        except Exception:
            return False
    return True


# --- off, authentication, accounts --------------------------------------------------------------

ROUTES = [("GET", TOKEN_URL), ("POST", REFRESH_URL), ("GET", TICKET_URL)]


@pytest.mark.parametrize(("method", "path"), ROUTES, ids=["token", "refresh", "ticket"])
def test_internal_routes_are_off_without_a_secret(
    build: AppBuilder, fake: FakeWeChat, method: str, path: str
) -> None:
    client = build(secret="").test_client()
    response = client.open(path, method=method, headers=AUTH, json={"stale_token": "x"})
    assert response.status_code == 404
    assert response.data == client.get("/internal/accounts/no/such/path").data
    assert fake.token_fetches() == 0


@pytest.mark.parametrize(("method", "path"), ROUTES, ids=["token", "refresh", "ticket"])
@pytest.mark.parametrize(
    "auth",
    [
        (None, 'Bearer realm="wxserver internal"'),
        (f"Bearer {SECRET}x", 'Bearer realm="wxserver internal", error="invalid_token"'),
        ("Bearer wrong", 'Bearer realm="wxserver internal", error="invalid_token"'),
        (f"Basic {SECRET}", 'Bearer realm="wxserver internal", error="invalid_token"'),
        ("Bearer", 'Bearer realm="wxserver internal"'),
    ],
    ids=["missing", "longer", "wrong", "basic-scheme", "empty"],
)
def test_internal_wrong_or_missing_bearer_is_401(
    client: FlaskClient,
    fake: FakeWeChat,
    method: str,
    path: str,
    auth: tuple[str | None, str],
) -> None:
    header, challenge = auth
    headers = {"Authorization": header} if header is not None else {}
    response = client.open(path, method=method, headers=headers, json={"stale_token": "x"})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == challenge
    assert "WX_INTERNAL_SECRET" in response.get_json()["error"]
    assert fake.token_fetches() == 0


def test_internal_bearer_scheme_is_case_insensitive(client: FlaskClient) -> None:
    response = client.get(TOKEN_URL, headers={"Authorization": f"bearer {SECRET}"})
    assert response.status_code == 200


def test_internal_unknown_account_is_404(client: FlaskClient) -> None:
    response = client.get("/internal/accounts/shop/token", headers=AUTH)
    assert response.status_code == 404
    assert response.get_json() == {"error": "There is no account named 'shop'."}


def test_internal_account_without_appsecret_is_409(build: AppBuilder, fake: FakeWeChat) -> None:
    client = build(app_secret="").test_client()
    response = client.get(TOKEN_URL, headers=AUTH)
    assert response.status_code == 409
    assert "has no AppSecret" in response.get_json()["error"]
    assert "WX_APPSECRET" in response.get_json()["error"]
    assert fake.token_fetches() == 0


# --- the token ------------------------------------------------------------------------------------


def test_internal_token_is_the_owners_and_fetched_once(
    client: FlaskClient, fake: FakeWeChat
) -> None:
    first = client.get(TOKEN_URL, headers=AUTH)
    second = client.get(TOKEN_URL, headers=AUTH)
    assert first.status_code == second.status_code == 200
    assert first.headers["Cache-Control"] == "no-store"
    body = first.get_json()
    assert set(body) == {"access_token", "expires_at"}
    assert second.get_json() == body
    assert accepted(fake, body["access_token"])
    assert time.time() + 7000 < body["expires_at"] <= time.time() + 7200
    assert fake.token_fetches() == 1


def test_internal_refresh_of_a_stale_token_fetches_once_for_many_reports(
    client: FlaskClient, fake: FakeWeChat
) -> None:
    stale = client.get(TOKEN_URL, headers=AUTH).get_json()["access_token"]
    fake.revoke_current_token()  # e.g. someone force-refreshed it outside this server
    assert not accepted(fake, stale)
    answers = [
        client.post(REFRESH_URL, headers=AUTH, json={"stale_token": stale}) for _ in range(3)
    ]
    assert [answer.status_code for answer in answers] == [200, 200, 200]
    fresh = {answer.get_json()["access_token"] for answer in answers}
    assert len(fresh) == 1
    assert stale not in fresh
    assert accepted(fake, fresh.pop())
    assert fake.token_fetches() == 2  # the first token, and one refresh for three reports
    assert client.get(TOKEN_URL, headers=AUTH).get_json() == answers[0].get_json()


def test_internal_refresh_of_a_token_already_replaced_fetches_nothing(
    client: FlaskClient, fake: FakeWeChat
) -> None:
    current = client.get(TOKEN_URL, headers=AUTH).get_json()
    response = client.post(REFRESH_URL, headers=AUTH, json={"stale_token": "an-older-token"})
    assert response.status_code == 200
    assert response.get_json() == current
    assert fake.token_fetches() == 1


def test_internal_classic_tokens_refresh_once_too(build: AppBuilder, fake: FakeWeChat) -> None:
    client = build(token_mode="classic").test_client()
    stale = client.get(TOKEN_URL, headers=AUTH).get_json()["access_token"]
    first = client.post(REFRESH_URL, headers=AUTH, json={"stale_token": stale}).get_json()
    again = client.post(REFRESH_URL, headers=AUTH, json={"stale_token": stale}).get_json()
    assert first == again
    assert first["access_token"] != stale
    assert fake.calls("/cgi-bin/token") == 2


def test_internal_a_token_reported_twice_after_its_refresh_is_not_fetched_again(
    client: FlaskClient, fake: FakeWeChat
) -> None:
    # The stable token comes back unchanged while it is valid, so a business server that keeps
    # reporting a working token gets one refresh, then a 502 saying why, never a fetch loop.
    token = client.get(TOKEN_URL, headers=AUTH).get_json()["access_token"]
    first = client.post(REFRESH_URL, headers=AUTH, json={"stale_token": token})
    assert first.get_json()["access_token"] == token
    second = client.post(REFRESH_URL, headers=AUTH, json={"stale_token": token})
    assert second.status_code == 502
    body = second.get_json()
    assert body["errcode"] == 40001
    assert "force_refresh" in body["action"]
    assert fake.token_fetches() == 2


@pytest.mark.parametrize(
    "request_options",
    [
        {},
        {"data": "stale", "content_type": "text/plain"},
        {"data": "{not json", "content_type": "application/json"},
        {"json": {}},
        {"json": {"stale_token": 5}},
        {"json": {"stale_token": ""}},
        {"json": ["stale_token"]},
    ],
    ids=["no-body", "text", "bad-json", "no-field", "number", "empty", "list"],
)
def test_internal_refresh_needs_the_stale_token(
    client: FlaskClient, fake: FakeWeChat, request_options: dict[str, Any]
) -> None:
    response = client.post(REFRESH_URL, headers=AUTH, **request_options)
    assert response.status_code == 400
    assert "stale_token" in response.get_json()["error"]
    assert fake.token_fetches() == 0


# --- the ticket -----------------------------------------------------------------------------------


def test_internal_jsapi_ticket_is_cached_by_the_owner(
    client: FlaskClient, build: AppBuilder, fake: FakeWeChat
) -> None:
    first = client.get(TICKET_URL, headers=AUTH)
    second = client.get(TICKET_URL, headers=AUTH)
    assert first.status_code == 200
    body = first.get_json()
    assert set(body) == {"ticket", "expires_at"}
    assert body["ticket"].startswith("ticket-1-")
    assert second.get_json() == body
    assert body["expires_at"] > time.time() + 7000
    assert fake.calls(GETTICKET) == 1
    assert fake.token_fetches() == 1


# --- WeChat failing -------------------------------------------------------------------------------


def test_internal_config_alert_is_502_with_errcode_and_action(
    client: FlaskClient, fake: FakeWeChat
) -> None:
    errmsg = "invalid ip 203.0.113.7 ipv6 ::ffff:203.0.113.7, not in whitelist rid: 1"
    fake.inject(STABLE, errcode=40164, errmsg=errmsg)
    response = client.get(TOKEN_URL, headers=AUTH)
    assert response.status_code == 502
    body = response.get_json()
    assert body["errcode"] == 40164
    assert "203.0.113.7" in body["action"]
    assert "IP白名单" in body["action"]
    assert "Traceback" not in response.text


def test_internal_ticket_failure_is_502(client: FlaskClient, fake: FakeWeChat) -> None:
    fake.inject(GETTICKET, errcode=48001, errmsg="api unauthorized")
    response = client.get(TICKET_URL, headers=AUTH)
    assert response.status_code == 502
    assert response.get_json()["errcode"] == 48001
    assert "接口权限" in response.get_json()["action"]


def test_internal_unreachable_wechat_is_503(build: AppBuilder) -> None:
    client = build(base_url=f"http://127.0.0.1:{free_port()}").test_client()
    response = client.get(TOKEN_URL, headers=AUTH)
    assert response.status_code == 503
    body = response.get_json()
    assert body["errcode"] is None
    assert "no usable answer" in body["error"]


def test_internal_busy_wechat_is_503(client: FlaskClient, fake: FakeWeChat) -> None:
    fake.inject(STABLE, errcode=-1, errmsg="system busy", times=20)
    response = client.get(TOKEN_URL, headers=AUTH)
    assert response.status_code == 503
    assert response.get_json()["errcode"] == -1


def test_internal_a_refresh_that_does_not_finish_elsewhere_is_503(
    build: AppBuilder, fake: FakeWeChat
) -> None:
    app = build()
    owner = owner_of(app)
    owner.lock_wait = 0.1
    # Another process holds the refresh and never writes a token.
    owner.store.set(f"tokens:{FAKE_APP_ID}:access_token:refreshing", b"1", ttl=30)
    response = app.test_client().get(TOKEN_URL, headers=AUTH)
    assert response.status_code == 503
    assert "did not finish" in response.get_json()["error"]
    assert fake.token_fetches() == 0


def test_internal_tokens_never_reach_the_log(
    client: FlaskClient, fake: FakeWeChat, caplog: pytest.LogCaptureFixture
) -> None:
    # wxserver's own loggers, the ones its logging set-up writes out.
    with caplog.at_level(logging.DEBUG, logger="wxserver"):
        stale = client.get(TOKEN_URL, headers=AUTH).get_json()["access_token"]
        fake.revoke_current_token()
        fresh = client.post(REFRESH_URL, headers=AUTH, json={"stale_token": stale})
        ticket = client.get(TICKET_URL, headers=AUTH).get_json()["ticket"]
    secrets = [stale, fresh.get_json()["access_token"], ticket, SECRET]
    assert "reported its access_token stale; it was replaced" in caplog.text
    for record in caplog.records:
        if record.name.startswith("wxserver"):
            assert not any(secret in record.getMessage() for secret in secrets)
