"""Turn a callback body into fields, and fields into a typed message (sans-IO).

``parse_xml`` is the one place untrusted XML meets a parser. It refuses, before parsing, anything
WeChat never sends and an attacker would: a DOCTYPE or ENTITY declaration (billion laughs, XXE),
bytes that are not UTF-8 (or a declaration naming another encoding), and NUL bytes (which would
let expat guess UTF-16 and read markup the byte checks never saw). The expat parser is also told to
stop at a DOCTYPE, so the check does not rest on one layer.

``message_from_fields`` picks the class from one table built from the classes' own name sets, then
reads each field with a typed accessor whose errors name the field: a bad body is a 400 with a
sentence a person can act on, never a stack trace.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NoReturn, TypedDict
from xml.parsers import expat

import xmltodict

from wxserver.errors import XmlError
from wxserver.events import EVENT_BUILDERS
from wxserver.messages import (
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

# --- bytes -> fields ----------------------------------------------------------------------------

# Children that WeChat repeats: always lists, whether one or many arrived.
_FORCE_LIST = frozenset({"item", "List", "fail_idx"})
_BOM = b"\xef\xbb\xbf"
# What may legally precede the root element besides a DOCTYPE: whitespace, PIs and comments.
_PROLOG = re.compile(rb"(?:[ \t\r\n]+|<\?.*?\?>|<!--.*?-->)*", re.DOTALL)
_ENCODING = re.compile(rb"<\?xml[^>]*?\bencoding[ \t\r\n]*=[ \t\r\n]*(['\"])(.*?)\1", re.DOTALL)
_INTEGER = re.compile(r"[ \t\r\n]*[+-]?[0-9]+[ \t\r\n]*")
_DECIMAL = re.compile(r"[ \t\r\n]*[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?[ \t\r\n]*")


def _refuse_doctype(*_args: object) -> NoReturn:
    raise XmlError("The body declares a DOCTYPE; WeChat never sends one, so it is refused.")


class _GuardedExpat:
    """Stands in for the expat module so that xmltodict's parser also stops at any DOCTYPE."""

    @staticmethod
    def ParserCreate(  # the name xmltodict calls
        encoding: str | None = None, namespace_separator: str | None = None
    ) -> Any:
        parser = expat.ParserCreate(encoding, namespace_separator)
        parser.StartDoctypeDeclHandler = _refuse_doctype
        return parser


def _drop_layout(_path: object, key: str, value: Any) -> Any:
    # Values keep their whitespace (a user's text is data), so the indentation between child
    # elements would otherwise show up as "#text" entries; returning None drops an entry.
    if key == "#text" and isinstance(value, str) and value.isspace():
        return None
    return key, value


def _check_bytes(body: bytes) -> None:
    if not body.strip():
        raise XmlError("The body is empty; WeChat sends an <xml> document.")
    # Checked here, not left to expat, so the error says what is wrong instead of "invalid token".
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise XmlError(
            f"The body is not valid UTF-8 (byte {body[exc.start]:#04x} at offset {exc.start})."
        ) from None
    if b"\x00" in body:
        raise XmlError("The body contains a NUL byte, as UTF-16 would; it must be UTF-8 XML.")
    start = len(_BOM) if body.startswith(_BOM) else 0
    declared = _ENCODING.match(body, start)
    if declared and declared.group(2).lower() not in {b"utf-8", b"utf8"}:
        name = declared.group(2).decode("ascii", "replace")
        raise XmlError(f"The body declares encoding {name!r}; only UTF-8 is accepted.")
    # A DOCTYPE (and the ENTITY declarations it carries) can only stand before the root element;
    # anywhere else expat rejects it as malformed. So a "<!" that is not a comment here is refused.
    prolog_end = _PROLOG.match(body, start)
    if prolog_end is not None and body.startswith(b"<!", prolog_end.end()):
        raise XmlError("The body declares a DOCTYPE or ENTITY; WeChat never sends one.")


