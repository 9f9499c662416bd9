"""Web-page authorization: the redirect, the state, the code exchange and the hand-over."""

from __future__ import annotations

import time
from urllib.parse import parse_qsl, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.fakewechat import APP_ID as FAKE_APP_ID
from tests.fakewechat import FakeWeChat
from tests.oauth_cases import DOMAINS, OPENID, REFUSED_NEXT
from tests.web_apps import SECRET, AppBuilder
from wxserver.services import oauth as service
from wxserver.services.oauth import OAuthResult, OpenIdTokens, Scope
from wxserver.web.oauth import set_login_handler, with_token

AUTHORIZE = "/oauth/default/authorize"
CALLBACK = "/oauth/default/callback"
EXCHANGE = "/sns/oauth2/access_token"
USERINFO = "/sns/userinfo"
# Settings of the app the `build` fixture makes (tests/conftest.py).
APP_DEFAULTS = {"jssdk_domains": DOMAINS}


@pytest.fixture
def app(build: AppBuilder) -> Flask:
    return build()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def start(client: FlaskClient, path: str = AUTHORIZE, **query: str) -> dict[str, str]:
    """Begin a sign-in; return the parameters of the consent page URL."""
    response = client.get(path, query_string=query)
    assert response.status_code == 302, response.text
    return dict(parse_qsl(urlsplit(response.headers["Location"]).query))


def finish(client: FlaskClient, state: str, code: str | None, path: str = CALLBACK) -> TestResponse:
    """Come back from WeChat with ``state`` (and ``code`` unless the user declined)."""
    query = {"state": state} if code is None else {"state": state, "code": code}
    return client.get(path, query_string=query)


def token_in(location: str) -> OAuthResult:
    """The result signed into the redirect to the next URL."""
    token = dict(parse_qsl(urlsplit(location).query))["wx_oauth"]
    return OpenIdTokens(SECRET, FAKE_APP_ID).loads(token)


# --- the redirect to WeChat ---------------------------------------------------------------------


def test_oauth_authorize_redirects_to_wechat_with_its_exact_parameters(
    app: Flask, client: FlaskClient
) -> None:
    response = client.get(AUTHORIZE, query_string={"next": "/welcome"})
    assert response.status_code == 302
    location = response.headers["Location"]
    prefix = (
        "https://open.weixin.qq.com/connect/oauth2/authorize?appid=wx0000000000fakeapp"
        "&redirect_uri=http%3A%2F%2Flocalhost%2Foauth%2Fdefault%2Fcallback"
        "&response_type=code&scope=snsapi_base&state="
    )
    assert location.startswith(prefix)
    assert location.endswith("#wechat_redirect")
    state = location[len(prefix) : -len("#wechat_redirect")]
    assert len(state) == 32
    assert int(state, 16) >= 0
    assert app.extensions["wxserver"].store.get(f"oauth:state:default:{state}") is not None
    assert response.headers["Cache-Control"] == "no-store"
    cookie = response.headers["Set-Cookie"]
    for part in ("wxserver_oauth=", "HttpOnly", "SameSite=Lax", "Path=/oauth/default/"):
        assert part in cookie
    assert "Secure" not in cookie


def test_oauth_authorize_behind_https_names_the_https_callback(client: FlaskClient) -> None:
    response = client.get(AUTHORIZE, query_string={"next": "/"}, base_url="https://wx.example.com")
    assert (
        "redirect_uri=https%3A%2F%2Fwx.example.com%2Foauth%2Fdefault%2Fcallback"
        in (response.headers["Location"])
    )
    assert "Secure" in response.headers["Set-Cookie"]


def test_oauth_each_sign_in_gets_its_own_state_and_one_browser_id(client: FlaskClient) -> None:
    first = client.get(AUTHORIZE, query_string={"next": "/"})
    second = client.get(AUTHORIZE, query_string={"next": "/"})
    assert first.headers["Location"] != second.headers["Location"]
    assert first.headers["Set-Cookie"].split(";")[0] == second.headers["Set-Cookie"].split(";")[0]


@pytest.mark.parametrize("scope", ["", "snsapi_login", "SNSAPI_BASE"])
def test_oauth_bad_scope_is_400(client: FlaskClient, scope: str) -> None:
    response = client.get(AUTHORIZE, query_string={"scope": scope, "next": "/"})
    assert response.status_code == 400
    assert "snsapi_base or snsapi_userinfo" in response.text


# --- the whole sign-in against the fake ---------------------------------------------------------


