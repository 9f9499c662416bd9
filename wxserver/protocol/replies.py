"""Passive replies: the values a handler returns and the XML WeChat expects for them.

A reply is a frozen value; :func:`render` turns it into the body of the HTTP response, addressed
back to the sender of the incoming message. Every string goes into a CDATA section that no content
can break out of: ``]]>`` is split across two sections and characters XML 1.0 forbids are dropped,
so a user's text is always data, never markup. :data:`NO_REPLY` means "answer ``success``", the
only answer after which WeChat neither shows anything nor retries.
"""

from __future__ import annotations

import enum
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import KW_ONLY, dataclass, field, fields
from typing import Any, ClassVar, Final, Protocol

from wxserver.protocol.errors import ReplyError

__all__ = [
    "NO_REPLY",
    "SUCCESS",
    "Addressed",
    "Article",
    "Deferred",
    "ImageReply",
    "MusicReply",
    "NewsReply",
    "NoReply",
    "Reply",
    "TextReply",
    "TransferCustomerServiceReply",
    "VideoReply",
    "VoiceReply",
    "render",
    "render_envelope",
    "render_own_envelope",
]

SUCCESS: Final[bytes] = b"success"
"""The body that acknowledges a message without replying; it is never encrypted."""

# C0 controls other than tab, LF and CR, the two non-characters and any surrogate code point.
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
# The same controls as bytes: for ASCII text, deleting them with bytes.translate is a table lookup
# per byte, several times cheaper than searching with the pattern (a reply envelope's base64).
_C0_CONTROLS = bytes(c for c in range(0x20) if c not in (0x09, 0x0A, 0x0D))

# Far beyond any date in seconds, yet below the current time in milliseconds.
_MAX_CREATE_TIME = 10**11


def _clean(text: str) -> str:
    if _SURROGATE.search(text):
        # A pair of surrogate code points is an emoji that was decoded in halves: join it. Lone
        # halves cannot be encoded at all and are dropped by the UTF-16 round trip.
        text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "ignore")
    return _FORBIDDEN.sub("", text)


def _cdata(text: str) -> str:
    if text.isascii():
        # Printable ASCII (an OpenID, an account id, base64) has nothing to drop; other ASCII is
        # checked byte by byte, which is cheaper than a pattern search.
        if not text.isprintable() and len(
            text.encode("ascii").translate(None, _C0_CONTROLS)
        ) != len(text):
            text = _FORBIDDEN.sub("", text)
    elif _FORBIDDEN.search(text):
        text = _clean(text)
    if "]]>" in text:
        text = text.replace("]]>", "]]]]><![CDATA[>")
    return "<![CDATA[" + text + "]]>"


def _element(name: str, text: str | None) -> str:
    if text is None:
        return ""
    return f"<{name}>{_cdata(text)}</{name}>"


class Addressed(Protocol):
    """What :func:`render` needs from the incoming message: who sent it and to whom."""

    @property
    def to_user_name(self) -> str: ...

    @property
    def from_user_name(self) -> str: ...


_TEXT_FIELDS: dict[type, tuple[tuple[str, bool], ...]] = {}


def _text_fields(cls: type) -> tuple[tuple[str, bool], ...]:
    """The fields of a reply class with whether each may be None: read once per class."""
    found = _TEXT_FIELDS.get(cls)
    if found is None:
        found = _TEXT_FIELDS[cls] = tuple((spec.name, spec.default is None) for spec in fields(cls))
    return found


@dataclass(frozen=True, slots=True)
class _Checked:
    def __post_init__(self) -> None:
        # Handlers are plugin code that the type checker may never see: refuse a value that would
        # render as broken XML here, where the traceback points at the handler.
        for name, optional in _text_fields(type(self)):
            value = getattr(self, name)
            if isinstance(value, str) or (value is None and optional):
                continue
            raise ReplyError(
                f"{type(self).__name__}.{name} must be a str"
                f"{' or None' if optional else ''}, not {type(value).__name__}."
            )

    def _render_body(self) -> str:
        raise ReplyError(f"{type(self).__name__} is not a reply type that can be rendered.")


@dataclass(frozen=True, slots=True)
class Reply(_Checked):
    """Base class of the passive replies; ``msg_type`` is the ``MsgType`` it renders."""

    msg_type: ClassVar[str] = ""


