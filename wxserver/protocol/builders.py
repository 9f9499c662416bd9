"""How each message and event type is read from the fields of a callback body.

One builder per class; the lookup tables map a lowercased ``MsgType`` or ``Event`` to its builder
and are made from the names each class declares, so they cannot drift from the classes.
"""

from __future__ import annotations

from collections.abc import Callable

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
    UserEnterTempsessionEvent,
    VerificationEvent,
    VerificationFailEvent,
    ViewEvent,
    ViewMiniprogramEvent,
)
from wxserver.protocol.fields import EventHead, FieldReader, NormalHead
from wxserver.protocol.messages import (
    EventMessage,
    ImageMessage,
    LinkMessage,
    LocationMessage,
    Message,
    MiniprogramPageMessage,
    NormalMessage,
    ShortVideoMessage,
    TextMessage,
    UnknownEvent,
    UnknownMessage,
    VideoMessage,
    VoiceMessage,
)


def _text(f: FieldReader, h: NormalHead) -> NormalMessage:
    return TextMessage(**h, content=f.text("Content"), bizmsgmenuid=f.opt_text("bizmsgmenuid"))


def _image(f: FieldReader, h: NormalHead) -> NormalMessage:
    return ImageMessage(**h, pic_url=f.text("PicUrl"), media_id=f.text("MediaId"))


def _voice(f: FieldReader, h: NormalHead) -> NormalMessage:
    return VoiceMessage(
        **h,
        media_id=f.text("MediaId"),
        format=f.text("Format"),
        media_id_16k=f.opt_text("MediaId16K"),
        recognition=f.opt_text("Recognition"),
    )


def _video(f: FieldReader, h: NormalHead) -> NormalMessage:
    return VideoMessage(**h, media_id=f.text("MediaId"), thumb_media_id=f.text("ThumbMediaId"))


def _short_video(f: FieldReader, h: NormalHead) -> NormalMessage:
    return ShortVideoMessage(**h, media_id=f.text("MediaId"), thumb_media_id=f.text("ThumbMediaId"))


def _location(f: FieldReader, h: NormalHead) -> NormalMessage:
    return LocationMessage(
        **h,
        location_x=f.opt_number("Location_X"),
        location_y=f.opt_number("Location_Y"),
        scale=f.opt_int("Scale"),
        label=f.text("Label"),
    )


def _link(f: FieldReader, h: NormalHead) -> NormalMessage:
    return LinkMessage(
        **h, title=f.text("Title"), description=f.text("Description"), url=f.text("Url")
    )


def _miniprogram_page(f: FieldReader, h: NormalHead) -> NormalMessage:
    return MiniprogramPageMessage(
        **h,
        title=f.text("Title"),
        app_id=f.text("AppId"),
        page_path=f.text("PagePath"),
        thumb_url=f.text("ThumbUrl"),
        thumb_media_id=f.text("ThumbMediaId"),
    )


_NormalBuilder = Callable[[FieldReader, NormalHead], NormalMessage]

NORMAL_BUILDERS: dict[type[NormalMessage], _NormalBuilder] = {
    TextMessage: _text,
    ImageMessage: _image,
    VoiceMessage: _voice,
    VideoMessage: _video,
    ShortVideoMessage: _short_video,
    LocationMessage: _location,
    LinkMessage: _link,
    MiniprogramPageMessage: _miniprogram_page,
}


def _subscribe(f: FieldReader, h: EventHead) -> EventMessage:
    key = h["event_key"] or ""
    scene = key.removeprefix("qrscene_") if key.startswith("qrscene_") else None
    return SubscribeEvent(**h, ticket=f.opt_text("Ticket"), scene=scene)


def _unsubscribe(_f: FieldReader, h: EventHead) -> EventMessage:
    return UnsubscribeEvent(**h)


def _scan(f: FieldReader, h: EventHead) -> EventMessage:
    return ScanEvent(**h, ticket=f.opt_text("Ticket"), scene=h["event_key"])


def _location_event(f: FieldReader, h: EventHead) -> EventMessage:
    return LocationEvent(
        **h,
        latitude=f.opt_number("Latitude"),
        longitude=f.opt_number("Longitude"),
        precision=f.opt_number("Precision"),
    )


def _click(_f: FieldReader, h: EventHead) -> EventMessage:
    return ClickEvent(**h)


