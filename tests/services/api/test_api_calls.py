"""The WeChat API client's typed calls against the fake platform on 127.0.0.1; the fake itself."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest

from tests.fakewechat import API_IPS, APP_ID, APP_SECRET, CALLBACK_IPS, FakeWeChat
from tests.servers import ROOT
from tests.services.api.clients import GETCALLBACKIP, OPENID, ClientFactory
from wxserver.protocol.api_errors import (
    DropError,
    OtherApiError,
    RetryableApiError,
    TokenInvalidError,
)
from wxserver.services.api.client import Grant, WeChatAPI

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