@dataclass(frozen=True, slots=True)
class TextReply(Reply):
    """A text message; newlines are kept."""

    msg_type: ClassVar[str] = "text"
    content: str

    def __post_init__(self) -> None:
        # The reply nearly every handler returns: its one field checked without the loop.
        if not isinstance(self.content, str):
            _Checked.__post_init__(self)

    def _render_body(self) -> str:
        return "<Content>" + _cdata(self.content) + "</Content>"


@dataclass(frozen=True, slots=True)
class ImageReply(Reply):
    """An image already uploaded as temporary or permanent material (not a gif)."""

    msg_type: ClassVar[str] = "image"
    media_id: str

    def _render_body(self) -> str:
        return f"<Image>{_element('MediaId', self.media_id)}</Image>"


@dataclass(frozen=True, slots=True)
class VoiceReply(Reply):
    """A voice message already uploaded as material."""

    msg_type: ClassVar[str] = "voice"
    media_id: str

    def _render_body(self) -> str:
        return f"<Voice>{_element('MediaId', self.media_id)}</Voice>"


@dataclass(frozen=True, slots=True)
class VideoReply(Reply):
    """A video already uploaded as material, with an optional title and description."""

    msg_type: ClassVar[str] = "video"
    media_id: str
    _: KW_ONLY
    title: str | None = None
    description: str | None = None

    def _render_body(self) -> str:
        return (
            f"<Video>{_element('MediaId', self.media_id)}{_element('Title', self.title)}"
            f"{_element('Description', self.description)}</Video>"
        )


@dataclass(frozen=True, slots=True)
class MusicReply(Reply):
    """A music card; the thumbnail is required, the rest optional."""

    msg_type: ClassVar[str] = "music"
    thumb_media_id: str
    _: KW_ONLY
    title: str | None = None
    description: str | None = None
    music_url: str | None = None
    hq_music_url: str | None = None

    def _render_body(self) -> str:
        return (
            f"<Music>{_element('Title', self.title)}{_element('Description', self.description)}"
            f"{_element('MusicUrl', self.music_url)}{_element('HQMusicUrl', self.hq_music_url)}"
            f"{_element('ThumbMediaId', self.thumb_media_id)}</Music>"
        )


@dataclass(frozen=True, slots=True)
class Article(_Checked):
    """One article of a :class:`NewsReply`."""

    title: str
    _: KW_ONLY
    description: str | None = None
    pic_url: str | None = None
    url: str | None = None

    def _render_body(self) -> str:
        return (
            f"<item>{_element('Title', self.title)}{_element('Description', self.description)}"
            f"{_element('PicUrl', self.pic_url)}{_element('Url', self.url)}</item>"
        )


@dataclass(frozen=True, slots=True)
class NewsReply(Reply):
    """A news (article link) reply; a passive reply may carry exactly one article."""

    msg_type: ClassVar[str] = "news"
    articles: tuple[Article, ...]

    def __post_init__(self) -> None:
        articles = tuple(self.articles)
        if len(articles) != 1:
            raise ReplyError(
                f"A passive news reply may hold exactly one article, but {len(articles)} were "
                "given; reply with the first and send the others through the customer-service "
                "API."
            )
        if not isinstance(articles[0], Article):
            raise ReplyError(
                f"NewsReply.articles must hold Article values, not {type(articles[0]).__name__}."
            )
        object.__setattr__(self, "articles", articles)

    def _render_body(self) -> str:
        items = "".join(article._render_body() for article in self.articles)
        return f"<ArticleCount>{len(self.articles)}</ArticleCount><Articles>{items}</Articles>"


@dataclass(frozen=True, slots=True)
class TransferCustomerServiceReply(Reply):
    """Hand the conversation to the customer-service system, optionally to one agent."""

    msg_type: ClassVar[str] = "transfer_customer_service"
    kf_account: str | None = None

    def _render_body(self) -> str:
        if self.kf_account is None:
            return ""
        return f"<TransInfo>{_element('KfAccount', self.kf_account)}</TransInfo>"


class NoReply(enum.Enum):
    """The type of :data:`NO_REPLY`: acknowledge with ``success`` and show the user nothing."""

    NO_REPLY = "success"

    def __repr__(self) -> str:
        return "NO_REPLY"


NO_REPLY: Final = NoReply.NO_REPLY
"""Returned by a handler that has nothing to say; answered with :data:`SUCCESS`."""


