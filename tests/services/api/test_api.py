"""The WeChat API client against the fake platform on 127.0.0.1: alerts, failover, the token."""

from __future__ import annotations

import time

import pytest

from tests.fakewechat import APP_ID, APP_SECRET, CALLBACK_IPS, FakeWeChat
from tests.servers import free_port
from tests.services.api.clients import GETCALLBACKIP, OPENID, ClientFactory
from wxserver.protocol.api_errors import (
    ApiUnavailableError,
    ConfigAlertError,
    RetryableApiError,
    TokenInvalidError,
)
from wxserver.services.api.client import DEFAULT_BASE_URLS, OAuthGrant, WeChatAPI


def _closed_port_url() -> str:
    """A base URL on 127.0.0.1 where nothing listens: stands for an unreachable api host."""
    return f"http://127.0.0.1:{free_port()}"


# --- alerts from the platform -------------------------------------------------------------------


def test_api_an_alert_from_the_platform_raises_at_once(
    make_api: ClientFactory, fake: FakeWeChat
) -> None:
    api = make_api()
    fake.inject(GETCALLBACKIP, errcode=40164, errmsg="invalid ip 198.51.100.23, not in whitelist")
    with pytest.raises(ConfigAlertError, match=r"IP 198\.51\.100\.23 to the IP whitelist"):
        api.callback_ips()
    assert fake.calls(GETCALLBACKIP) == 1


def test_api_a_wrong_secret_is_a_configuration_error(fake: FakeWeChat) -> None:
    with WeChatAPI(APP_ID, "not-the-secret", base_urls=fake.url) as api:
        with pytest.raises(ConfigAlertError, match="WX_APPSECRET") as raised:
            api.fetch_access_token()
        assert "not-the-secret" not in str(raised.value)


# --- failover, back-off and timeouts ------------------------------------------------------------


def test_api_default_base_urls_are_names_in_failover_order() -> None:
    assert DEFAULT_BASE_URLS == (
        "https://api.weixin.qq.com",
        "https://api2.weixin.qq.com",
        "https://sh.api.weixin.qq.com",
        "https://sz.api.weixin.qq.com",
        "https://hk.api.weixin.qq.com",
    )


def test_api_unreachable_host_fails_over_to_the_next(
    make_api: ClientFactory, fake: FakeWeChat
) -> None:
    api = make_api([_closed_port_url(), fake.base_url("api2")])
    assert api.callback_ips() == CALLBACK_IPS
    assert fake.served_by[-1] == ("api2", GETCALLBACKIP)
    # A message send fails over too: the refused connection never carried it.
    api.send_text(OPENID, "via api2")
    assert fake.served_by[-1] == ("api2", "/cgi-bin/message/custom/send")
    assert len(fake.sent) == 1


@pytest.mark.parametrize("status", [500, 502, 503])
def test_api_5xx_fails_over_to_the_next(
    make_api: ClientFactory, fake: FakeWeChat, status: int
) -> None:
    api = make_api([fake.base_url("api"), fake.base_url("api2")])
    fake.inject(GETCALLBACKIP, status=status, host="api")
    assert api.callback_ips() == CALLBACK_IPS
    assert [h for h, p in fake.served_by if p == GETCALLBACKIP] == ["api", "api2"]


def test_api_connection_closed_without_an_answer_is_retried_then_fails_over(
    make_api: ClientFactory, fake: FakeWeChat
) -> None:
    api = make_api([fake.base_url("api"), fake.base_url("api2")])
    fake.inject(GETCALLBACKIP, close=True, times=2, host="api")
    assert api.callback_ips() == CALLBACK_IPS
    # Once more on a new connection to the same host (a kept-alive one may just have been
    # closed), then the next host.
    assert [h for h, p in fake.served_by if p == GETCALLBACKIP] == ["api", "api", "api2"]


def test_api_read_timeout_is_bounded_and_fails_over(
    make_api: ClientFactory, fake: FakeWeChat
) -> None:
    api = make_api([fake.base_url("api"), fake.base_url("api2")], read_timeout=0.3)
    fake.inject(GETCALLBACKIP, delay=3.0, host="api")
    started = time.monotonic()
    assert api.callback_ips() == CALLBACK_IPS
    # Well before the slow answer would have come: the 0.3 s read timeout cut it short.
    assert time.monotonic() - started < 2.5
    assert [h for h, p in fake.served_by if p == GETCALLBACKIP] == ["api", "api2"]


def test_api_a_send_that_timed_out_is_not_repeated(
    make_api: ClientFactory, fake: FakeWeChat
) -> None:
    api = make_api([fake.base_url("api"), fake.base_url("api2")], read_timeout=0.3)
    fake.inject("/cgi-bin/message/custom/send", delay=1.5)
    started = time.monotonic()
    with pytest.raises(ApiUnavailableError) as raised:
        api.send_text(OPENID, "maybe delivered")
    assert time.monotonic() - started < 1.2
    assert raised.value.outcome_unknown is True
    assert fake.calls("/cgi-bin/message/custom/send") == 1  # not sent again through api2
    time.sleep(1.5)
    assert len(fake.sent) == 1  # the platform did get it: repeating it would have sent it twice


