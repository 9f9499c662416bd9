"""wxserver: a webhook message server for WeChat Official Accounts.

This module is the public surface: it only re-exports. The protocol names (messages, events,
replies, handler sets, errors) load with it; the app factory and the handler context load on
first use, so that importing ``wxserver.protocol`` never builds Flask, the store or the metrics.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from wxserver.protocol.api_errors import (
    ApiError,
    ApiUnavailableError,
)
from wxserver.protocol.errors import (
    ConfigError,
    CryptoError,
    HandlerError,
    PluginError,
    ProtocolError,
    ReplyError,
    SignatureError,
    WxServerError,
    XmlError,
)
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
from wxserver.protocol.handlers import HandlerSet
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
from wxserver.protocol.pay.notifications import (
    PayNotification,
    RefundAmount,
    RefundNotification,
    TransactionAmount,
    TransactionNotification,
    UnknownPayNotification,
)
from wxserver.protocol.replies import (
    NO_REPLY,
    Article,
    Deferred,
    ImageReply,
    MusicReply,
    NewsReply,
    NoReply,
    Reply,
    TextReply,
    TransferCustomerServiceReply,
    VideoReply,
    VoiceReply,
)
from wxserver.protocol.routing import Router

if TYPE_CHECKING:
    from wxserver.services.context import HandlerContext, current_context
    from wxserver.web.app import create_app

# Loaded on first use: name -> module.
_LAZY = {
    "HandlerContext": "wxserver.services.context",
    "create_app": "wxserver.web.app",
    "current_context": "wxserver.services.context",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'wxserver' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "NO_REPLY",
    "ApiError",
    "ApiUnavailableError",
    "Article",
    "ArticleUrl",
    "CardEvent",
    "ClickEvent",
    "ConfigError",
    "CopyrightCheckItem",
    "CryptoError",
    "Deferred",
    "EventMessage",
    "HandlerContext",
    "HandlerError",
    "HandlerSet",
    "ImageMessage",
    "ImageReply",
    "KfSessionEvent",
    "LinkMessage",
    "LocationEvent",
    "LocationMessage",
    "LocationSelectEvent",
    "MassSendJobFinishEvent",
    "Message",
    "MiniprogramPageMessage",
    "MusicReply",
    "NewsReply",
    "NoReply",
    "NormalMessage",
    "PayNotification",
    "PicEvent",
    "PluginError",
    "ProtocolError",
    "PublishJobFinishEvent",
    "RefundAmount",
    "RefundNotification",
    "Reply",
    "ReplyError",
    "Router",
    "ScanCodeEvent",
    "ScanEvent",
    "ShortVideoMessage",
    "SignatureError",
    "SubscribeEvent",
    "SubscribeMsgChangeEvent",
    "SubscribeMsgItem",
    "SubscribeMsgPopupEvent",
    "SubscribeMsgSentEvent",
    "TemplateSendJobFinishEvent",
    "TextMessage",
    "TextReply",
    "TransactionAmount",
    "TransactionNotification",
    "TransferCustomerServiceReply",
    "UnknownEvent",
    "UnknownMessage",
    "UnknownPayNotification",
    "UnsubscribeEvent",
    "UserEnterTempsessionEvent",
    "VerificationEvent",
    "VerificationFailEvent",
    "VideoMessage",
    "VideoReply",
    "ViewEvent",
    "ViewMiniprogramEvent",
    "VoiceMessage",
    "VoiceReply",
    "WxServerError",
    "XmlError",
    "create_app",
    "current_context",
]
