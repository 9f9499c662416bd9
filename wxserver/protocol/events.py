"""Typed events (``MsgType`` ``event``, PROTOCOL B3): one frozen dataclass per kind of event.

Each class names the ``Event`` values it stands for in ``event_names`` (lowercase; matched
case-insensitively), so the parser's lookup table is built from the classes themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from wxserver.protocol.messages import EventMessage


@dataclass(frozen=True, slots=True, kw_only=True)
class SubscribeEvent(EventMessage):
    """A user followed the account; ``scene`` is the QR scene without ``qrscene_``, else None."""

    event_names: ClassVar[frozenset[str]] = frozenset({"subscribe"})
    ticket: str | None = None
    scene: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class UnsubscribeEvent(EventMessage):
    """A user unfollowed the account; no reply is shown."""

    event_names: ClassVar[frozenset[str]] = frozenset({"unsubscribe"})


@dataclass(frozen=True, slots=True, kw_only=True)
class ScanEvent(EventMessage):
    """A follower scanned a parametric QR code; ``scene`` is ``EventKey`` as sent."""

    event_names: ClassVar[frozenset[str]] = frozenset({"scan"})
    ticket: str | None = None
    scene: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class LocationEvent(EventMessage):
    """The user's position, reported on entering the chat or every 5 seconds."""

    event_names: ClassVar[frozenset[str]] = frozenset({"location"})
    latitude: float | None = None
    longitude: float | None = None
    precision: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ClickEvent(EventMessage):
    """A click menu item was tapped; ``event_key`` is its key."""

    event_names: ClassVar[frozenset[str]] = frozenset({"click"})


