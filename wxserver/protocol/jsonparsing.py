"""Turn a JSON callback body into the same field dict as an XML one (sans-IO).

The accounts that choose JSON as their 数据格式 (mini-programs, the Open Platform) send a JSON
object with the XML's field names. :func:`parse_json` reads it into what :func:`~wxserver.protocol.
parsing.parse_xml` gives for the XML, so that :func:`~wxserver.protocol.parsing.
message_from_fields` builds the same typed message whatever the format:

- every scalar is text, as in XML: a number keeps its literal (``"CreateTime": 1700000000`` reads
  ``"1700000000"``), ``true``/``false`` read ``"true"``/``"false"``, ``null`` reads None (an empty
  element), and strings are stripped of surrounding whitespace as xmltodict strips text;
- objects are dicts, arrays lists.

Strict on the document, exactly as the XML guard is (:mod:`wxserver.protocol.xmlguard`): a body
that is not UTF-8, not well-formed JSON, whose top level is not an object, that repeats a key in
one object (which of two values would a check and a handler see?), nests more than ``MAX_DEPTH``
objects or arrays below the top level, or holds a number literal longer than ``MAX_NUMBER`` (a
quadratic int conversion; WeChat's longest, a MsgId, has 20 digits) is refused with
:class:`~wxserver.protocol.errors.JsonError`, never a RecursionError. Lenient on content: a field
left out is an empty field, as in XML.
"""

from __future__ import annotations

import json
from typing import Any

from wxserver.protocol.envelope import Envelope
from wxserver.protocol.errors import JsonError
from wxserver.protocol.parsing import MAX_DEPTH

# The longest number literal accepted, in characters.
MAX_NUMBER = 32


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """One object's members; a key that appears twice refuses the body."""
    fields = dict(pairs)
    if len(fields) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise JsonError(f"The body repeats the key {key[:40]!r} in one object.")
            seen.add(key)
    return fields


def _number(literal: str) -> str:
    """A number as its literal text, as XML carries it; a huge one refuses the body."""
    if len(literal) > MAX_NUMBER:
        raise JsonError(
            f"The body holds a number of {len(literal)} characters; the longest accepted has "
            f"{MAX_NUMBER}."
        )
    return literal


def _constant(name: str) -> str:
    # NaN and Infinity are not JSON, though Python's reader accepts them by default.
    raise JsonError(f"The body holds {name}, which is not JSON.")


def _tidy(value: Any, depth: int) -> Any:
    """Strings stripped, true/false as text, the depth checked on the way down.

    The top-level object is depth 1, as the children of XML's root element are.
    """
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, dict | list):
        if depth > MAX_DEPTH:
            raise JsonError(
                f"The body nests objects or arrays more than {MAX_DEPTH} deep; WeChat's "
                "messages never do."
            )
        if isinstance(value, dict):
            for key, item in value.items():
                value[key] = _tidy(item, depth + 1)
            return value
        return [_tidy(item, depth + 1) for item in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    return value  # None, or a number's text from _number


def decode(body: bytes) -> str:
    """The body as text; JsonError naming the first byte that is not UTF-8."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise JsonError(
            f"The body is not valid UTF-8 (byte {body[exc.start]:#04x} at offset {exc.start})."
        ) from None
    # A UTF-8 byte order mark is allowed before an XML document; so it is here.
    return text[1:] if text.startswith("\ufeff") else text


def parse_json(body: bytes) -> dict[str, Any]:
    """Return the fields of a JSON callback body (see the module docstring)."""
    text = decode(body)
    if not text.strip():
        raise JsonError("The body is empty; WeChat sends a JSON object.")
    try:
        document = json.loads(
            text,
            object_pairs_hook=_unique,
            parse_int=_number,
            parse_float=_number,
            parse_constant=_constant,
        )
    except RecursionError:
        raise JsonError(
            f"The body nests objects or arrays more than {MAX_DEPTH} deep; WeChat's messages "
            "never do."
        ) from None
    except JsonError:
        raise
    except ValueError as exc:
        raise JsonError(f"The body is not well-formed JSON: {exc}.") from None
    if not isinstance(document, dict):
        kind = "array" if isinstance(document, list) else "scalar"
        raise JsonError(f"The body's top level is a {kind}; WeChat sends an object.")
    fields: dict[str, Any] = _tidy(document, 1)
    return fields


def read_json_envelope(body: bytes) -> Envelope:
    """Read the envelope of an encrypted JSON body, ``{"ToUserName": ..., "Encrypt": ...}``."""
    fields = parse_json(body)
    encrypt = fields.get("Encrypt")
    if encrypt is not None and not isinstance(encrypt, str):
        raise JsonError("Encrypt holds an object or an array instead of text.")
    return Envelope(encrypt, "MsgType" in fields)


__all__ = ["MAX_NUMBER", "decode", "parse_json", "read_json_envelope"]
