"""The WeChat API client against the fake platform on 127.0.0.1: errors, failover, typed calls."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.fakewechat import API_IPS, APP_ID, APP_SECRET, CALLBACK_IPS, FakeWeChat
from tests.servers import ROOT, free_port
from wxserver.protocol.api_errors import (
    ApiError,
    ApiUnavailableError,
    ConfigAlertError,
    DropError,
    OtherApiError,
    RetryableApiError,
    TokenInvalidError,
    classify,
)
from wxserver.protocol.errors import WxServerError
from wxserver.services.api.client import DEFAULT_BASE_URLS, Grant, OAuthGrant, WeChatAPI
from wxserver.services.store import MemoryStore
from wxserver.services.tokens import TokenOwner

OPENID = "oWxServerApiTestUser0000000"
GETCALLBACKIP = "/cgi-bin/getcallbackip"

ClientFactory = Callable[..., WeChatAPI]


@pytest.fixture
def fake() -> Iterator[FakeWeChat]:
    with FakeWeChat() as running:
        yield running


@pytest.fixture
def make_api(fake: FakeWeChat) -> Iterator[ClientFactory]:
    """A client of the fake with a token owner on a MemoryStore; closed after the test."""
    clients: list[WeChatAPI] = []

    def factory(base_urls: str | list[str] | None = None, **options: Any) -> WeChatAPI:
        options.setdefault("backoff", 0.05)
        api = WeChatAPI(APP_ID, APP_SECRET, base_urls=base_urls or fake.url, **options)
        api.tokens = TokenOwner(MemoryStore(), api, APP_ID)
        clients.append(api)
        return api

    yield factory
    for api in clients:
        api.close()


def _closed_port_url() -> str:
    """A base URL on 127.0.0.1 where nothing listens: stands for an unreachable api host."""
    return f"http://127.0.0.1:{free_port()}"


# --- errcode classification -------------------------------------------------------------------


CLASSIFIED: list[tuple[int, str, type[ApiError]]] = [
    (40001, GETCALLBACKIP, TokenInvalidError),
    (40014, GETCALLBACKIP, TokenInvalidError),
    (42001, GETCALLBACKIP, TokenInvalidError),
    (-1, GETCALLBACKIP, RetryableApiError),
    (45011, GETCALLBACKIP, RetryableApiError),
    (40164, GETCALLBACKIP, ConfigAlertError),
    (48001, GETCALLBACKIP, ConfigAlertError),
    (40013, "/cgi-bin/stable_token", ConfigAlertError),
    (45009, GETCALLBACKIP, ConfigAlertError),
    (89501, GETCALLBACKIP, ConfigAlertError),
    (89503, GETCALLBACKIP, ConfigAlertError),
    (89506, GETCALLBACKIP, ConfigAlertError),
    (89507, GETCALLBACKIP, ConfigAlertError),
    (40001, "/cgi-bin/stable_token", ConfigAlertError),  # no token was sent: the secret
    (40125, "/cgi-bin/token", ConfigAlertError),
    (43004, "/cgi-bin/message/custom/send", DropError),
    (45015, "/cgi-bin/message/custom/send", DropError),
    (45047, "/cgi-bin/message/custom/send", DropError),
    (40003, "/cgi-bin/message/custom/send", OtherApiError),
    (99999, GETCALLBACKIP, OtherApiError),
]


@pytest.mark.parametrize(
    ("errcode", "path", "kind"),
    CLASSIFIED,
    ids=[f"{code}-{path.rsplit('/', 1)[-1]}" for code, path, _ in CLASSIFIED],
)
def test_api_errcodes_are_classified(errcode: int, path: str, kind: type[ApiError]) -> None:
    error = classify(errcode, "platform text", path=path)
    assert type(error) is kind
    assert isinstance(error, ApiError)
    assert isinstance(error, WxServerError)
    assert error.errcode == errcode
    assert error.errmsg == "platform text"
    assert error.meaning
    assert "platform text" in str(error)


ALERTS = [
    (
        40164,
        "invalid ip 203.0.113.7 ipv6 ::ffff:203.0.113.7, not in whitelist rid: 64f1",
        "Add this server's IP 203.0.113.7 to the IP whitelist in the MP console: "
        "设置与开发 > 基本配置 > IP白名单.",
    ),
    (45009, "reach max api daily quota limit", "/cgi-bin/clear_quota"),
    (48001, "api unauthorized", "设置与开发 > 接口权限"),
    (40013, "invalid appid", "WX_APPID"),
    (89503, "risky ip 203.0.113.7", "approve it"),
    (89501, "ip 203.0.113.7 waiting for admin confirm", "pause calls until then"),
    (89506, "ip 203.0.113.7 refused twice", "blocked for 24 hours"),
    (89507, "ip 203.0.113.7 refused", "blocked for one hour"),
]


@pytest.mark.parametrize(("errcode", "errmsg", "says"), ALERTS, ids=[str(a[0]) for a in ALERTS])
def test_api_alerts_say_what_to_do(errcode: int, errmsg: str, says: str) -> None:
    error = classify(errcode, errmsg)
    assert isinstance(error, ConfigAlertError)
    assert says in error.action
    assert says in str(error)


def test_api_errors_survive_a_process_boundary() -> None:
    error = classify(40164, "invalid ip 203.0.113.7")
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own object, just pickled
    assert type(copy) is ConfigAlertError
    assert (copy.errcode, copy.errmsg, copy.action, str(copy)) == (
        error.errcode,
        error.errmsg,
        error.action,
        str(error),
    )
    unavailable = ApiUnavailableError("/x", ["a: refused"], outcome_unknown=True)
    assert pickle.loads(pickle.dumps(unavailable)).outcome_unknown is True  # noqa: S301


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


# --- typed calls --------------------------------------------------------------------------------


SENDS: list[tuple[str, Callable[[WeChatAPI], None], dict[str, Any]]] = [
    (
        "text",
        lambda api: api.send_text(OPENID, "你好 <a href='https://example.com'>link</a>"),
        {"content": "你好 <a href='https://example.com'>link</a>"},
    ),
    ("image", lambda api: api.send_image(OPENID, "MEDIA_I"), {"media_id": "MEDIA_I"}),
    ("voice", lambda api: api.send_voice(OPENID, "MEDIA_V"), {"media_id": "MEDIA_V"}),
    (
        "video",
        lambda api: api.send_video(OPENID, "MEDIA", "THUMB", "标题", "desc"),
        {"media_id": "MEDIA", "thumb_media_id": "THUMB", "title": "标题", "description": "desc"},
    ),
    (
        "music",
        lambda api: api.send_music(
            OPENID,
            title="t",
            description="d",
            music_url="https://m/1.mp3",
            hq_music_url="https://m/1hq.mp3",
            thumb_media_id="THUMB",
        ),
        {
            "title": "t",
            "description": "d",
            "musicurl": "https://m/1.mp3",
            "hqmusicurl": "https://m/1hq.mp3",
            "thumb_media_id": "THUMB",
        },
    ),
    (
        "news",
        lambda api: api.send_news(
            OPENID, title="t", description="d", url="https://a/1", pic_url="https://a/1.jpg"
        ),
        {
            "articles": [
                {
                    "title": "t",
                    "description": "d",
                    "url": "https://a/1",
                    "picurl": "https://a/1.jpg",
                }
            ]
        },
    ),
    ("mpnews", lambda api: api.send_mpnews(OPENID, "MEDIA_N"), {"media_id": "MEDIA_N"}),
    (
        "msgmenu",
        lambda api: api.send_msgmenu(
            OPENID, head="满意吗?", options=[("101", "满意"), ("102", "不满意")], tail="谢谢"
        ),
        {
            "head_content": "满意吗?",
            "list": [{"id": "101", "content": "满意"}, {"id": "102", "content": "不满意"}],
            "tail_content": "谢谢",
        },
    ),
    (
        "miniprogrampage",
        lambda api: api.send_miniprogrampage(
            OPENID, title="t", appid="wxminiapp", pagepath="pages/index", thumb_media_id="TH"
        ),
        {"title": "t", "appid": "wxminiapp", "pagepath": "pages/index", "thumb_media_id": "TH"},
    ),
]


@pytest.mark.parametrize(("msgtype", "send", "content"), SENDS, ids=[s[0] for s in SENDS])
def test_api_customer_service_messages_are_sent_as_documented(
    make_api: ClientFactory,
    fake: FakeWeChat,
    msgtype: str,
    send: Callable[[WeChatAPI], None],
    content: dict[str, Any],
) -> None:
    send(make_api())
    (sent,) = fake.sent
    assert sent.path == "/cgi-bin/message/custom/send"
    assert sent.body == {"touser": OPENID, "msgtype": msgtype, msgtype: content}


def test_api_messages_carry_chinese_as_utf8_not_escapes(
    make_api: ClientFactory, fake: FakeWeChat
) -> None:
    make_api().send_text(OPENID, "你好")
    assert "你好".encode() in fake.sent[0].raw
    assert b"\\u" not in fake.sent[0].raw


def test_api_customer_service_account_and_typing(make_api: ClientFactory, fake: FakeWeChat) -> None:
    api = make_api()
    api.send_text(OPENID, "from an agent", kf_account="agent1@gh_account")
    api.typing(OPENID)
    api.typing(OPENID, typing=False)
    first, typing, cancel = fake.sent
    assert first.body["customservice"] == {"kf_account": "agent1@gh_account"}
    assert typing.body == {"touser": OPENID, "command": "Typing"}
    assert cancel.body == {"touser": OPENID, "command": "CancelTyping"}


def test_api_template_message_returns_its_msgid(make_api: ClientFactory, fake: FakeWeChat) -> None:
    msgid = make_api().send_template(
        OPENID,
        "TEMPLATE_ID",
        {"thing1": "订单已发货", "time2": {"value": "2024-01-01", "color": "#173177"}},
        url="https://example.com/order/1",
    )
    assert isinstance(msgid, int)
    assert msgid > 0
    (sent,) = fake.sent
    assert sent.body == {
        "touser": OPENID,
        "template_id": "TEMPLATE_ID",
        "data": {
            "thing1": {"value": "订单已发货"},
            "time2": {"value": "2024-01-01", "color": "#173177"},
        },
        "url": "https://example.com/order/1",
    }


def test_api_a_closed_window_is_a_drop_error(make_api: ClientFactory, fake: FakeWeChat) -> None:
    fake.inject("/cgi-bin/message/custom/send", errcode=45015, errmsg="response out of time limit")
    with pytest.raises(DropError):
        make_api().send_text(OPENID, "too late")
    assert fake.calls("/cgi-bin/message/custom/send") == 1


def test_api_network_diagnostics(make_api: ClientFactory) -> None:
    api = make_api()
    assert api.callback_ips() == CALLBACK_IPS
    assert api.api_domain_ips() == API_IPS
    check = api.check_callback("all", "DEFAULT")
    assert check["dns"][0]["ip"]
    assert check["ping"][0]["package_loss"] == "0%"
    with pytest.raises(OtherApiError) as raised:
        api.check_callback("traceroute")
    assert raised.value.errcode == 40202


def test_api_menu_create_and_get(make_api: ClientFactory) -> None:
    api = make_api()
    menu = {"button": [{"type": "click", "name": "今日歌曲", "key": "V1001_TODAY_MUSIC"}]}
    api.create_menu(menu)
    assert api.get_menu() == {"menu": menu}
    current = api.get_current_menu()
    assert current["is_menu_open"] == 1
    assert current["selfmenu_info"] == menu


def test_api_oauth_code_gives_openid_and_userinfo(
    make_api: ClientFactory, fake: FakeWeChat
) -> None:
    api = make_api()
    code = fake.oauth_code(OPENID)
    grant = api.oauth_exchange_code(code)
    assert grant.openid == OPENID
    assert grant.scope == "snsapi_userinfo"
    assert grant.access_token not in repr(grant)
    assert api.oauth_userinfo(grant)["openid"] == OPENID
    with pytest.raises(OtherApiError) as raised:
        api.oauth_exchange_code(code)  # a code works once
    assert raised.value.errcode == 40163
    assert fake.token_fetches() == 0  # OAuth never needs the account's access_token


def test_api_jsapi_ticket_and_credentials_are_masked(
    make_api: ClientFactory, fake: FakeWeChat
) -> None:
    api = make_api()
    grant = api.fetch_jsapi_ticket()
    assert isinstance(grant, Grant)
    assert grant.value.startswith("ticket-")
    assert grant.expires_in == 7200
    assert grant.value not in repr(grant)
    assert APP_SECRET not in repr(api)
    token = api.fetch_access_token()
    assert token.value not in repr(token)


def test_api_generic_call_for_endpoints_without_a_method(
    make_api: ClientFactory, fake: FakeWeChat
) -> None:
    api = make_api()
    assert api.call("GET", GETCALLBACKIP)["ip_list"] == CALLBACK_IPS


def test_api_force_refresh_revokes_the_current_token(fake: FakeWeChat) -> None:
    with WeChatAPI(APP_ID, APP_SECRET, base_urls=fake.url) as api:
        first = api.fetch_access_token()
        assert api.fetch_access_token().value == first.value  # stable: the same while valid
        forced = api.fetch_access_token(force_refresh=True)
        assert forced.value != first.value
        with pytest.raises(TokenInvalidError):
            api.call("GET", GETCALLBACKIP, params={"access_token": first.value}, token=False)
        with pytest.raises(RetryableApiError):
            api.fetch_access_token(force_refresh=True)  # at most one forced refresh per 30 s


# --- the fake itself: readable from other processes ---------------------------------------------


def test_fake_counts_are_readable_from_another_process(fake: FakeWeChat) -> None:
    with WeChatAPI(APP_ID, APP_SECRET, base_urls=fake.url) as api:
        api.fetch_access_token()
    code = (
        "import json, sys\n"
        "from tests.fakewechat import remote_stats\n"
        "print(json.dumps(remote_stats(sys.argv[1])))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, fake.url],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    stats = json.loads(done.stdout)
    assert stats["calls"] == {"/cgi-bin/stable_token": 1}
    assert stats["tokens_issued"] == 1