@dataclass(frozen=True, slots=True, kw_only=True)
class ViewEvent(EventMessage):
    """A link menu item was tapped; ``event_key`` is the URL, ``menu_id`` the personalised menu."""

    event_names: ClassVar[frozenset[str]] = frozenset({"view"})
    menu_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ScanCodeEvent(EventMessage):
    """A scan-code menu item returned a result."""

    event_names: ClassVar[frozenset[str]] = frozenset({"scancode_push", "scancode_waitmsg"})
    scan_type: str = ""
    scan_result: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class PicEvent(EventMessage):
    """A photo menu item was used; the pictures themselves also arrive as image messages."""

    event_names: ClassVar[frozenset[str]] = frozenset(
        {"pic_sysphoto", "pic_photo_or_album", "pic_weixin"}
    )
    count: int | None = None
    pic_md5_sums: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class LocationSelectEvent(EventMessage):
    """A location-picker menu item returned a place."""

    event_names: ClassVar[frozenset[str]] = frozenset({"location_select"})
    location_x: float | None = None
    location_y: float | None = None
    scale: int | None = None
    label: str = ""
    poiname: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ViewMiniprogramEvent(EventMessage):
    """A mini-program menu item was tapped; ``event_key`` is the page path."""

    event_names: ClassVar[frozenset[str]] = frozenset({"view_miniprogram"})
    menu_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class UserEnterTempsessionEvent(EventMessage):
    """A user opened a mini-program's customer-service chat; ``session_from`` is the button's
    ``session-from`` value."""

    event_names: ClassVar[frozenset[str]] = frozenset({"user_enter_tempsession"})
    session_from: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TemplateSendJobFinishEvent(EventMessage):
    """A template message was delivered or failed (``MsgID`` on the wire)."""

    event_names: ClassVar[frozenset[str]] = frozenset({"templatesendjobfinish"})
    msg_id: int | None = None
    status: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ArticleUrl:
    """The URL of one article of a mass send or a publication; ``idx`` counts from 1."""

    idx: int | None = None
    url: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class CopyrightCheckItem:
    """The originality check of one article of a mass send."""

    article_idx: int | None = None
    user_declare_state: int | None = None
    audit_state: int | None = None
    original_article_url: str | None = None
    original_article_type: int | None = None
    can_reprint: int | None = None
    need_replace_content: int | None = None
    need_show_reprint_source: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class MassSendJobFinishEvent(EventMessage):
    """A mass send finished; counts, the copyright check and the article URLs."""

    event_names: ClassVar[frozenset[str]] = frozenset({"masssendjobfinish"})
    msg_id: int | None = None
    status: str = ""
    total_count: int | None = None
    filter_count: int | None = None
    sent_count: int | None = None
    error_count: int | None = None
    copyright_check_state: int | None = None
    copyright_check_results: tuple[CopyrightCheckItem, ...] = ()
    article_urls: tuple[ArticleUrl, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class PublishJobFinishEvent(EventMessage):
    """A publication finished; ``publish_status`` 0 is success, 1..6 the documented failures."""

    # The documentation also shows FREEPUBLISHJOBFINISH; the platform sends PUBLISHJOBFINISH.
    event_names: ClassVar[frozenset[str]] = frozenset({"publishjobfinish", "freepublishjobfinish"})
    publish_id: str = ""
    publish_status: int | None = None
    article_id: str | None = None
    article_urls: tuple[ArticleUrl, ...] = ()
    fail_idx: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class SubscribeMsgItem:
    """One template of a subscription-message event; which fields are set depends on the event."""

    template_id: str | None = None
    subscribe_status: str | None = None
    popup_scene: int | None = None
    msg_id: int | None = None
    error_code: int | None = None
    error_status: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SubscribeMsgPopupEvent(EventMessage):
    """The user answered the subscription pop-up: accept or reject per template."""

    event_names: ClassVar[frozenset[str]] = frozenset({"subscribe_msg_popup_event"})
    items: tuple[SubscribeMsgItem, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class SubscribeMsgChangeEvent(EventMessage):
    """The user changed a subscription in the settings (in practice always a reject)."""

    event_names: ClassVar[frozenset[str]] = frozenset({"subscribe_msg_change_event"})
    items: tuple[SubscribeMsgItem, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class SubscribeMsgSentEvent(EventMessage):
    """The delivery result of subscription messages."""

    event_names: ClassVar[frozenset[str]] = frozenset({"subscribe_msg_sent_event"})
    items: tuple[SubscribeMsgItem, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class VerificationEvent(EventMessage):
    """A qualification or naming verification passed, or one is due: ``expired_time`` is when."""

    event_names: ClassVar[frozenset[str]] = frozenset(
        {"qualification_verify_success", "naming_verify_success", "annual_renew", "verify_expired"}
    )
    expired_time: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class VerificationFailEvent(EventMessage):
    """A qualification or naming verification failed."""

    event_names: ClassVar[frozenset[str]] = frozenset(
        {"qualification_verify_fail", "naming_verify_fail"}
    )
    fail_time: int | None = None
    fail_reason: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class KfSessionEvent(EventMessage):
    """A customer-service session was created, closed or switched to another agent."""

    event_names: ClassVar[frozenset[str]] = frozenset(
        {"kf_create_session", "kf_close_session", "kf_switch_session"}
    )
    kf_account: str | None = None
    from_kf_account: str | None = None
    to_kf_account: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CardEvent(EventMessage):
    """Any card or coupon (卡券) event; fields beyond these are in ``raw``."""

    event_names: ClassVar[frozenset[str]] = frozenset(
        {
            "card_pass_check",
            "card_not_pass_check",
            "user_get_card",
            "user_gifting_card",
            "user_del_card",
            "user_consume_card",
            "user_pay_from_pay_cell",
            "user_view_card",
            "user_enter_session_from_card",
            "update_member_card",
            "card_sku_remind",
            "card_pay_order",
            "submit_membercard_user_info",
        }
    )
    card_id: str | None = None
    user_card_code: str | None = None
    old_user_card_code: str | None = None
    refuse_reason: str | None = None
    is_give_by_friend: bool | None = None
    friend_user_name: str | None = None
    outer_id: int | None = None
    outer_str: str | None = None
    is_restore_member_card: bool | None = None
    union_id: str | None = None
    consume_source: str | None = None
    location_name: str | None = None
    staff_open_id: str | None = None
    trans_id: str | None = None
    fee: int | None = None
    original_fee: int | None = None
    modify_bonus: int | None = None
    modify_balance: int | None = None
    detail: str | None = None