def test_oauth_snsapi_base_hands_a_signed_openid_to_a_relative_next(
    client: FlaskClient, fake: FakeWeChat
) -> None:
    params = start(client, next="/welcome?from=menu")
    assert params["scope"] == "snsapi_base"
    response = finish(client, params["state"], fake.oauth_code(OPENID))
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith("/welcome?from=menu&wx_oauth=")
    assert OPENID not in location
    assert response.headers["Cache-Control"] == "no-store"
    result = token_in(location)
    assert result.openid == OPENID
    assert result.scope is Scope.BASE
    assert result.profile is None
    assert result.account == "default"
    assert fake.calls(EXCHANGE) == 1
    assert fake.calls(USERINFO) == 0
    assert fake.token_fetches() == 0  # the user's token, never the account's


def test_oauth_snsapi_userinfo_fetches_the_profile(client: FlaskClient, fake: FakeWeChat) -> None:
    params = start(client, scope="snsapi_userinfo", next="https://m.example.com/me?x=1#top")
    assert params["scope"] == "snsapi_userinfo"
    response = finish(client, params["state"], fake.oauth_code(OPENID))
    location = response.headers["Location"]
    assert location.startswith("https://m.example.com/me?x=1&wx_oauth=")
    assert location.endswith("#top")
    result = token_in(location)
    assert result.scope is Scope.USERINFO
    assert result.profile is not None
    assert result.profile["nickname"] == "测试用户"
    assert fake.calls(USERINFO) == 1


def test_oauth_configured_next_is_used_when_none_is_given(
    build: AppBuilder, fake: FakeWeChat
) -> None:
    client = build(oauth_next="https://example.com/after").test_client()
    params = start(client)
    response = finish(client, params["state"], fake.oauth_code(OPENID))
    assert response.headers["Location"].startswith("https://example.com/after?wx_oauth=")


# --- the state ------------------------------------------------------------------------------------


def test_oauth_state_is_single_use(client: FlaskClient, fake: FakeWeChat) -> None:
    params = start(client, next="/")
    assert finish(client, params["state"], fake.oauth_code(OPENID)).status_code == 302
    again = finish(client, params["state"], fake.oauth_code(OPENID))
    assert again.status_code == 400
    assert "already used" in again.text
    assert fake.calls(EXCHANGE) == 1


@pytest.mark.parametrize(
    "state", ["", "0" * 32, "not-a-state", "A" * 32], ids=["missing", "unknown", "junk", "upper"]
)
def test_oauth_unknown_state_is_400(client: FlaskClient, fake: FakeWeChat, state: str) -> None:
    start(client, next="/")
    response = finish(client, state, fake.oauth_code(OPENID))
    assert response.status_code == 400
    assert "start the sign-in again" in response.text
    assert fake.calls(EXCHANGE) == 0


def test_oauth_expired_state_is_400(
    client: FlaskClient, fake: FakeWeChat, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service, "STATE_TTL", 0.05)
    params = start(client, next="/")
    time.sleep(0.1)
    response = finish(client, params["state"], fake.oauth_code(OPENID))
    assert response.status_code == 400
    assert fake.calls(EXCHANGE) == 0


def test_oauth_state_from_another_browser_is_400(app: Flask, fake: FakeWeChat) -> None:
    # Login CSRF: someone starts a sign-in and gets a victim's browser to complete it.
    params = start(app.test_client(), next="/")
    response = finish(app.test_client(), params["state"], fake.oauth_code(OPENID))
    assert response.status_code == 400
    assert "another browser" in response.text
    assert fake.calls(EXCHANGE) == 0


def test_oauth_state_of_another_account_is_400(build: AppBuilder, fake: FakeWeChat) -> None:
    client = build(others={"shop": {"path": "/wechat/shop"}}).test_client()
    params = start(client, next="/")
    response = finish(client, params["state"], fake.oauth_code(OPENID), "/oauth/shop/callback")
    assert response.status_code == 400
    assert fake.calls(EXCHANGE) == 0


# --- no open redirect -----------------------------------------------------------------------------


@pytest.mark.parametrize("next_url", REFUSED_NEXT)
def test_oauth_open_redirect_is_refused(app: Flask, client: FlaskClient, next_url: str) -> None:
    response = client.get(AUTHORIZE, query_string={"next": next_url})
    assert response.status_code == 400
    assert "next must be a path on this site" in response.text
    assert "Set-Cookie" not in response.headers


@pytest.mark.parametrize(
    ("next_url", "expected"),
    [
        ("/a", "/a?wx_oauth=T.1"),
        ("/a?", "/a?wx_oauth=T.1"),
        ("/a?b=1", "/a?b=1&wx_oauth=T.1"),
        ("/a?b=1&", "/a?b=1&wx_oauth=T.1"),
        ("https://example.com/#/route?x=1", "https://example.com/?wx_oauth=T.1#/route?x=1"),
    ],
)
def test_oauth_token_is_added_to_the_next_urls_query(next_url: str, expected: str) -> None:
    assert with_token(next_url, "T.1") == expected


