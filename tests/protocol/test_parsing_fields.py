"""Parsing leniently: a field left out or sent malformed is empty, whatever else arrived is kept."""

from __future__ import annotations

import pytest

from tests.protocol.message_bodies import event_body, text_body, text_fields
from wxserver.protocol.events import CardEvent, PicEvent
from wxserver.protocol.messages import (
    ImageMessage,
    TextMessage,
    UnknownEvent,
    UnknownMessage,
    VoiceMessage,
)
from wxserver.protocol.parsing import message_from_fields, parse_message, parse_xml


def test_parse_message_accepts_bare_text_like_cdata() -> None:
    cdata = parse_message(
        b"<xml><ToUserName><![CDATA[a]]></ToUserName><FromUserName><![CDATA[b]]></FromUserName>"
        b"<CreateTime>1</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        b"<Content><![CDATA[x & y <z>]]></Content><MsgId>9</MsgId></xml>"
    )
    bare = parse_message(
        b"<xml><ToUserName>a</ToUserName><FromUserName>b</FromUserName><CreateTime>1</CreateTime>"
        b"<MsgType>text</MsgType><Content>x &amp; y &lt;z&gt;</Content><MsgId>9</MsgId></xml>"
    )
    assert cdata == bare


def test_parse_message_text_mentioning_doctype_is_only_text() -> None:
    content = "<!DOCTYPE html><!ENTITY x 'y'>"
    message = message_from_fields(parse_xml(text_body(f"<![CDATA[{content}]]>")))
    assert isinstance(message, TextMessage)
    assert message.content == content


def test_parse_message_optional_fields_missing_are_none() -> None:
    message = message_from_fields(text_fields(MsgType="voice", MediaId="m", Format="amr"))
    assert isinstance(message, VoiceMessage)
    assert (message.media_id_16k, message.recognition, message.agent_id) == (None, None, None)
    assert (message.msg_data_id, message.idx) == (None, None)


def test_parse_message_without_msg_id_has_none() -> None:
    message = message_from_fields(text_fields(MsgId=None))
    assert isinstance(message, TextMessage)
    assert message.msg_id is None


@pytest.mark.parametrize("name", ["ToUserName", "FromUserName", "MsgType"])
def test_message_from_fields_missing_common_text_field_is_empty(name: str) -> None:
    message = message_from_fields(text_fields(**{name: None}))
    assert (
        getattr(
            message,
            {"ToUserName": "to_user_name", "FromUserName": "from_user_name"}.get(name, "msg_type"),
        )
        == ""
    )


def test_message_from_fields_missing_msg_type_is_an_unknown_message() -> None:
    message = message_from_fields(text_fields(MsgType=None))
    assert type(message) is UnknownMessage
    assert message.raw["Content"] == "hi"


def test_message_from_fields_missing_create_time_is_zero() -> None:
    assert message_from_fields(text_fields(CreateTime=None)).create_time == 0


def test_message_from_fields_event_without_event_name_is_an_unknown_event() -> None:
    message = message_from_fields(text_fields(MsgType="event"))
    assert type(message) is UnknownEvent
    assert message.event == ""


@pytest.mark.parametrize(
    ("fields", "attribute"),
    [
        ({"CreateTime": "yesterday"}, "create_time"),
        ({"CreateTime": "1_000"}, "create_time"),
        ({"CreateTime": "\uff11\uff12\uff13"}, "create_time"),
        ({"MsgId": "12ab"}, "msg_id"),
        ({"MsgType": "location", "Location_X": "north", "Location_Y": "1"}, "location_x"),
        ({"MsgType": "location", "Location_X": "nan", "Location_Y": "1"}, "location_x"),
        ({"MsgType": "location", "Location_X": "1", "Scale": "1.5"}, "scale"),
        ({"MsgType": "text", "Idx": "first"}, "idx"),
    ],
    ids=["word", "underscore", "fullwidth", "msg-id", "coordinate", "nan", "scale", "idx"],
)
def test_message_from_fields_malformed_number_is_empty(
    fields: dict[str, str], attribute: str
) -> None:
    message = message_from_fields(text_fields(Label="l", **fields))
    assert getattr(message, attribute) in (None, 0)
    # What arrived is kept all the same.
    assert all(message.raw[name] == value for name, value in fields.items())


def test_message_from_fields_malformed_nested_number_is_empty() -> None:
    message = parse_message(
        event_body("pic_weixin", "<SendPicsInfo><Count>many</Count></SendPicsInfo>")
    )
    assert isinstance(message, PicEvent)
    assert (message.count, message.pic_md5_sums) == (None, ())


def test_message_from_fields_missing_content_field_is_empty() -> None:
    message = message_from_fields(text_fields(MsgType="image", MediaId="m"))
    assert isinstance(message, ImageMessage)
    assert (message.pic_url, message.media_id) == ("", "m")


def test_parse_message_repeated_scalar_field_takes_the_first() -> None:
    message = parse_message(text_body("hi").replace(b"<xml>", b"<xml><ToUserName>x</ToUserName>"))
    assert message.to_user_name == "x"


def test_parse_message_field_holding_elements_where_text_belongs_is_empty() -> None:
    message = parse_message(text_body("<b>bold</b>"))
    assert isinstance(message, TextMessage)
    assert message.content == ""
    assert message.raw["Content"] == {"b": "bold"}


def test_parse_message_numbers_tolerate_surrounding_whitespace() -> None:
    message = message_from_fields(text_fields(CreateTime="\n 1700000000 \n", MsgId=" 7 "))
    assert (message.create_time, message.key.rsplit(":", 1)[1]) == (1700000000, "7")


def test_parse_message_flags_other_than_zero_or_one_are_empty() -> None:
    message = parse_message(event_body("user_get_card", "<IsGiveByFriend>2</IsGiveByFriend>"))
    assert isinstance(message, CardEvent)
    assert message.is_give_by_friend is None