def _view(f: FieldReader, h: EventHead) -> EventMessage:
    return ViewEvent(**h, menu_id=f.opt_text("MenuId"))


def _scan_code(f: FieldReader, h: EventHead) -> EventMessage:
    info = f.child("ScanCodeInfo")
    return ScanCodeEvent(**h, scan_type=info.text("ScanType"), scan_result=info.text("ScanResult"))


def _pic(f: FieldReader, h: EventHead) -> EventMessage:
    info = f.child("SendPicsInfo")
    sums = tuple(item.text("PicMd5Sum") for item in info.child("PicList").children("item"))
    return PicEvent(**h, count=info.opt_int("Count"), pic_md5_sums=sums)


def _location_select(f: FieldReader, h: EventHead) -> EventMessage:
    info = f.child("SendLocationInfo")
    return LocationSelectEvent(
        **h,
        location_x=info.opt_number("Location_X"),
        location_y=info.opt_number("Location_Y"),
        scale=info.opt_int("Scale"),
        label=info.text("Label"),
        poiname=info.opt_text("Poiname"),
    )


def _view_miniprogram(f: FieldReader, h: EventHead) -> EventMessage:
    return ViewMiniprogramEvent(**h, menu_id=f.opt_text("MenuId"))


def _user_enter_tempsession(f: FieldReader, h: EventHead) -> EventMessage:
    return UserEnterTempsessionEvent(**h, session_from=f.opt_text("SessionFrom"))


def _template_finish(f: FieldReader, h: EventHead) -> EventMessage:
    return TemplateSendJobFinishEvent(**h, msg_id=f.opt_int("MsgID"), status=f.text("Status"))


def _article_urls(items: list[FieldReader], idx: str, url: str) -> tuple[ArticleUrl, ...]:
    return tuple(ArticleUrl(idx=item.opt_int(idx), url=item.text(url)) for item in items)


def _mass_finish(f: FieldReader, h: EventHead) -> EventMessage:
    check = f.child("CopyrightCheckResult")
    results = tuple(
        CopyrightCheckItem(
            article_idx=item.opt_int("ArticleIdx"),
            user_declare_state=item.opt_int("UserDeclareState"),
            audit_state=item.opt_int("AuditState"),
            original_article_url=item.opt_text("OriginalArticleUrl"),
            original_article_type=item.opt_int("OriginalArticleType"),
            can_reprint=item.opt_int("CanReprint"),
            need_replace_content=item.opt_int("NeedReplaceContent"),
            need_show_reprint_source=item.opt_int("NeedShowReprintSource"),
        )
        for item in check.child("ResultList").children("item")
    )
    urls = f.child("ArticleUrlResult").child("ResultList").children("item")
    return MassSendJobFinishEvent(
        **h,
        msg_id=f.opt_int("MsgID"),
        status=f.text("Status"),
        total_count=f.opt_int("TotalCount"),
        filter_count=f.opt_int("FilterCount"),
        sent_count=f.opt_int("SentCount"),
        error_count=f.opt_int("ErrorCount"),
        copyright_check_state=check.opt_int("CheckState"),
        copyright_check_results=results,
        article_urls=_article_urls(urls, "ArticleIdx", "ArticleUrl"),
    )


def _publish_finish(f: FieldReader, h: EventHead) -> EventMessage:
    info = f.child("PublishEventInfo")
    urls = info.child("article_detail").children("item")
    return PublishJobFinishEvent(
        **h,
        publish_id=info.text("publish_id"),
        publish_status=info.opt_int("publish_status"),
        article_id=info.opt_text("article_id"),
        article_urls=_article_urls(urls, "idx", "article_url"),
        fail_idx=info.integers("fail_idx"),
    )


def _subscribe_msg_items(f: FieldReader, *wrappers: str) -> tuple[SubscribeMsgItem, ...]:
    # The first wrapper present wins: the change event's documented sample uses the Popup one.
    wrapper = next((name for name in wrappers if f.has(name)), wrappers[0])
    return tuple(
        SubscribeMsgItem(
            template_id=item.opt_text("TemplateId"),
            subscribe_status=item.opt_text("SubscribeStatusString"),
            popup_scene=item.opt_int("PopupScene"),
            msg_id=item.opt_int("MsgID"),
            error_code=item.opt_int("ErrorCode"),
            error_status=item.opt_text("ErrorStatus"),
        )
        for item in f.child(wrapper).children("List")
    )