def render(reply: Reply, message: Addressed, *, create_time: int | None = None) -> bytes:
    """Return the UTF-8 XML body answering ``message`` with ``reply``.

    ``create_time`` is in seconds and defaults to now; WeChat rejects a reply in milliseconds.
    """
    if not isinstance(reply, Reply) or not reply.msg_type:
        raise ReplyError(
            f"{reply!r} cannot be rendered as a passive reply; NO_REPLY is answered with SUCCESS."
        )
    seconds = int(time.time()) if create_time is None else int(create_time)
    if not 0 <= seconds < _MAX_CREATE_TIME:
        raise ValueError(f"create_time must be in seconds since the epoch, not {create_time}.")
    return (
        f"<xml><ToUserName>{_cdata(message.from_user_name)}</ToUserName>"
        f"<FromUserName>{_cdata(message.to_user_name)}</FromUserName>"
        f"<CreateTime>{seconds}</CreateTime>"
        f"<MsgType><![CDATA[{reply.msg_type}]]></MsgType>"
        f"{reply._render_body()}</xml>"
    ).encode()


def render_envelope(*, encrypt: str, msg_signature: str, timestamp: int, nonce: str) -> bytes:
    """Return the body of an encrypted reply; ``msg_signature`` must sign these same values."""
    seconds = int(timestamp)
    if not 0 <= seconds < _MAX_CREATE_TIME:
        raise ValueError(f"timestamp must be in seconds since the epoch, not {timestamp}.")
    return (
        f"<xml><Encrypt>{_cdata(encrypt)}</Encrypt>"
        f"<MsgSignature>{_cdata(msg_signature)}</MsgSignature>"
        f"<TimeStamp>{seconds}</TimeStamp>"
        f"<Nonce>{_cdata(nonce)}</Nonce></xml>"
    ).encode()


def render_own_envelope(encrypt: str, msg_signature: str, timestamp: int, nonce: int) -> bytes:
    """Fast path: :func:`render_envelope` for the values the server makes itself.

    ``encrypt`` is base64 and ``msg_signature`` hex, as MessageCrypto and signature.sign return
    them; ``timestamp`` and ``nonce`` are numbers. None of these can hold a character that CDATA
    escaping would change, so the reply envelope is formatted without scanning them again.
    Measured with ``python -m bench.callgrind --targets wxserver`` (in-process, whole app):
    0.791 M instructions per secure request with :func:`render_envelope`, 0.770 M with this: 21 k,
    2.7%. ``tests/protocol/test_replies.py`` holds the two to the same bytes.
    """
    return (
        f"<xml><Encrypt><![CDATA[{encrypt}]]></Encrypt>"
        f"<MsgSignature><![CDATA[{msg_signature}]]></MsgSignature>"
        f"<TimeStamp>{timestamp}</TimeStamp>"
        f"<Nonce><![CDATA[{nonce}]]></Nonce></xml>"
    ).encode()


@dataclass(frozen=True, slots=True)
class Deferred:
    """Answer later: the work runs as a job outside the request, and its result is the reply.

    A handler returns ``Deferred(func, *args)`` where ``func`` is a module-level function (it is
    sent to the job worker by name) returning what a handler may return: a Reply, a str or
    ``NO_REPLY``. A rule registered with ``background=True`` is deferred whole by the router.
    ``placeholder`` is the text answered in the meantime when WeChat cannot wait any longer; with
    none, ``success``.
    """

    call: Callable[..., object] | None = None
    args: tuple[Any, ...] = ()
    placeholder: str | None = None
    # Set by the router for a background rule: the job runs that rule with these groups.
    rule: str | None = None
    groups: Mapping[str, str] = field(default_factory=dict)

    def __init__(
        self,
        call: Callable[..., object] | None = None,
        *args: Any,
        placeholder: str | None = None,
        rule: str | None = None,
        groups: Mapping[str, str] | None = None,
    ) -> None:
        if (call is None) == (rule is None):
            raise ReplyError(
                "Deferred needs the function to run later (or, from the router, a rule)"
            )
        object.__setattr__(self, "call", call)
        object.__setattr__(self, "args", tuple(args))
        object.__setattr__(self, "placeholder", placeholder)
        object.__setattr__(self, "rule", rule)
        object.__setattr__(self, "groups", dict(groups or {}))
