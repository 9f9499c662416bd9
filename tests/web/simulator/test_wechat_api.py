"""The simulated account's WeChat API: the server's own client talks to it as to WeChat."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.web.simulator.support import development, served
from wxserver.protocol.api_errors import ApiError
from wxserver.services.api.account import api_client
from wxserver.services.api.client import WeChatAPI
from wxserver.services.store.memory import MemoryStore
from wxserver.web.simulator.app import EXTENSION, Simulator
from wxserver.web.simulator.conversation import Conversation
from wxserver.web.simulator.wechat_api import LIFETIME, SimulatedAPI
from wxserver.web.simulator.window import ServiceWindow

APP_ID = "wx0000000000devapp"
OPENID = "oSimulatedTester"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def wired() -> Iterator[tuple[Simulator, WeChatAPI]]:
    """The simulator served on a free port, and the server's API client pointed at it."""
    with served() as (app, base_url):
        settings = development(WX_API_BASE_URL=base_url, WX_APPSECRET="any-secret-at-all")
        client = api_client(settings, settings.account("default"), MemoryStore())
        assert client is not None
        try:
            yield app.extensions[EXTENSION], client
        finally:
            client.close()


def last_bubble(simulator: Simulator) -> tuple[dict[str, Any], str]:
    entries, _ = simulator.conversation.since(0, 0)
    return entries[-1]["bubble"], entries[-1]["via"]


@pytest.mark.parametrize(
    ("send", "bubble"),
    [
        (lambda api: api.send_text(OPENID, "late"), {"kind": "text", "text": "late"}),
        (lambda api: api.send_image(OPENID, "img-1"), {"kind": "image", "media_id": "img-1"}),
        (lambda api: api.send_voice(OPENID, "voc-1"), {"kind": "voice", "media_id": "voc-1"}),
        (
            lambda api: api.send_video(OPENID, "vid-1", "thumb", "Clip", "a clip"),
            {"kind": "video", "media_id": "vid-1", "title": "Clip", "description": "a clip"},
        ),
        (
            lambda api: api.send_music(
                OPENID,
                title="Song",
                description="sung",
                music_url="http://m/1.mp3",
                hq_music_url="http://m/1hq.mp3",
                thumb_media_id="t",
            ),
            {
                "kind": "music",
                "title": "Song",
                "description": "sung",
                "url": "http://m/1.mp3",
                "hq_url": "http://m/1hq.mp3",
            },
        ),
        (
            lambda api: api.send_news(
                OPENID, title="News", description="d", url="https://n/", pic_url="https://p/"
            ),
            {
                "kind": "news",
                "articles": [
                    {
                        "title": "News",
                        "description": "d",
                        "url": "https://n/",
                        "pic_url": "https://p/",
                    }
                ],
            },
        ),
        (lambda api: api.send_mpnews(OPENID, "art-1"), {"kind": "mpnews", "media_id": "art-1"}),
        (
            lambda api: api.send_msgmenu(OPENID, head="Pick", options=[("1", "Yes")], tail="."),
            {
                "kind": "msgmenu",
                "head": "Pick",
                "options": [{"id": "1", "content": "Yes"}],
                "tail": ".",
            },
        ),
        (
            lambda api: api.send_miniprogrampage(
                OPENID, title="Shop", appid="wxmini", pagepath="pages/a", thumb_media_id="t"
            ),
            {"kind": "miniprogram", "title": "Shop", "appid": "wxmini", "pagepath": "pages/a"},
        ),
    ],
    ids=["text", "image", "voice", "video", "music", "news", "mpnews", "msgmenu", "miniprogram"],
)
def test_wechat_api_customer_service_message_joins_the_conversation(
    wired: tuple[Simulator, WeChatAPI],
    send: Callable[[WeChatAPI], None],
    bubble: dict[str, Any],
) -> None:
    simulator, api = wired
    simulator.window.acted(OPENID, "text")
    send(api)
    assert last_bubble(simulator) == (bubble, "customer-service")


def test_wechat_api_template_message_and_typing(wired: tuple[Simulator, WeChatAPI]) -> None:
    simulator, api = wired
    api.typing(OPENID)
    assert simulator.conversation.since(0, 0)[1] is True
    msgid = api.send_template(OPENID, "TPL", {"first": "Hi"}, url="https://t/")
    assert msgid > 0
    bubble = {
        "kind": "template",
        "template_id": "TPL",
        "url": "https://t/",
        "fields": [{"name": "first", "value": "Hi"}],
    }
    assert last_bubble(simulator) == (bubble, "template")
    assert simulator.conversation.since(0, 0)[1] is False  # a message ends "typing"


def test_wechat_api_refuses_outside_the_window_and_shows_it(
    wired: tuple[Simulator, WeChatAPI],
) -> None:
    simulator, api = wired
    with pytest.raises(ApiError) as refused:
        api.send_text(OPENID, "unasked")
    assert refused.value.errcode == 45015
    bubble, via = last_bubble(simulator)
    assert via == "customer-service"
    assert bubble["kind"] == "error"
    assert "45015" in bubble["text"]


def test_wechat_api_counts_messages_after_a_click(wired: tuple[Simulator, WeChatAPI]) -> None:
    simulator, api = wired
    simulator.window.acted(OPENID, "event", "CLICK")
    for n in range(3):
        api.send_text(OPENID, f"answer {n}")
    with pytest.raises(ApiError) as refused:
        api.send_text(OPENID, "one too many")
    assert refused.value.errcode == 45047


