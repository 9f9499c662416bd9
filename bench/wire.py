"""An independent reading of replies, written from the protocol, not from wxserver's code.

The checker verifies the envelope's ``MsgSignature``, decrypts with pycryptodome's AES-CBC, checks
the PKCS#7 padding, the length header and the AppID, then reads the reply's fields; the echo check
then asks that the text sent comes back, addressed to its sender.
"""

from __future__ import annotations

import base64
import hashlib
import xml.etree.ElementTree as ET  # replies from our own servers on loopback

from Crypto.Cipher import AES

from bench.targets import credentials

_KEY = base64.b64decode(credentials.ENCODING_AES_KEY + "=")


class ReplyMismatch(Exception):
    """A reply that is not what the target should have answered."""


def _fields(xml: bytes) -> dict[str, str]:
    root = ET.fromstring(xml)  # noqa: S314
    if root.tag != "xml":
        raise ReplyMismatch(f"root element <{root.tag}>, not <xml>")
    return {child.tag: child.text or "" for child in root}


def _sha1(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()  # noqa: S324


def open_envelope(body: bytes) -> bytes:
    """Check an encrypted reply's signature and return the XML inside it."""
    outer = _fields(body)
    for name in ("Encrypt", "MsgSignature", "TimeStamp", "Nonce"):
        if name not in outer:
            raise ReplyMismatch(f"the encrypted reply has no <{name}>")
    if len(outer["TimeStamp"]) > 10:
        raise ReplyMismatch(f"TimeStamp {outer['TimeStamp']} is not in seconds")
    expected = _sha1(credentials.TOKEN, outer["TimeStamp"], outer["Nonce"], outer["Encrypt"])
    if expected != outer["MsgSignature"]:
        raise ReplyMismatch("MsgSignature does not sign the reply")
    plain = AES.new(_KEY, AES.MODE_CBC, _KEY[:16]).decrypt(base64.b64decode(outer["Encrypt"]))
    pad = plain[-1]
    if not 1 <= pad <= 32 or plain[-pad:] != bytes([pad]) * pad:
        raise ReplyMismatch("bad PKCS#7 padding")
    plain = plain[:-pad]
    length = int.from_bytes(plain[16:20], "big")
    if plain[20 + length :].decode() != credentials.APP_ID:
        raise ReplyMismatch("the AppID after the message is not ours")
    return plain[20 : 20 + length]


def check_reply(status: int, body: bytes, *, mode: str, echoes: bool, content: str) -> None:
    """Raise ReplyMismatch unless ``body`` is the right answer to a message carrying ``content``."""
    if status != 200:
        raise ReplyMismatch(f"status {status}: {body[:200]!r}")
    if not echoes:
        if body != b"success":
            raise ReplyMismatch(f"expected the constant 'success', got {body[:200]!r}")
        return
    xml = open_envelope(body) if mode == "secure" else body
    if mode == "plain" and b"<Encrypt>" in body:
        raise ReplyMismatch("a plaintext request got an encrypted reply")
    fields = _fields(xml)
    if fields.get("ToUserName") != credentials.FROM_USER:
        raise ReplyMismatch(f"reply addressed to {fields.get('ToUserName')!r}")
    if fields.get("FromUserName") != credentials.TO_USER:
        raise ReplyMismatch(f"reply sent from {fields.get('FromUserName')!r}")
    if fields.get("MsgType") != "text":
        raise ReplyMismatch(f"MsgType {fields.get('MsgType')!r}, not text")
    got = fields.get("Content", "")
    # wxserver's echo plugin adds a line counting how often it saw the message.
    if got != content and not got.startswith(content + "\nseen "):
        raise ReplyMismatch(f"Content {got[:80]!r} does not echo {content!r}")
    created = fields.get("CreateTime", "")
    if not created.isdigit() or len(created) > 10:
        raise ReplyMismatch(f"CreateTime {created!r} is not in seconds")