def test_api_all_hosts_down_raises_within_bounded_time(make_api: ClientFactory) -> None:
    urls = [_closed_port_url(), _closed_port_url(), _closed_port_url()]
    api = make_api(urls, connect_timeout=0.5)
    started = time.monotonic()
    with pytest.raises(ApiUnavailableError) as raised:
        api.fetch_access_token()
    assert time.monotonic() - started < 3
    assert len(raised.value.attempts) == 3
    assert all(url in str(raised.value) for url in urls)
    assert APP_SECRET not in str(raised.value)


def test_api_busy_is_retried_on_the_same_host_after_a_backoff(
    make_api: ClientFactory, fake: FakeWeChat
) -> None:
    api = make_api([fake.base_url("api"), fake.base_url("api2")], busy_retries=2, backoff=0.1)
    fake.inject(GETCALLBACKIP, errcode=-1, times=2, host="api")
    started = time.monotonic()
    assert api.callback_ips() == CALLBACK_IPS
    assert time.monotonic() - started >= 0.3  # 0.1 s, then 0.2 s
    assert [h for h, p in fake.served_by if p == GETCALLBACKIP] == ["api", "api", "api"]


def test_api_busy_beyond_the_retries_fails_over_but_too_frequent_does_not(
    make_api: ClientFactory, fake: FakeWeChat
) -> None:
    api = make_api([fake.base_url("api"), fake.base_url("api2")], busy_retries=1, backoff=0.01)
    fake.inject(GETCALLBACKIP, errcode=-1, times=2, host="api")
    assert api.callback_ips() == CALLBACK_IPS
    assert [h for h, p in fake.served_by if p == GETCALLBACKIP] == ["api", "api", "api2"]
    # 45011 is the account's rate limit: another host would say the same.
    fake.inject("/cgi-bin/get_api_domain_ip", errcode=45011, times=5)
    with pytest.raises(RetryableApiError):
        api.api_domain_ips()
    assert [h for h, p in fake.served_by if p == "/cgi-bin/get_api_domain_ip"] == ["api", "api"]


# --- the access_token: heal once, never loop ------------------------------------------------------


def test_api_rejected_token_is_refreshed_once_and_the_call_retried(
    make_api: ClientFactory, fake: FakeWeChat
) -> None:
    api = make_api()
    assert api.callback_ips() == CALLBACK_IPS
    fake.revoke_current_token()  # e.g. another system force-refreshed it
    assert api.callback_ips() == CALLBACK_IPS
    assert fake.token_fetches() == 2  # the first token, one refresh
    assert fake.calls(GETCALLBACKIP) == 3  # the first call, the rejected one, one retry


def test_api_forced_40001_refreshes_exactly_once(make_api: ClientFactory, fake: FakeWeChat) -> None:
    api = make_api()
    fake.inject(GETCALLBACKIP, errcode=40001, errmsg="invalid credential")
    assert api.callback_ips() == CALLBACK_IPS
    assert fake.token_fetches() == 2
    assert fake.calls(GETCALLBACKIP) == 2


def test_api_a_second_rejection_is_raised_not_refreshed_again(
    make_api: ClientFactory, fake: FakeWeChat
) -> None:
    api = make_api()
    fake.inject(GETCALLBACKIP, errcode=40001, errmsg="invalid credential", times=2)
    with pytest.raises(TokenInvalidError):
        api.callback_ips()
    assert fake.token_fetches() == 2  # the first token, one refresh: no third fetch
    assert fake.calls(GETCALLBACKIP) == 2


@pytest.mark.parametrize("errcode", [40014, 42001])
def test_api_40014_and_42001_heal_like_40001(
    make_api: ClientFactory, fake: FakeWeChat, errcode: int
) -> None:
    api = make_api()
    fake.inject(GETCALLBACKIP, errcode=errcode)
    assert api.callback_ips() == CALLBACK_IPS
    assert fake.token_fetches() == 2
    assert fake.calls(GETCALLBACKIP) == 2


def test_api_a_user_token_rejection_does_not_touch_the_account_token(
    make_api: ClientFactory, fake: FakeWeChat
) -> None:
    api = make_api()
    grant = api.oauth_exchange_code(fake.oauth_code(OPENID))
    expired = OAuthGrant(
        openid=OPENID, scope=grant.scope, access_token="x", refresh_token="", expires_in=0
    )
    with pytest.raises(TokenInvalidError):
        api.oauth_userinfo(expired)
    assert fake.token_fetches() == 0


def test_api_without_a_token_provider_says_so(fake: FakeWeChat) -> None:
    with (
        WeChatAPI(APP_ID, APP_SECRET, base_urls=fake.url) as api,
        pytest.raises(RuntimeError, match="no token provider"),
    ):
        api.callback_ips()