def _subscribe_msg_popup(f: FieldReader, h: EventHead) -> EventMessage:
    items = _subscribe_msg_items(f, "SubscribeMsgPopupEvent")
    return SubscribeMsgPopupEvent(**h, items=items)


def _subscribe_msg_change(f: FieldReader, h: EventHead) -> EventMessage:
    items = _subscribe_msg_items(f, "SubscribeMsgChangeEvent", "SubscribeMsgPopupEvent")
    return SubscribeMsgChangeEvent(**h, items=items)


def _subscribe_msg_sent(f: FieldReader, h: EventHead) -> EventMessage:
    items = _subscribe_msg_items(f, "SubscribeMsgSentEvent")
    return SubscribeMsgSentEvent(**h, items=items)


def _verification(f: FieldReader, h: EventHead) -> EventMessage:
    return VerificationEvent(**h, expired_time=f.opt_int("ExpiredTime"))


def _verification_fail(f: FieldReader, h: EventHead) -> EventMessage:
    return VerificationFailEvent(
        **h, fail_time=f.opt_int("FailTime"), fail_reason=f.opt_text("FailReason")
    )


def _kf_session(f: FieldReader, h: EventHead) -> EventMessage:
    return KfSessionEvent(
        **h,
        kf_account=f.opt_text("KfAccount"),
        from_kf_account=f.opt_text("FromKfAccount"),
        to_kf_account=f.opt_text("ToKfAccount"),
    )


def _card(f: FieldReader, h: EventHead) -> EventMessage:
    return CardEvent(
        **h,
        card_id=f.opt_text("CardId"),
        user_card_code=f.opt_text("UserCardCode"),
        old_user_card_code=f.opt_text("OldUserCardCode"),
        refuse_reason=f.opt_text("RefuseReason"),
        is_give_by_friend=f.opt_flag("IsGiveByFriend"),
        friend_user_name=f.opt_text("FriendUserName"),
        outer_id=f.opt_int("OuterId"),
        outer_str=f.opt_text("OuterStr"),
        is_restore_member_card=f.opt_flag("IsRestoreMemberCard"),
        union_id=f.opt_text("UnionId"),
        consume_source=f.opt_text("ConsumeSource"),
        location_name=f.opt_text("LocationName"),
        staff_open_id=f.opt_text("StaffOpenId"),
        trans_id=f.opt_text("TransId"),
        fee=f.opt_int("Fee"),
        original_fee=f.opt_int("OriginalFee"),
        modify_bonus=f.opt_int("ModifyBonus"),
        modify_balance=f.opt_int("ModifyBalance"),
        detail=f.opt_text("Detail"),
    )


EVENT_BUILDERS: dict[type[EventMessage], Callable[[FieldReader, EventHead], EventMessage]] = {
    SubscribeEvent: _subscribe,
    UnsubscribeEvent: _unsubscribe,
    ScanEvent: _scan,
    LocationEvent: _location_event,
    ClickEvent: _click,
    ViewEvent: _view,
    ScanCodeEvent: _scan_code,
    PicEvent: _pic,
    LocationSelectEvent: _location_select,
    ViewMiniprogramEvent: _view_miniprogram,
    UserEnterTempsessionEvent: _user_enter_tempsession,
    TemplateSendJobFinishEvent: _template_finish,
    MassSendJobFinishEvent: _mass_finish,
    PublishJobFinishEvent: _publish_finish,
    SubscribeMsgPopupEvent: _subscribe_msg_popup,
    SubscribeMsgChangeEvent: _subscribe_msg_change,
    SubscribeMsgSentEvent: _subscribe_msg_sent,
    VerificationEvent: _verification,
    VerificationFailEvent: _verification_fail,
    KfSessionEvent: _kf_session,
    CardEvent: _card,
}

# Lowercased MsgType / Event -> builder.
BY_MSG_TYPE = {name: build for cls, build in NORMAL_BUILDERS.items() for name in cls.msg_types}
BY_EVENT = {name: build for cls, build in EVENT_BUILDERS.items() for name in cls.event_names}

# Every concrete message class, the unknown ones included.
MESSAGE_TYPES: tuple[type[Message], ...] = (
    *NORMAL_BUILDERS,
    UnknownMessage,
    *EVENT_BUILDERS,
    UnknownEvent,
)
