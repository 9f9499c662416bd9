"""Wire formats: how one account's bodies are read and its replies written, XML or JSON.

The admin of a mini-program or an Open Platform component chooses the 数据格式 (XML or JSON) when
setting the push URL, and every push then uses it; an Official Account always uses XML. A
:class:`Wire` bundles what differs: reading a body into fields, reading the envelope of an
encrypted body, rendering a reply, and sealing the encrypted reply. Everything else (signatures,
the AES envelope's payload, the typed messages, the handlers) is the same for both.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from wxserver.protocol.envelope import Envelope, read_envelope
from wxserver.protocol.jsonparsing import parse_json, read_json_envelope
from wxserver.protocol.jsonreplies import render_json, render_json_envelope
from wxserver.protocol.parsing import parse_xml
from wxserver.protocol.replies import render, render_own_envelope


class Format(StrEnum):
    """The 数据格式 of an account's pushes."""

    XML = "xml"
    JSON = "json"


@dataclass(frozen=True, slots=True)
class Wire:
    """What one format does with bodies and replies."""

    format: Format
    # The Content-Type of a reply (plaintext or encrypted).
    content_type: str
    # A plaintext body (or a decrypted message) -> its fields.
    parse: Callable[[bytes], dict[str, Any]]
    # An encrypted body -> its Encrypt text and whether plaintext fields travel beside it.
    envelope: Callable[[bytes], Envelope]
    # (reply, message, *, create_time) -> the reply's body.
    render: Callable[..., bytes]
    # (encrypt, msg_signature, timestamp, nonce) -> the encrypted reply's body.
    seal: Callable[[str, str, int, int], bytes]


XML_WIRE = Wire(
    Format.XML, "application/xml", parse_xml, read_envelope, render, render_own_envelope
)
JSON_WIRE = Wire(
    Format.JSON,
    "application/json",
    parse_json,
    read_json_envelope,
    render_json,
    render_json_envelope,
)
WIRES = {Format.XML: XML_WIRE, Format.JSON: JSON_WIRE}


def wire_of(format_: Format | str) -> Wire:
    """The Wire of a format."""
    return WIRES[Format(format_)]


__all__ = ["JSON_WIRE", "WIRES", "XML_WIRE", "Format", "Wire", "wire_of"]
