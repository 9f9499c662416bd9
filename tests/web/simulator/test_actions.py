"""The page's actions become the messages and events WeChat pushes, read back by the parser."""

from __future__ import annotations

from typing import Any

import pytest

from wxserver.protocol.events import (
    ClickEvent,
    LocationEvent,
    LocationSelectEvent,
    PicEvent,
    ScanCodeEvent,
    ScanEvent,
    SubscribeEvent,
    UnsubscribeEvent,
    ViewEvent,
    ViewMiniprogramEvent,
)
from wxserver.protocol.messages import ImageMessage, Message, TextMessage, VoiceMessage
from wxserver.protocol.parsing import parse_message
from wxserver.web.simulator.actions import ActionError, read_action

OPENID = "oSimulatedTester"
TO_USER = "gh_simulated"


def parsed(data: dict[str, Any]) -> Message:
    action = read_action(data, OPENID, TO_USER)
    message = parse_message(action.xml)
    assert (message.from_user_name, message.to_user_name) == (OPENID, TO_USER)
    return message


@pytest.mark.parametrize(
    ("data", "kind", "fields"),
    [
        ({"type": "text", "content": " hi "}, TextMessage, {"content": "hi"}),
        ({"type": "image", "media_id": "m1"}, ImageMessage, {"media_id": "m1"}),
        ({"type": "image"}, ImageMessage, {"media_id": "simulated_image_media_id"}),
        ({"type": "voice", "media_id": "v1"}, VoiceMessage, {"media_id": "v1", "format": "amr"}),
        ({"type": "event", "event": "subscribe"}, SubscribeEvent, {"scene": None}),
        (
            {"type": "event", "event": "subscribe", "scene": "promo"},
            SubscribeEvent,
            {"scene": "promo", "event_key": "qrscene_promo"},
        ),
        ({"type": "event", "event": "unsubscribe"}, UnsubscribeEvent, {}),
        (
            {"type": "event", "event": "SCAN", "scene": "42"},
            ScanEvent,
            {"scene": "42", "event_key": "42"},
        ),
        (
            {"type": "event", "event": "LOCATION", "latitude": "30.5", "longitude": 114.3},
            LocationEvent,
            {"latitude": 30.5, "longitude": 114.3},
        ),
        (
            {"type": "event", "event": "CLICK", "key": "MENU_TODAY"},
            ClickEvent,
            {"event_key": "MENU_TODAY"},
        ),
        (
            {"type": "event", "event": "VIEW", "key": "https://example.com/"},
            ViewEvent,
            {"event_key": "https://example.com/"},
        ),
        (
            {"type": "event", "event": "view_miniprogram", "key": "pages/index"},
            ViewMiniprogramEvent,
            {"event_key": "pages/index"},
        ),
        (
            {"type": "event", "event": "scancode_waitmsg", "key": "MENU_SCAN"},
            ScanCodeEvent,
            {"scan_type": "qrcode", "event_key": "MENU_SCAN"},
        ),
        ({"type": "event", "event": "pic_weixin", "key": "MENU_PHOTO"}, PicEvent, {"count": 1}),
        (
            {"type": "event", "event": "location_select", "key": "MENU_LOCATION"},
            LocationSelectEvent,
            {"label": "Guangzhou"},
        ),
    ],
    ids=[
        "text",
        "image",
        "image-default-media",
        "voice",
        "subscribe",
        "subscribe-by-qr-code",
        "unsubscribe",
        "scan",
        "location",
        "click",
        "view",
        "view-miniprogram",
        "scancode",
        "pic",
        "location-select",
    ],
)
def test_action_builds_what_wechat_pushes(
    data: dict[str, Any], kind: type[Message], fields: dict[str, Any]
) -> None:
    message = parsed(data)
    assert isinstance(message, kind)
    assert {name: getattr(message, name) for name in fields} == fields


def test_action_message_id_is_the_one_sent() -> None:
    action = read_action({"type": "text", "content": "x"}, OPENID, TO_USER)
    message = parse_message(action.xml)
    assert isinstance(message, TextMessage)
    assert str(message.msg_id) == action.msg_id
    assert (action.event, action.event_key) == ("-", "-")


def test_action_event_names_its_event_and_key_as_the_log_line_does() -> None:
    action = read_action({"type": "event", "event": "unsubscribe"}, OPENID, TO_USER)
    assert (action.msg_type, action.msg_id, action.event, action.event_key) == (
        "event",
        "-",
        "unsubscribe",
        "-",
    )


@pytest.mark.parametrize(
    ("data", "bubble"),
    [
        ({"type": "text", "content": "hi"}, {"kind": "text", "text": "hi"}),
        ({"type": "voice", "media_id": "v"}, {"kind": "voice", "media_id": "v"}),
        (
            {"type": "event", "event": "CLICK", "key": "K", "label": "Today"},
            {"kind": "event", "text": "Today (CLICK K)"},
        ),
        (
            {"type": "event", "event": "subscribe", "label": "Subscribe"},
            {"kind": "event", "text": "subscribe"},
        ),
        (
            {"type": "event", "event": "VIEW", "key": "https://e.com/", "label": "Home"},
            {"kind": "event", "text": "Home (VIEW https://e.com/)", "url": "https://e.com/"},
        ),
    ],
    ids=["text", "voice", "click", "subscribe", "view-link"],
)
def test_action_bubble_shows_what_the_user_did(
    data: dict[str, Any], bubble: dict[str, Any]
) -> None:
    assert read_action(data, OPENID, TO_USER).bubble == bubble


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ([], "must be a JSON object"),
        ({"type": "sticker"}, "unknown action type 'sticker'"),
        ({"type": "text", "content": "  "}, "the message is empty"),
        ({"type": "text", "content": 5}, "'content' must be text"),
        ({"type": "text", "content": "x" * 2049}, "longer than 2048"),
        ({"type": "event", "event": "TEMPLATESENDJOBFINISH"}, "unknown event"),
        ({"type": "event", "event": "SCAN"}, "needs the QR code's scene"),
        ({"type": "event", "event": "CLICK"}, "needs the button's key"),
        ({"type": "event", "event": "LOCATION", "latitude": "north"}, "must be a number"),
        ({"type": "event", "event": "LOCATION", "longitude": 200}, "from -180 to 180"),
    ],
    ids=[
        "not-an-object",
        "unknown-type",
        "empty-text",
        "text-not-a-string",
        "text-too-long",
        "platform-event",
        "scan-without-scene",
        "click-without-key",
        "latitude-not-a-number",
        "longitude-out-of-range",
    ],
)
def test_action_refuses_what_wechat_would_never_send(data: Any, error: str) -> None:
    with pytest.raises(ActionError, match=error):
        read_action(data, OPENID, TO_USER)
