"""One account's side of the callback protocol: checks, envelope, parsing and sealing (sans-IO).

A POST goes through :meth:`CallbackProtocol.admit` before its body is read (``signature`` and the
timestamp; WeCom signs only the body, so there the timestamp alone), then :meth:`~CallbackProtocol.
open`: detect the mode (``encrypt_type=aes`` or an ``<Encrypt>`` element), verify
``msg_signature`` and decrypt with the current key then the previous one, and parse the message.
A reply is sealed with the key that opened its request. Every check that fails raises a
:class:`~wxserver.protocol.errors.ProtocolError`; nothing here reads a clock, a store or a socket.

Two adapters vary per account: its :class:`~wxserver.protocol.wire.Wire` (XML or JSON bodies and
replies) and its :class:`Kind` (which signatures come before the body, whether every callback is
encrypted). An Open Platform component's URLs are a kind too: always encrypted with the
component's Token and key, the authorizer's AppID from the URL set on the message.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum

from wxserver.protocol import signature
from wxserver.protocol.crypto import MessageCrypto
from wxserver.protocol.errors import (
    DowngradeError,
    MissingParameterError,
    ProtocolError,
    StaleRequestError,
    XmlError,
)
from wxserver.protocol.messages import Message
from wxserver.protocol.parsing import message_from_fields
from wxserver.protocol.wire import XML_WIRE, Wire


class Mode(StrEnum):
    """The 消息加解密方式 chosen in the MP console."""

    PLAIN = "plain"
    COMPAT = "compat"
    SECURE = "secure"


class Kind(StrEnum):
    """What sort of account calls the URL: an Official Account, a WeCom (企业微信) app, or a
    mini-program (小程序), whose callbacks are an Official Account's but whose only passive
    reply is transfer_customer_service."""

    MP = "mp"
    WECOM = "wecom"
    MINIPROGRAM = "miniprogram"
    # An Open Platform component's two push URLs (authorization events, and its authorizers'
    # messages): always encrypted with the component's Token and key; ``signature`` is checked
    # when it is sent, msg_signature always.
    COMPONENT = "component"


# The modes as plain strings, for the log line and the metrics' labels.
_PLAIN, _COMPAT, _SECURE = Mode.PLAIN.value, Mode.COMPAT.value, Mode.SECURE.value


# What :meth:`CallbackProtocol.open` finds: the message, the mode it came in ("plain", "compat"
# or "secure") and the index of the EncodingAESKey that opened it (-1 in plaintext mode). A
# plain tuple, unpacked where it is used: one is made per message.
Opened = tuple[Message, str, int]


def require(query: Mapping[str, str], *names: str) -> list[str]:
    """The values of ``names`` in ``query``; MissingParameterError naming every absent one."""
    values = [query.get(name, "") for name in names]
    if all(values):
        return values
    missing = [name for name in names if not query.get(name)]
    raise MissingParameterError(
        f"the query string lacks {', '.join(missing)}; WeChat always sends them, "
        "so this request did not come from WeChat"
    )


class CallbackProtocol:
    """The checks, envelope and parsing of one account's callbacks."""

    __slots__ = (
        "_plain_refused",
        "_sealed",
        "_wecom",
        "crypto",
        "kind",
        "mode",
        "name",
        "token",
        "tolerance",
        "wire",
    )

    def __init__(
        self,
        *,
        name: str,
        token: str,
        app_id: str,
        encoding_aes_keys: Sequence[str],
        kind: Kind,
        mode: Mode,
        tolerance: int,
        wire: Wire = XML_WIRE,
    ) -> None:
        self.name = name
        self.token = token
        self.kind = kind
        self.mode = mode
        self.tolerance = tolerance
        # The account's 数据格式: how bodies are read and replies written.
        self.wire = wire
        self.crypto = MessageCrypto(encoding_aes_keys, app_id) if encoding_aes_keys else None
        self._wecom = kind is Kind.WECOM
        # Every callback encrypted, msg_signature required before the body is read.
        self._sealed = kind is Kind.WECOM or kind is Kind.COMPONENT
        self._plain_refused = mode is Mode.SECURE

    # --- checks shared by GET and POST -------------------------------------------------------

    def check_timestamp(self, timestamp: str, now: float) -> None:
        """Refuse a timestamp further than the tolerance from ``now`` (0 turns it off)."""
        try:
            sent = int(timestamp)
        except ValueError:
            raise MissingParameterError(f"timestamp {timestamp[:20]!r} is not a number") from None
        if self.tolerance and abs(now - sent) > self.tolerance:
            raise StaleRequestError(
                f"the request's timestamp is {int(now) - sent} seconds away from this "
                f"server's clock, more than the {self.tolerance} s allowed "
                "(WX_TIMESTAMP_TOLERANCE); check the server's clock, or this is a replayed request"
            )

    def _crypto(self) -> MessageCrypto:
        if self.crypto is None:
            raise ProtocolError(
                f"an encrypted message reached account {self.name!r}, which has no "
                "EncodingAESKey; set WX_ENCODING_AES_KEY"
            )
        return self.crypto

    # --- GET ----------------------------------------------------------------------------------

    def handshake(self, query: Mapping[str, str], echostr: bytes | None, now: float) -> bytes:
        """Verify the handshake and return ``echostr`` byte for byte.

        WeCom encrypts echostr and signs it with msg_signature; the answer is its plaintext.
        """
        if self._wecom:
            msg_signature, timestamp, nonce, encrypted = require(
                query, "msg_signature", "timestamp", "nonce", "echostr"
            )
            signature.check(
                token=self.token,
                signature=msg_signature,
                timestamp=timestamp,
                nonce=nonce,
                encrypt=encrypted,
            )
            self.check_timestamp(timestamp, now)
            return self._crypto().decrypt(encrypted).plaintext
        sig, timestamp, nonce, text = require(query, "signature", "timestamp", "nonce", "echostr")
        signature.check(token=self.token, signature=sig, timestamp=timestamp, nonce=nonce)
        self.check_timestamp(timestamp, now)
        return echostr if echostr is not None else text.encode()

    # --- POST ---------------------------------------------------------------------------------

    def admit(self, query: Mapping[str, str], now: float) -> None:
        """The checks made before the body is read.

        WeCom sends no ``signature``: its msg_signature covers the body's Encrypt, so there the
        timestamp is the only check before the body is read. A component's pushes are checked
        the same way, and their ``signature`` too when it is sent.
        """
        if self._sealed:
            _, timestamp, nonce = require(query, "msg_signature", "timestamp", "nonce")
            sig = query.get("signature")
            if sig is not None and not self._wecom:
                signature.check(token=self.token, signature=sig, timestamp=timestamp, nonce=nonce)
        else:
            sig, timestamp, nonce = require(query, "signature", "timestamp", "nonce")
            signature.check(token=self.token, signature=sig, timestamp=timestamp, nonce=nonce)
        self.check_timestamp(timestamp, now)

    def open(self, query: Mapping[str, str], body: bytes, authorizer: str | None = None) -> Opened:
        """Find the mode, verify and decrypt the envelope if there is one, parse the message.

        ``query`` passed :meth:`admit` first. ``authorizer`` is the AppID of the account a
        component's message is for (from the message URL), set on the message.
        """
        encrypt: object
        if self._sealed or query.get("encrypt_type", "").lower() == "aes":
            encrypt, compat = self.wire.envelope(body)
            aes = True
        else:
            # Plaintext mode, unless the body turns out to be an envelope all the same.
            fields = self.wire.parse(body)
            encrypt, compat = fields.get("Encrypt"), "MsgType" in fields
            aes = encrypt is not None
        if not aes:
            if self._plain_refused:
                raise DowngradeError(
                    f"account {self.name!r} is in secure mode and refuses plaintext messages"
                )
            return (message_from_fields(fields, authorizer), _PLAIN, -1)
        if not isinstance(encrypt, str) or not encrypt:
            raise XmlError("the request is encrypted but the body has no Encrypt field")
        crypto = self._crypto()
        (msg_signature,) = require(query, "msg_signature")
        signature.check(
            token=self.token,
            signature=msg_signature,
            timestamp=query["timestamp"],
            nonce=query["nonce"],
            encrypt=encrypt,
        )
        decrypted = crypto.decrypt(encrypt)
        message = message_from_fields(self.wire.parse(decrypted.plaintext), authorizer)
        return (message, _COMPAT if compat else _SECURE, decrypted.key_index)

    def seal(self, xml: bytes, key_index: int, timestamp: int, nonce: int) -> bytes:
        """The encrypted reply envelope of ``xml`` (or JSON), with the key that opened the request.

        The reply is sealed with the key that opened the request, so a rotation in progress never
        answers with a key WeChat has not switched to yet.
        """
        encrypt = self._crypto().encrypt(xml, key_index=key_index)
        msg_signature = signature.sign(self.token, str(timestamp), str(nonce), encrypt)
        return self.wire.seal(encrypt, msg_signature, timestamp, nonce)
