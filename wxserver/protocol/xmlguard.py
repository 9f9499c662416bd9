"""What every callback body must pass before and while expat reads it (sans-IO).

A body is refused if it holds anything WeChat never sends and an attacker would:

- a DOCTYPE or ENTITY declaration (billion laughs, XXE): refused before parsing, and again by the
  parser itself, which is told to stop at a DOCTYPE, so the check does not rest on one layer;
- NUL bytes, before parsing: even when told the encoding, expat takes NULs between ASCII bytes
  for UTF-16 and would read markup no check saw;
- a declaration naming another encoding than UTF-8;
- bytes that are not UTF-8: expat is told the encoding and refuses them, and the first bad byte
  is then named in the error.

WeChat's own bodies start with ``<xml>``, so the prolog checks run only for a body with something
before its root element.
"""

from __future__ import annotations

import re
from typing import Any, NoReturn
from xml.parsers import expat

from wxserver.protocol.errors import XmlError

_BOM = b"\xef\xbb\xbf"
# What may legally precede the root element besides a DOCTYPE: whitespace, PIs and comments.
_PROLOG = re.compile(rb"(?:[ \t\r\n]+|<\?.*?\?>|<!--.*?-->)*", re.DOTALL)
_ENCODING = re.compile(rb"<\?xml[^>]*?\bencoding[ \t\r\n]*=[ \t\r\n]*(['\"])(.*?)\1", re.DOTALL)


def _refuse_doctype(*_args: object) -> NoReturn:
    raise XmlError("The body declares a DOCTYPE; WeChat never sends one, so it is refused.")


def _refuse_entity(*_args: object) -> NoReturn:
    raise XmlError("The body declares an ENTITY; WeChat never sends one, so it is refused.")


class GuardedExpat:
    """Stands in for the expat module: its parsers read UTF-8 and stop at any DOCTYPE or ENTITY.

    xmltodict takes it as its ``expat`` module.
    """

    @staticmethod
    def ParserCreate(  # the name xmltodict calls
        encoding: str | None = "utf-8", namespace_separator: str | None = None
    ) -> Any:
        parser = expat.ParserCreate(encoding, namespace_separator)
        parser.StartDoctypeDeclHandler = _refuse_doctype
        parser.EntityDeclHandler = _refuse_entity
        return parser


def check_body(body: bytes) -> None:
    """The checks made before parsing (see the module docstring)."""
    if b"\x00" in body:
        explain_bytes(body)
        raise XmlError("The body contains a NUL byte, as UTF-16 would; it must be UTF-8 XML.")
    if not body.startswith(b"<xml>"):
        _check_prolog(body)


def _check_prolog(body: bytes) -> None:
    if not body.strip():
        raise XmlError("The body is empty; WeChat sends an <xml> document.")
    explain_bytes(body)  # a UTF-16 or UTF-32 byte order mark would switch expat's decoding
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


def explain_bytes(body: bytes) -> None:
    """Refuse ``body`` if it is not UTF-8, naming the first byte that is not."""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise XmlError(
            f"The body is not valid UTF-8 (byte {body[exc.start]:#04x} at offset {exc.start})."
        ) from None


def malformed(body: bytes, error: expat.ExpatError) -> XmlError:
    """The error for a body expat refused: the bad byte when it is one, else expat's reason."""
    explain_bytes(body)
    return XmlError(f"The body is not well-formed XML: {error}.")


def wrong_root(root: str) -> XmlError:
    """The error for a document whose root element is not ``<xml>``."""
    return XmlError(f"The root element is <{root}>; WeChat sends <xml>.")
