"""Parsing: the table of message types, every event name, scenes, and types nobody declared."""

from __future__ import annotations

import pytest

from tests.protocol.message_bodies import event_body, text_fields
from wxserver.protocol.builders import EVENT_BUILDERS, MESSAGE_TYPES
from wxserver.protocol.events import (
    LocationEvent,
    LocationSelectEvent,
    MassSendJobFinishEvent,
    PicEvent,
    PublishJobFinishEvent,
    ScanCodeEvent,
    ScanEvent,
    SubscribeEvent,
    TemplateSendJobFinishEvent,
)
from wxserver.protocol.messages import (
    EventMessage,
    Message,
    NormalMessage,
    ShortVideoMessage,
    TextMessage,
    UnknownEvent,
    UnknownMessage,
)
from wxserver.protocol.parsing import message_from_fields, parse_message

# --- the lookup table ----------------------------------------------------------------------------


def test_message_types_are_concrete_and_unique() -> None:
    assert len(set(MESSAGE_TYPES)) == len(MESSAGE_TYPES)
    assert Message not in MESSAGE_TYPES
    assert NormalMessage not in MESSAGE_TYPES
    assert EventMessage not in MESSAGE_TYPES


def test_message_types_each_have_a_builder_and_names() -> None:
    for cls in MESSAGE_TYPES:
        if cls in (UnknownMessage, UnknownEvent):
            continue
        if issubclass(cls, EventMessage):
            assert cls in EVENT_BUILDERS, cls.__name__
            assert cls.event_names, cls.__name__
        else:
            assert issubclass(cls, NormalMessage), cls.__name__
            assert cls.msg_types, cls.__name__
    assert set(EVENT_BUILDERS) <= set(MESSAGE_TYPES)


def test_message_types_declare_lowercase_names_claimed_once() -> None:
    events = [n for cls in MESSAGE_TYPES if issubclass(cls, EventMessage) for n in cls.event_names]
    kinds = [n for cls in MESSAGE_TYPES if issubclass(cls, NormalMessage) for n in cls.msg_types]
    for names in (events, kinds):
        assert len(names) == len(set(names))
        assert all(name == name.lower() for name in names)
    assert "event" not in kinds


EVENT_NAMES = sorted((name, cls) for cls in EVENT_BUILDERS for name in cls.event_names)


@pytest.mark.parametrize(("name", "cls"), EVENT_NAMES, ids=[name for name, _ in EVENT_NAMES])
def test_parse_message_routes_every_declared_event_name(name: str, cls: type[Message]) -> None:
    # The smallest body each event can take: its required fields, and nothing else.
    required = {
        LocationEvent: "<Latitude>1</Latitude><Longitude>2</Longitude><Precision>3</Precision>",
        ScanCodeEvent: "<ScanCodeInfo><ScanType>qrcode</ScanType><ScanResult>r</ScanResult>"
        "</ScanCodeInfo>",
        PicEvent: "<SendPicsInfo><Count>0</Count></SendPicsInfo>",
        LocationSelectEvent: "<SendLocationInfo><Location_X>1</Location_X><Location_Y>2"
        "</Location_Y><Scale>3</Scale><Label>l</Label></SendLocationInfo>",
        TemplateSendJobFinishEvent: "<MsgID>1</MsgID><Status>success</Status>",
        MassSendJobFinishEvent: "<MsgID>1</MsgID><Status>send success</Status>",
        PublishJobFinishEvent: "<PublishEventInfo><publish_id>1</publish_id>"
        "<publish_status>0</publish_status></PublishEventInfo>",
    }
    message = parse_message(event_body(name.upper(), required.get(cls, "")))
    assert type(message) is cls
    assert isinstance(message, EventMessage)
    assert message.event == name.upper()


# --- events: names, scenes, unknowns -------------------------------------------------------------


@pytest.mark.parametrize("name", ["SCAN", "scan", "Scan", " scan "], ids=repr)
def test_parse_message_event_names_are_case_insensitive(name: str) -> None:
    message = parse_message(event_body(name, "<EventKey>42</EventKey>"))
    assert isinstance(message, ScanEvent)
    assert message.event == name.strip()  # read as xmltodict reads it
    assert message.scene == "42"


@pytest.mark.parametrize(
    ("msg_type", "cls"),
    [("TEXT", TextMessage), ("Text", TextMessage), ("shortVideo", ShortVideoMessage)],
    ids=["upper", "title", "camel"],
)
def test_parse_message_msg_types_are_case_insensitive(msg_type: str, cls: type[Message]) -> None:
    fields = text_fields(MsgType=msg_type, MediaId="m", ThumbMediaId="t")
    message = message_from_fields(fields)
    assert type(message) is cls
    assert message.msg_type == msg_type


@pytest.mark.parametrize(
    ("event_key", "scene"),
    [
        ("qrscene_123123", "123123"),
        ("qrscene_", ""),
        ("qrscene_qrscene_x", "qrscene_x"),
        ("123123", None),
        ("", None),
        (None, None),
    ],
    ids=["numeric", "empty-scene", "prefix-once", "no-prefix", "empty", "absent"],
)
def test_parse_message_subscribe_scene_strips_qrscene_prefix(
    event_key: str | None, scene: str | None
) -> None:
    extra = "" if event_key is None else f"<EventKey><![CDATA[{event_key}]]></EventKey>"
    message = parse_message(event_body("subscribe", extra))
    assert isinstance(message, SubscribeEvent)
    assert message.event_key == event_key
    assert message.scene == scene


def test_parse_message_scan_scene_keeps_event_key_as_is() -> None:
    message = parse_message(event_body("SCAN", "<EventKey>qrscene_7</EventKey>"))
    assert isinstance(message, ScanEvent)
    assert message.scene == "qrscene_7"


def test_parse_message_unknown_msg_type_keeps_raw_fields() -> None:
    message = message_from_fields(text_fields(MsgType="hologram", Beam="x", Content=None))
    assert type(message) is UnknownMessage
    assert message.msg_type == "hologram"
    assert message.raw["Beam"] == "x"
    assert message.raw["MsgId"] == "42"


def test_parse_message_unknown_event_keeps_raw_fields() -> None:
    body = event_body("giftcard_pay_done", "<PageId>p1</PageId><OrderId><![CDATA[o2]]></OrderId>")
    message = parse_message(body)
    assert type(message) is UnknownEvent
    assert message.event == "giftcard_pay_done"
    assert message.raw["PageId"] == "p1"
    assert message.raw["OrderId"] == "o2"


def test_parse_message_unknown_event_with_nested_fields_keeps_them() -> None:
    body = event_body("poi_check_notify", "<Info><item><A>1</A></item><item><A>2</A></item></Info>")
    message = parse_message(body)
    assert type(message) is UnknownEvent
    assert [item["A"] for item in message.raw["Info"]["item"]] == ["1", "2"]
