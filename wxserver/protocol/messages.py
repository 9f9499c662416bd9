"""Typed messages and events that WeChat pushes to the callback URL.

Every type is a frozen, slotted dataclass with snake_case fields; :mod:`wxserver.protocol.parsing`
maps the wire names (``ToUserName``, ``Location_X`` ...) onto them. A field the platform left out
or sent malformed is empty: "" for text, None for a number. ``raw`` keeps every field that arrived,
read-only, because the platform adds fields without notice and a handler may need one this module
does not model yet. Classes name the ``MsgType`` or ``Event`` values they stand for in a class
variable (lowercase; the parser matches case-insensitively) so the parser's lookup table is built
from the classes themselves and cannot drift from them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any, ClassVar


def _freeze(value: Any) -> Any:
    """Return ``value`` with every mapping made read-only and every list made a tuple."""
    if value is None or isinstance(value, str):  # nearly every value: skip the slower checks
        return value
    if type(value) is dict or isinstance(value, Mapping):  # the parser's dict, without the ABC
        copied = dict(value)
        # Most messages are flat: every value text (or None for an empty element).
        if not set(map(type, copied.values())) <= _FLAT:
            for key, item in copied.items():
                copied[key] = _freeze(item)
        return MappingProxyType(copied)
    if isinstance(value, list | tuple):
        return tuple(_freeze(item) for item in value)
    return value


_FLAT = frozenset({str, type(None)})


def _thaw(value: Any) -> Any:
    """The inverse of ``_freeze``: plain dicts and lists, which pickle and deepcopy accept."""
    if isinstance(value, Mapping):
        return {key: _thaw(item) for key, item in value.items()}
    if isinstance(value, tuple):
        return [_thaw(item) for item in value]
    return value


def _rebuild(cls: type[Message], values: dict[str, Any]) -> Message:
    return cls(**values)


def _plain(value: Any) -> str:
    """The text of a raw field for a key, or "" when it is absent or not text."""
    return value if isinstance(value, str) else ""


# --- the common head ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Message:
    """Any push from WeChat: the fields every message and event carries."""

    to_user_name: str
    from_user_name: str
    create_time: int
    msg_type: str
    agent_id: str | None = None
    # The AppID of the account this message was sent to, when it came through an Open Platform
    # component (the authorizer, 授权方); None otherwise.
    authorizer_app_id: str | None = None
    raw: Mapping[str, Any] = field(
        default_factory=lambda: MappingProxyType({}), repr=False, compare=False
    )

    def __post_init__(self) -> None:
        # Frozen all the way down: a handler must not be able to alter what another one sees.
        object.__setattr__(self, "raw", _freeze(self.raw))

    def __reduce__(self) -> tuple[Any, ...]:
        # A mappingproxy can be neither pickled nor deep-copied (a job queue may do either), so
        # a message travels as its class and plain values and is frozen again on arrival.
        values = {item.name: getattr(self, item.name) for item in fields(self)}
        values["raw"] = _thaw(self.raw)
        return (_rebuild, (type(self), values))

    @property
    def key(self) -> str:
        """The de-duplication key: ``to:from:MsgId``, else ``to:from:CreateTime:Event:EventKey``."""
        head = f"{self.to_user_name}:{self.from_user_name}"
        msg_id = self._key_msg_id()
        if msg_id:
            return f"{head}:{msg_id}"
        return f"{head}:{self.create_time}:{self._key_event()}"

    def _key_msg_id(self) -> str:
        return _plain(self.raw.get("MsgId"))

    def _key_event(self) -> str:
        return f"{_plain(self.raw.get('Event'))}:{_plain(self.raw.get('EventKey'))}"


@dataclass(frozen=True, slots=True, kw_only=True)
class UnknownMessage(Message):
    """A ``MsgType`` this module does not model; everything received is in ``raw``."""


# --- normal messages (B2) -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class NormalMessage(Message):
    """A message a user sent; ``msg_data_id``/``idx`` are set when it came from an article."""

    msg_types: ClassVar[frozenset[str]] = frozenset()
    msg_id: int | None = None
    msg_data_id: str | None = None
    idx: int | None = None

    def _key_msg_id(self) -> str:
        return "" if self.msg_id is None else str(self.msg_id)


@dataclass(frozen=True, slots=True, kw_only=True)
class TextMessage(NormalMessage):
    """Text; ``bizmsgmenuid`` is set when the user tapped an option of a ``msgmenu``."""

    msg_types: ClassVar[frozenset[str]] = frozenset({"text"})
    content: str = ""
    bizmsgmenuid: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ImageMessage(NormalMessage):
    """A picture: ``pic_url`` to download it, ``media_id`` for the media API."""

    msg_types: ClassVar[frozenset[str]] = frozenset({"image"})
    pic_url: str = ""
    media_id: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class VoiceMessage(NormalMessage):
    """A voice clip (8 kHz ``media_id``, optional 16 kHz copy and legacy speech recognition)."""

    msg_types: ClassVar[frozenset[str]] = frozenset({"voice"})
    media_id: str = ""
    format: str = ""
    media_id_16k: str | None = None
    recognition: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class VideoMessage(NormalMessage):
    """A video and its thumbnail."""

    msg_types: ClassVar[frozenset[str]] = frozenset({"video"})
    media_id: str = ""
    thumb_media_id: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ShortVideoMessage(NormalMessage):
    """A short video and its thumbnail (a separate type so handlers can tell the two apart)."""

    msg_types: ClassVar[frozenset[str]] = frozenset({"shortvideo"})
    media_id: str = ""
    thumb_media_id: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class LocationMessage(NormalMessage):
    """A location the user shared: latitude ``location_x``, longitude ``location_y``."""

    msg_types: ClassVar[frozenset[str]] = frozenset({"location"})
    location_x: float | None = None
    location_y: float | None = None
    scale: int | None = None
    label: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkMessage(NormalMessage):
    """A link the user shared."""

    msg_types: ClassVar[frozenset[str]] = frozenset({"link"})
    title: str = ""
    description: str = ""
    url: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class MiniprogramPageMessage(NormalMessage):
    """A mini-program card a user sent to its customer service (小程序卡片)."""

    msg_types: ClassVar[frozenset[str]] = frozenset({"miniprogrampage"})
    title: str = ""
    app_id: str = ""
    page_path: str = ""
    thumb_url: str = ""
    thumb_media_id: str = ""


# --- events (B3) --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class EventMessage(Message):
    """An event (``MsgType`` ``event``); ``event`` keeps the spelling WeChat sent."""

    event_names: ClassVar[frozenset[str]] = frozenset()
    event: str
    event_key: str | None = None

    def _key_msg_id(self) -> str:
        # Events are keyed by time and name even when they carry a MsgID (B6).
        return ""

    def _key_event(self) -> str:
        key = f"{self.event}:{self.event_key or ''}"
        # Two template or mass sends can finish in the same second; their MsgID tells them apart.
        job = _plain(self.raw.get("MsgID"))
        return f"{key}:{job}" if job else key


@dataclass(frozen=True, slots=True, kw_only=True)
class UnknownEvent(EventMessage):
    """An ``Event`` this module does not model; everything received is in ``raw``."""


def facts(message: Message) -> tuple[str, str, str, str]:
    """The type, event, event key and message id of ``message`` for a log line; "-" for none."""
    if isinstance(message, EventMessage):
        return (message.msg_type, message.event, message.event_key or "-", "-")
    if isinstance(message, NormalMessage) and message.msg_id is not None:
        return (message.msg_type, "-", "-", str(message.msg_id))
    return (message.msg_type, "-", "-", "-")
