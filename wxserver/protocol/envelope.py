"""The outer document of an encrypted message: its ``<Encrypt>`` text, read in one expat pass.

In compatible and safe mode WeChat posts an envelope, ``<xml><ToUserName/><Encrypt/></xml>``,
with the plaintext fields beside ``Encrypt`` in compatible mode. Of the envelope only two things
are used: the ``Encrypt`` text, and whether a ``MsgType`` travels beside it (compatible mode).
The plaintext copy is never read, since msg_signature does not cover it; the message itself is
the decrypted document, which :func:`wxserver.protocol.parsing.parse_xml` parses.

Standard path, :func:`_read_with_expat`: the envelope is read with expat directly, under the same
checks as every body (:mod:`wxserver.protocol.xmlguard`), without building a dict of fields that
would be thrown away. It must still be a well-formed ``<xml>`` document, with at most one
``Encrypt``, holding text only.

Fast path, :func:`_canonical`: WeChat's own safe-mode envelope has one shape, ``ToUserName`` then
``Encrypt``, each a single CDATA section of ASCII. A body of exactly that shape is well-formed by
construction and holds nothing a check could refuse, so it is read with three scans in C instead
of an expat pass that calls Python for every event. Every other body takes the expat pass.
Measured with ``python -m bench.callgrind --targets wxserver`` (in-process, whole app): 0.801 M
instructions per secure request through expat, 0.770 M with the scan: 31 k, 4.0% of a secure
request. ``tests/protocol/test_envelope.py`` holds the two to the same answer, on WeChat's shapes,
near misses and 20,000 mutated bodies.
"""

from __future__ import annotations

import re
from typing import NamedTuple
from xml.parsers import expat

from wxserver.protocol.errors import XmlError
from wxserver.protocol.xmlguard import GuardedExpat, check_body, malformed, wrong_root


class Envelope(NamedTuple):
    """What an envelope carries: the Encrypt text (None without one), and the mode it shows."""

    encrypt: str | None
    # Plaintext fields beside Encrypt: compatible mode.
    plaintext_fields: bool


class _Reader:
    """expat's handlers: the root's name, its children's names, and the text of Encrypt."""

    __slots__ = ("depth", "encrypt", "encrypts", "msg_type", "nested", "parts", "root")

    def __init__(self) -> None:
        self.depth = 0
        self.root = ""
        self.encrypts = 0
        self.msg_type = False
        self.nested = False
        self.encrypt: str | None = None
        # The text of Encrypt while it is open, else None.
        self.parts: list[str] | None = None

    def start(self, name: str, _attributes: object) -> None:
        self.depth += 1
        if self.depth == 2:
            if name == "Encrypt":
                self.encrypts += 1
                self.parts = []
            elif name == "MsgType":
                self.msg_type = True
        elif self.depth == 1:
            self.root = name
        elif self.parts is not None:
            self.nested = True

    def end(self, _name: str) -> None:
        if self.depth == 2 and self.parts is not None:
            # Stripped as every value is: layout around the CDATA section is not base64.
            self.encrypt = "".join(self.parts).strip()
            self.parts = None
        self.depth -= 1

    def text(self, data: str) -> None:
        if self.parts is not None:
            self.parts.append(data)


# ToUserName's text may hold any printable ASCII but "]", so its CDATA section ends where the
# pattern says; Encrypt's must be base64 characters only (checked apart, see _canonical).
_HEAD = re.compile(
    rb"<xml>[ \t\r\n]*<ToUserName><!\[CDATA\[[\x20-\x5c\x5e-\x7e]*\]\]></ToUserName>"
    rb"[ \t\r\n]*<Encrypt><!\[CDATA\["
)
_TAIL = re.compile(rb"\]\]></Encrypt>[ \t\r\n]*</xml>[ \t\r\n]*")
_BASE64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="


def _canonical(body: bytes) -> str | None:
    """The Encrypt text of a body in WeChat's own safe-mode shape, else None."""
    head = _HEAD.match(body)
    if head is None:
        return None
    start = head.end()
    # Where Encrypt closes. The text before it must then be base64 characters only, so no
    # earlier "]]>" can have closed the section.
    stop = body.find(b"]]></Encrypt>", start)
    if stop < 0 or _TAIL.fullmatch(body, stop) is None:
        return None
    text = body[start:stop]
    # Deleting the base64 characters leaves nothing: no markup, control or non-ASCII byte.
    if text.translate(None, _BASE64):
        return None
    return text.decode("ascii")


def read_envelope(body: bytes) -> Envelope:
    """Read the envelope of an encrypted callback body; XmlError for anything else."""
    encrypt = _canonical(body)
    if encrypt is not None:
        return Envelope(encrypt, False)
    return _read_with_expat(body)


def _read_with_expat(body: bytes) -> Envelope:
    check_body(body)
    reader = _Reader()
    parser = GuardedExpat.ParserCreate()
    parser.buffer_text = True
    parser.StartElementHandler = reader.start
    parser.EndElementHandler = reader.end
    parser.CharacterDataHandler = reader.text
    try:
        parser.Parse(body, True)
    except expat.ExpatError as exc:
        raise malformed(body, exc) from None
    if reader.root != "xml":
        raise wrong_root(reader.root)
    if reader.encrypts > 1:
        raise XmlError("<Encrypt> appears more than once.")
    if reader.nested:
        raise XmlError("<Encrypt> holds elements instead of text.")
    return Envelope(reader.encrypt, reader.msg_type)