# --- refusals in the callback ---------------------------------------------------------------------


def test_oauth_declined_authorization_is_403_and_uses_the_state(
    client: FlaskClient, fake: FakeWeChat
) -> None:
    params = start(client, scope="snsapi_userinfo", next="/")
    response = finish(client, params["state"], None)
    assert response.status_code == 403
    assert "not authorised" in response.text
    assert finish(client, params["state"], fake.oauth_code(OPENID)).status_code == 400
    assert fake.calls(EXCHANGE) == 0


def test_oauth_invalid_or_used_code_is_400(client: FlaskClient, fake: FakeWeChat) -> None:
    params = start(client, next="/")
    response = finish(client, params["state"], "no-such-code")
    assert response.status_code == 400
    assert "invalid or already used" in response.text
    code = fake.oauth_code(OPENID)
    assert finish(client, start(client, next="/")["state"], code).status_code == 302
    reused = finish(client, start(client, next="/")["state"], code)  # 40163
    assert reused.status_code == 400
    assert fake.calls(EXCHANGE) == 3


def test_oauth_unknown_account_is_404(client: FlaskClient) -> None:
    assert client.get("/oauth/shop/authorize", query_string={"next": "/"}).status_code == 404
    assert client.get("/oauth/shop/callback", query_string={"state": "x"}).status_code == 404


def test_oauth_account_without_appsecret_is_409(build: AppBuilder) -> None:
    client = build(app_secret="").test_client()
    response = client.get(AUTHORIZE, query_string={"next": "/"})
    assert response.status_code == 409
    assert "AppSecret" in response.text


def test_oauth_without_next_or_handler_is_400(client: FlaskClient) -> None:
    response = client.get(AUTHORIZE)
    assert response.status_code == 400
    assert "WX_OAUTH_NEXT" in response.text


def test_oauth_without_secret_or_handler_is_409(build: AppBuilder) -> None:
    client = build(secret="").test_client()
    response = client.get(AUTHORIZE, query_string={"next": "/"})
    assert response.status_code == 409
    assert "WX_INTERNAL_SECRET" in response.text


def test_oauth_unreachable_exchange_is_503(client: FlaskClient, fake: FakeWeChat) -> None:
    params = start(client, next="/")
    fake.inject(EXCHANGE, status=502)
    response = finish(client, params["state"], fake.oauth_code(OPENID))
    assert response.status_code == 503
    assert response.text == "WeChat did not answer in time; try again shortly.\n"


def test_oauth_refused_exchange_is_502(client: FlaskClient, fake: FakeWeChat) -> None:
    params = start(client, next="/")
    fake.inject(EXCHANGE, errcode=40164, errmsg="invalid ip 203.0.113.7, not in whitelist")
    response = finish(client, params["state"], fake.oauth_code(OPENID))
    assert response.status_code == 502
    assert "errcode 40164" in response.text
    assert "203.0.113.7" not in response.text


def test_oauth_profile_refused_is_502(client: FlaskClient, fake: FakeWeChat) -> None:
    params = start(client, scope="snsapi_userinfo", next="/")
    fake.inject(USERINFO, errcode=40001, errmsg="invalid credential")
    response = finish(client, params["state"], fake.oauth_code(OPENID))
    assert response.status_code == 502
    assert "errcode 40001" in response.text


# --- handing the result to application code -------------------------------------------------------


def test_oauth_login_handler_receives_the_result_and_answers(
    build: AppBuilder, fake: FakeWeChat
) -> None:
    app = build(secret="")  # a handler needs no next URL and no secret
    seen: list[OAuthResult] = []

    def signed_in(result: OAuthResult) -> str:
        seen.append(result)
        return f"hello {result.profile['nickname'] if result.profile else result.openid}"

    assert set_login_handler(app, signed_in) is signed_in
    client = app.test_client()
    params = start(client, scope="snsapi_userinfo")
    response = finish(client, params["state"], fake.oauth_code(OPENID))
    assert response.status_code == 200
    assert response.text == "hello 测试用户"
    assert [(r.openid, r.scope, r.account, r.next_url) for r in seen] == [
        (OPENID, Scope.USERINFO, "default", "")
    ]


def test_oauth_login_handler_returning_none_falls_through_to_next(
    app: Flask, fake: FakeWeChat
) -> None:
    seen: list[str] = []
    set_login_handler(app, lambda result: seen.append(result.openid))
    client = app.test_client()
    params = start(client, next="/done")
    response = finish(client, params["state"], fake.oauth_code(OPENID))
    assert seen == [OPENID]
    assert token_in(response.headers["Location"]).openid == OPENID