def test_wechat_api_menu_is_the_menu_file_and_create_replaces_it(
    wired: tuple[Simulator, WeChatAPI],
) -> None:
    simulator, api = wired
    assert api.get_menu()["menu"]["button"][0]["key"] == "MENU_TODAY"
    api.create_menu({"button": [{"type": "click", "name": "New", "key": "K_NEW"}]})
    assert simulator.state()["menu"] == {
        "button": [{"type": "click", "name": "New", "key": "K_NEW"}]
    }
    assert last_bubble(simulator)[0]["kind"] == "menu"
    with pytest.raises(ApiError) as refused:
        api.create_menu({"button": []})
    assert refused.value.errcode == 40016


def test_wechat_api_diagnostics_answer_with_loopback(wired: tuple[Simulator, WeChatAPI]) -> None:
    _, api = wired
    assert api.callback_ips() == ["127.0.0.1"]
    assert api.api_domain_ips() == ["127.0.0.1"]
    assert api.check_callback()["dns"][0]["ip"] == "127.0.0.1"


# --- the token rules, on a clock the test moves ---------------------------------------------


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def platform(clock: Clock) -> SimulatedAPI:
    return SimulatedAPI(APP_ID, Conversation(), ServiceWindow(clock), None, clock)


def call(platform: SimulatedAPI, method: str, path: str, body: Any = None, **query: str) -> Any:
    raw = b"" if body is None else json.dumps(body).encode()
    return platform.handle(method, path, query, raw)


def stable(platform: SimulatedAPI, **extra: Any) -> Any:
    body = {"grant_type": "client_credential", "appid": APP_ID, "secret": "s", **extra}
    return call(platform, "POST", "stable_token", body)


def test_wechat_api_stable_token_is_the_same_until_near_expiry(
    platform: SimulatedAPI, clock: Clock
) -> None:
    first = stable(platform)
    assert first["expires_in"] == LIFETIME
    clock.now += LIFETIME - 301
    assert stable(platform)["access_token"] == first["access_token"]
    clock.now += 2
    renewed = stable(platform)
    assert renewed["access_token"] != first["access_token"]
    assert renewed["expires_in"] == LIFETIME


def test_wechat_api_force_refresh_revokes_the_current_token(platform: SimulatedAPI) -> None:
    old = stable(platform)["access_token"]
    new = stable(platform, force_refresh=True)["access_token"]
    assert new != old
    assert call(platform, "GET", "getcallbackip", access_token=old)["errcode"] == 40001
    assert "ip_list" in call(platform, "GET", "getcallbackip", access_token=new)


def test_wechat_api_classic_token_is_new_every_time(platform: SimulatedAPI) -> None:
    query = {"grant_type": "client_credential", "appid": APP_ID, "secret": "s"}
    first = call(platform, "GET", "token", **query)["access_token"]
    assert call(platform, "GET", "token", **query)["access_token"] != first


@pytest.mark.parametrize(
    ("body", "errcode"),
    [
        ({"grant_type": "client_credential", "appid": "wxother", "secret": "s"}, 40013),
        ({"grant_type": "client_credential", "appid": APP_ID}, 41004),
        ({"grant_type": "password", "appid": APP_ID, "secret": "s"}, 40002),
    ],
    ids=["other-appid", "no-secret", "wrong-grant-type"],
)
def test_wechat_api_token_refusals(platform: SimulatedAPI, body: Any, errcode: int) -> None:
    assert call(platform, "POST", "stable_token", body)["errcode"] == errcode


def test_wechat_api_calls_need_a_live_token(platform: SimulatedAPI, clock: Clock) -> None:
    token = stable(platform)["access_token"]
    assert call(platform, "GET", "getcallbackip")["errcode"] == 41001
    assert call(platform, "GET", "getcallbackip", access_token="forged")["errcode"] == 40001
    clock.now += LIFETIME
    assert call(platform, "GET", "getcallbackip", access_token=token)["errcode"] == 42001


@pytest.mark.parametrize(
    ("method", "path", "raw", "errcode"),
    [
        ("GET", "user/info", b"", 48001),
        ("POST", "message/custom/send", b"{not json", 47001),
        ("POST", "message/custom/send", b"[]", 47001),
        ("POST", "message/custom/send", b'{"touser": "o", "msgtype": "text"}', 40008),
        ("POST", "message/template/send", b'{"touser": "o"}', 40037),
        ("POST", "message/custom/typing", b'{"touser": "o", "command": "Dance"}', 40001),
    ],
    ids=["unserved-api", "not-json", "not-an-object", "no-text", "no-template", "bad-typing"],
)
def test_wechat_api_refuses_malformed_calls(
    platform: SimulatedAPI, method: str, path: str, raw: bytes, errcode: int
) -> None:
    token = stable(platform)["access_token"]
    assert platform.handle(method, path, {"access_token": token}, raw)["errcode"] == errcode


def test_wechat_api_news_carries_one_article(platform: SimulatedAPI) -> None:
    token = stable(platform)["access_token"]
    platform.window.acted(OPENID, "text")
    two = {"articles": [{"title": "a"}, {"title": "b"}]}
    body = {"touser": OPENID, "msgtype": "news", "news": two}
    answer = call(platform, "POST", "message/custom/send", body, access_token=token)
    assert answer["errcode"] == 40008


def test_wechat_api_template_needs_a_follower_not_a_window(platform: SimulatedAPI) -> None:
    token = stable(platform)["access_token"]
    body = {"touser": OPENID, "template_id": "TPL", "data": {"first": {"value": "Hi"}}}
    assert call(platform, "POST", "message/template/send", body, access_token=token)["errcode"] == 0
    platform.window.acted(OPENID, "text")
    call(platform, "POST", "message/template/send", body, access_token=token)
    assert [platform.window.spend(OPENID) for _ in range(5)] == [None] * 5
    platform.window.acted(OPENID, "event", "unsubscribe")
    answer = call(platform, "POST", "message/template/send", body, access_token=token)
    assert answer["errcode"] == 43004
