"""The built-in echo handler set: the same answers to XML and to JSON messages."""

from __future__ import annotations

import pytest

from tests.support import AppFactory
from wxserver.testing import WeChatTestClient, build_event, build_message


@pytest.fixture(params=["xml", "json"])
def wechat(make_app: AppFactory, request: pytest.FixtureRequest) -> WeChatTestClient:
    """A WeChat stand-in for an echo account in each data format."""
    return WeChatTestClient(make_app(format=request.param))


def test_echo_retry_of_the_same_message_gets_the_stored_reply(wechat: WeChatTestClient) -> None:
    xml = build_message("text", Content="ping", MsgId=900001, format=wechat.account.format)
    assert wechat.post(xml).content == "ping\nseen 1"
    # WeChat's retry: the handler does not run again ("seen" would say 2); the reply is resent.
    assert wechat.post(xml).content == "ping\nseen 1"
    assert wechat.send_text("ping").content == "ping\nseen 1"  # another MsgId


@pytest.mark.parametrize(
    ("msg_type", "fields"),
    [
        ("image", {"PicUrl": "http://x/y.jpg", "MediaId": "m"}),
        ("voice", {"MediaId": "m", "Format": "amr"}),
        ("video", {"MediaId": "m", "ThumbMediaId": "t"}),
        ("shortvideo", {"MediaId": "m", "ThumbMediaId": "t"}),
        ("location", {"Location_X": 23.1, "Location_Y": 113.3, "Scale": 20, "Label": "here"}),
        ("link", {"Title": "t", "Description": "d", "Url": "http://x"}),
    ],
)
def test_echo_names_other_message_types(
    wechat: WeChatTestClient, msg_type: str, fields: dict[str, object]
) -> None:
    assert wechat.send(msg_type, **fields).content == f"{msg_type}\nseen 1"


def test_echo_events_name_event_and_key_and_count(wechat: WeChatTestClient) -> None:
    xml = build_event("CLICK", "MENU_A", create_time=1700000000, format=wechat.account.format)
    assert wechat.post(xml).content == "event CLICK MENU_A\nseen 1"
    assert wechat.post(xml).content == "event CLICK MENU_A\nseen 1"
    assert wechat.send_event("subscribe").content == "event subscribe\nseen 1"


def test_echo_unknown_type_and_event_get_success(wechat: WeChatTestClient) -> None:
    assert wechat.send("hologram", Beam="x").is_success
    assert wechat.send_event("teleport_event").is_success
