"""The outer document of an encrypted message: its ``<Encrypt>`` text, read in one expat pass.

In compatible and safe mode WeChat posts an envelope, ``<xml><ToUserName/><Encrypt/></xml>``,
with the plaintext fields beside ``Encrypt`` in compatible mode. Of the envelope only two things
are used: the ``Encrypt`` text, and whether a ``MsgType`` travels beside it (compatible mode).
The plaintext copy is never read, since msg_signature does not cover it; the message itself is
the decrypted document, which :func:`wxserver.parsing.parse_xml` parses.

So the envelope is read with expat directly, under the same checks as every body
(:mod:`wxserver.xmlguard`), without building a dict of fields that would be thrown away. It must
still be a well-formed ``<xml>`` document, with at most one ``Encrypt``, holding text only.
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.parsers import expat

from wxserver.errors import XmlError
from wxserver.xmlguard import GuardedExpat, check_body, malformed, wrong_root


@dataclass(frozen=True, slots=True)
class Envelope:
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
            self.encrypt = "".join(self.parts)
            self.parts = None
        self.depth -= 1

    def text(self, data: str) -> None:
        if self.parts is not None:
            self.parts.append(data)


def read_envelope(body: bytes) -> Envelope:
    """Read the envelope of an encrypted callback body; XmlError for anything else."""
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
