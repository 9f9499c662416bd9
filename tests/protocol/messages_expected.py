"""What each fixture file in tests/data/messages must parse to: its class and its fields' values."""

from __future__ import annotations

from typing import Any

from tests.protocol.message_bodies import OA, USER
from tests.protocol.messages_expected_miniprogram import MINIPROGRAM_EXPECTED
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
    ImageMessage,
    LinkMessage,
    LocationMessage,
    Message,
    ShortVideoMessage,
    TextMessage,
    UnknownEvent,
    UnknownMessage,
    VideoMessage,
    VoiceMessage,
)

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
    "unknown_msgtype.xml": (UnknownMessage, {"msg_type": "channels_product"}),
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
EXPECTED |= MINIPROGRAM_EXPECTED