def parse_xml(body: bytes) -> dict[str, Any]:
    """Return the children of the root ``<xml>`` element of a callback body.

    Repeated children named ``item``, ``List`` or ``fail_idx`` are always lists; text keeps its
    whitespace; attributes are ignored. Raises XmlError for anything that is not such a document.
    """
    _check_bytes(body)
    try:
        document = xmltodict.parse(
            body,
            encoding="utf-8",
            expat=_GuardedExpat,
            disable_entities=True,
            xml_attribs=False,
            strip_whitespace=False,
            force_list=_FORCE_LIST,
            postprocessor=_drop_layout,
        )
    except expat.ExpatError as exc:
        raise XmlError(f"The body is not well-formed XML: {exc}.") from None
    except ValueError as exc:  # xmltodict's own refusal of an entity declaration
        raise XmlError(f"The body was refused: {exc}.") from None
    ((root, children),) = document.items()
    if root != "xml":
        raise XmlError(f"The root element is <{root}>; WeChat sends <xml>.")
    if children is None or (isinstance(children, str) and children.isspace()):
        return {}
    if not isinstance(children, dict):
        raise XmlError("The root <xml> element holds text instead of fields.")
    return children


# --- fields -> typed values ---------------------------------------------------------------------


def _shown(value: str) -> str:
    return repr(value if len(value) <= 40 else value[:40] + "...")


def _repetitions(value: Any) -> Sequence[Any]:
    # Lists come from the parser, tuples from a message's read-only ``raw``.
    if isinstance(value, list | tuple):
        return value
    return () if value is None else (value,)


class FieldReader:
    """Typed reads from one level of a field dict; every error is an XmlError naming the field.

    Also useful to a handler reading ``raw`` of an UnknownMessage or UnknownEvent.
    """

    __slots__ = ("_fields", "_path")

    def __init__(self, fields: Mapping[str, Any], path: str = "") -> None:
        self._fields = fields
        self._path = path

    def _where(self, name: str) -> str:
        return f"<{self._path}{name}>"

    def opt_text(self, name: str) -> str | None:
        """The text of ``name``; "" for an empty element, None when absent."""
        value = self._fields.get(name)
        if isinstance(value, str):
            return value
        if value is None:
            return "" if name in self._fields else None
        if isinstance(value, list | tuple):
            raise XmlError(f"{self._where(name)} appears more than once.")
        raise XmlError(f"{self._where(name)} holds elements instead of text.")

    def text(self, name: str, *, empty: bool = True) -> str:
        """The text of a required field; ``empty=False`` also refuses an empty element."""
        value = self.opt_text(name)
        if value is None:
            raise XmlError(f"The message has no {self._where(name)}.")
        if not value and not empty:
            raise XmlError(f"{self._where(name)} is empty.")
        return value

    def opt_int(self, name: str) -> int | None:
        """A whole number, None when absent or empty."""
        value = self.opt_text(name)
        if value is None or not value.strip():
            return None
        if _INTEGER.fullmatch(value) is None:
            raise XmlError(f"{self._where(name)} must be a whole number, not {_shown(value)}.")
        return int(value)

    def integer(self, name: str) -> int:
        """A required whole number."""
        value = self.opt_int(name)
        if value is None:
            raise XmlError(f"The message has no {self._where(name)} (a whole number).")
        return value

    def number(self, name: str) -> float:
        """A required decimal number such as a coordinate."""
        value = self.opt_text(name)
        if value is None or not value.strip():
            raise XmlError(f"The message has no {self._where(name)} (a number).")
        if _DECIMAL.fullmatch(value) is None:
            raise XmlError(f"{self._where(name)} must be a number, not {_shown(value)}.")
        return float(value)

    def opt_flag(self, name: str) -> bool | None:
        """A 0/1 flag, None when absent or empty."""
        value = self.opt_int(name)
        if value is None:
            return None
        if value not in (0, 1):
            raise XmlError(f"{self._where(name)} must be 0 or 1, not {value}.")
        return value == 1

    def child(self, name: str) -> FieldReader:
        """The fields inside ``name``; empty when it is absent or empty."""
        value = self._fields.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            return FieldReader({}, f"{self._path}{name}/")
        if isinstance(value, Mapping):
            return FieldReader(value, f"{self._path}{name}/")
        raise XmlError(f"{self._where(name)} must hold elements.")

    def children(self, name: str) -> list[FieldReader]:
        """One reader per repetition of ``name``."""
        readers = []
        for item in _repetitions(self._fields.get(name)):
            if not isinstance(item, Mapping):
                raise XmlError(f"{self._where(name)} must hold elements.")
            readers.append(FieldReader(item, f"{self._path}{name}/"))
        return readers

    def integers(self, name: str) -> tuple[int, ...]:
        """Repetitions of a whole-number field ``name``, in order."""
        items = _repetitions(self._fields.get(name))
        return tuple(FieldReader({name: item}, self._path).integer(name) for item in items)

    def has(self, name: str) -> bool:
        """Whether ``name`` is present at this level."""
        return name in self._fields


