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
from collections.abc import Mapping
from typing import Any, NoReturn
from xml.parsers import expat

import xmltodict

from wxserver.builders import BY_EVENT, BY_MSG_TYPE
from wxserver.errors import XmlError
from wxserver.fields import EventHead, FieldReader, NormalHead, read_head
from wxserver.messages import Message, UnknownEvent, UnknownMessage

# --- bytes -> fields ----------------------------------------------------------------------------

# Children that WeChat repeats: always lists, whether one or many arrived.
_FORCE_LIST = frozenset({"item", "List", "fail_idx"})
_BOM = b"\xef\xbb\xbf"
# What may legally precede the root element besides a DOCTYPE: whitespace, PIs and comments.
_PROLOG = re.compile(rb"(?:[ \t\r\n]+|<\?.*?\?>|<!--.*?-->)*", re.DOTALL)
_ENCODING = re.compile(rb"<\?xml[^>]*?\bencoding[ \t\r\n]*=[ \t\r\n]*(['\"])(.*?)\1", re.DOTALL)


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


def message_from_fields(fields: Mapping[str, Any]) -> Message:
    """Build the typed message for the fields of a callback body (as ``parse_xml`` returns them).

    An unknown MsgType gives an UnknownMessage and an unknown Event an UnknownEvent, both with
    every field in ``raw``. A missing common field or a malformed number raises XmlError.
    """
    f = FieldReader(fields)
    head = read_head(f, fields)
    kind = head["msg_type"].strip().lower()
    if kind == "event":
        event_head: EventHead = {
            **head,
            "event": f.text("Event", empty=False),
            "event_key": f.opt_text("EventKey"),
        }
        build_event = BY_EVENT.get(event_head["event"].strip().lower())
        return UnknownEvent(**event_head) if build_event is None else build_event(f, event_head)
    build = BY_MSG_TYPE.get(kind)
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
