"""Turn a callback body into fields, and fields into a typed message (sans-IO).

``parse_xml`` is the one place a whole message meets a parser, after the checks of
:mod:`wxserver.xmlguard` (no DOCTYPE or ENTITY, no NUL, UTF-8 only).

``message_from_fields`` picks the class from one table built from the classes' own name sets, then
reads each field with a lenient typed accessor: strict on the document (well-formed UTF-8 XML, no
DOCTYPE, bounded depth), lenient on its content, so every message WeChat sends is dispatched.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from xml.parsers import expat

import xmltodict

from wxserver.protocol.builders import BY_EVENT, BY_MSG_TYPE
from wxserver.protocol.errors import XmlError
from wxserver.protocol.fields import EventHead, FieldReader, NormalHead, read_head
from wxserver.protocol.messages import Message, UnknownEvent, UnknownMessage
from wxserver.protocol.xmlguard import GuardedExpat, check_body, malformed, wrong_root

# --- bytes -> fields ----------------------------------------------------------------------------

# Children that WeChat repeats: always lists, whether one or many arrived.
_FORCE_LIST = frozenset({"item", "List", "fail_idx"})


# How deep elements may nest below <xml>: WeChat's own messages reach 4 (SendPicsInfo/PicList/
# item/PicMd5Sum). Deeper documents are refused before any recursion can reach Python's limit.
MAX_DEPTH = 16


def _tidy(item: dict[str, Any], depth: int = 1) -> dict[str, Any]:
    """Make the repeated children lists, checking the depth on the way down."""
    if depth > MAX_DEPTH:
        raise XmlError(
            f"The body nests elements more than {MAX_DEPTH} deep; WeChat's messages never do."
        )
    for name in _FORCE_LIST.intersection(item):
        if not isinstance(item[name], list):
            item[name] = [item[name]]
    for value in item.values():
        if isinstance(value, dict):
            _tidy(value, depth + 1)
        elif isinstance(value, list):
            for entry in value:
                if isinstance(entry, dict):
                    _tidy(entry, depth + 1)
    return item


def parse_xml(body: bytes) -> dict[str, Any]:
    """Return the children of the root ``<xml>`` element of a callback body.

    Repeated children named ``item``, ``List`` or ``fail_idx`` are always lists; text is stripped
    of surrounding whitespace, as xmltodict reads it; attributes are ignored. Raises XmlError for
    anything that is not such a document, or one nested deeper than ``MAX_DEPTH``.
    """
    check_body(body)
    try:
        document = xmltodict.parse(
            body,
            encoding="utf-8",
            expat=GuardedExpat,
            disable_entities=True,
            xml_attribs=False,
        )
    except expat.ExpatError as exc:
        raise malformed(body, exc) from None
    except ValueError as exc:  # xmltodict's own refusal of an entity declaration
        raise XmlError(f"The body was refused: {exc}.") from None
    ((root, children),) = document.items()
    if root != "xml":
        raise wrong_root(root)
    if children is None:
        return {}
    if not isinstance(children, dict):
        raise XmlError("The root <xml> element holds text instead of fields.")
    return _tidy(children)


def message_from_fields(fields: Mapping[str, Any], authorizer_app_id: str | None = None) -> Message:
    """Build the typed message for the fields of a callback body (as ``parse_xml`` returns them).

    An unknown MsgType gives an UnknownMessage and an unknown Event an UnknownEvent, both with
    every field in ``raw``. Nothing is refused here: a field that is missing or malformed is
    empty ("" or None), and ``raw`` keeps what arrived. ``authorizer_app_id`` is the account a
    message came for through an Open Platform component.
    """
    f = FieldReader(fields)
    head = read_head(f, fields)
    kind = head["msg_type"].strip().lower()
    message: Message
    if kind == "event":
        event_head: EventHead = {
            **head,
            "event": f.text("Event"),
            "event_key": f.opt_text("EventKey"),
        }
        build_event = BY_EVENT.get(event_head["event"].strip().lower())
        message = UnknownEvent(**event_head) if build_event is None else build_event(f, event_head)
    elif (build := BY_MSG_TYPE.get(kind)) is None:
        message = UnknownMessage(**head)
    else:
        normal_head: NormalHead = {
            **head,
            "msg_id": f.opt_int("MsgId"),
            "msg_data_id": f.opt_text("MsgDataId"),
            "idx": f.opt_int("Idx"),
        }
        message = build(f, normal_head)
    if authorizer_app_id is not None:
        # Set on the new message before anyone sees it: the common case stays as it was.
        object.__setattr__(message, "authorizer_app_id", authorizer_app_id)
    return message


def parse_message(body: bytes) -> Message:
    """Parse a callback body into its typed message (``parse_xml`` + ``message_from_fields``)."""
    return message_from_fields(parse_xml(body))