# --- fields -> messages -------------------------------------------------------------------------


class _Head(TypedDict):
    """Keyword arguments common to every message class."""

    to_user_name: str
    from_user_name: str
    create_time: int
    msg_type: str
    agent_id: str | None
    raw: Mapping[str, Any]


class NormalHead(_Head):
    """Keyword arguments common to every normal message class."""

    msg_id: int | None
    msg_data_id: str | None
    idx: int | None


class EventHead(_Head):
    """Keyword arguments common to every event class."""

    event: str
    event_key: str | None


def _head(f: FieldReader, fields: Mapping[str, Any]) -> _Head:
    return {
        "to_user_name": f.text("ToUserName", empty=False),
        "from_user_name": f.text("FromUserName", empty=False),
        "create_time": f.integer("CreateTime"),
        "msg_type": f.text("MsgType", empty=False),
        "agent_id": f.opt_text("AgentID"),
        "raw": fields,
    }


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
        location_x=f.number("Location_X"),
        location_y=f.number("Location_Y"),
        scale=f.integer("Scale"),
        label=f.text("Label"),
    )


def _link(f: FieldReader, h: NormalHead) -> NormalMessage:
    return LinkMessage(
        **h, title=f.text("Title"), description=f.text("Description"), url=f.text("Url")
    )


_NormalBuilder = Callable[[FieldReader, NormalHead], NormalMessage]

_NORMAL_BUILDERS: dict[type[NormalMessage], _NormalBuilder] = {
    TextMessage: _text,
    ImageMessage: _image,
    VoiceMessage: _voice,
    VideoMessage: _video,
    ShortVideoMessage: _short_video,
    LocationMessage: _location,
    LinkMessage: _link,
}

# The lookup tables: lowercased MsgType / Event -> builder, from the names each class declares.
_BY_MSG_TYPE = {name: build for cls, build in _NORMAL_BUILDERS.items() for name in cls.msg_types}
_BY_EVENT = {name: build for cls, build in EVENT_BUILDERS.items() for name in cls.event_names}


def message_from_fields(fields: Mapping[str, Any]) -> Message:
    """Build the typed message for the fields of a callback body (as ``parse_xml`` returns them).

    An unknown MsgType gives an UnknownMessage and an unknown Event an UnknownEvent, both with
    every field in ``raw``. A missing common field or a malformed number raises XmlError.
    """
    f = FieldReader(fields)
    head = _head(f, fields)
    kind = head["msg_type"].strip().lower()
    if kind == "event":
        event_head: EventHead = {
            **head,
            "event": f.text("Event", empty=False),
            "event_key": f.opt_text("EventKey"),
        }
        build_event = _BY_EVENT.get(event_head["event"].strip().lower())
        return UnknownEvent(**event_head) if build_event is None else build_event(f, event_head)
    build = _BY_MSG_TYPE.get(kind)
    if build is None:
        return UnknownMessage(**head)
    normal_head: NormalHead = {
        **head,
        "msg_id": f.opt_int("MsgId"),
        "msg_data_id": f.opt_text("MsgDataId"),
        "idx": f.opt_int("Idx"),
    }
    return build(f, normal_head)


def parse_message(body: bytes) -> Message:
    """Parse a callback body into its typed message (``parse_xml`` + ``message_from_fields``)."""
    return message_from_fields(parse_xml(body))
