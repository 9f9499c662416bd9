"""One account's callback endpoint: the GET handshake and the POST path, without Flask.

The POST path: verify ``signature`` (before the body is read) and the timestamp, read the body,
detect the mode (``encrypt_type=aes`` or an ``<Encrypt>`` element), verify ``msg_signature`` and
decrypt with the current key then the previous one, parse, dispatch, render, and encrypt the reply
with the key that opened the request. Bad input raises a ProtocolError; the web layer maps it.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from collections.abc import Callable, Mapping

from wxserver import signature
from wxserver.answering import TEXT, XML, Answerer, Outcome
from wxserver.api import WeChatAPI
from wxserver.crypto import MessageCrypto
from wxserver.envelope import read_envelope
from wxserver.errors import (
    DowngradeError,
    MissingParameterError,
    ProtocolError,
    ReplayError,
    StaleRequestError,
    XmlError,
)
from wxserver.parsing import message_from_fields, parse_xml
from wxserver.replies import SUCCESS, render_own_envelope
from wxserver.routing import Router
from wxserver.settings import Account, Kind, Mode
from wxserver.store import Store

log = logging.getLogger("wxserver.handler")

__all__ = ["TEXT", "XML", "AccountEndpoint", "Outcome"]


def _require(query: Mapping[str, str], *names: str) -> list[str]:
    values = [query.get(name, "") for name in names]
    if all(values):
        return values
    missing = [name for name in names if not query.get(name)]
    if missing:
        raise MissingParameterError(
            f"the query string lacks {', '.join(missing)}; WeChat always sends them, "
            "so this request did not come from WeChat"
        )
    return [query[name] for name in names]


class AccountEndpoint:
    """Serves one account: owns its crypto, router and clock."""

    def __init__(self, answerer: Answerer, *, clock: Callable[[], float] = time.time) -> None:
        self.answerer = answerer
        self.clock = clock
        account = answerer.account
        self._token = account.token.reveal()
        keys = account.encoding_aes_keys
        self.crypto = MessageCrypto(keys, account.app_id) if keys else None

    @property
    def account(self) -> Account:
        """The account this endpoint serves."""
        return self.answerer.account

    @property
    def router(self) -> Router:
        """The account's handler sets, in dispatch order."""
        return self.answerer.router

    @property
    def store(self) -> Store:
        """The shared store."""
        return self.answerer.store

    @property
    def api(self) -> WeChatAPI | None:
        """The account's WeChat API client, if it has an AppSecret."""
        return self.answerer.api

    # --- checks shared by GET and POST -------------------------------------------------------

    def _check_timestamp(self, timestamp: str) -> None:
        tolerance = self.account.timestamp_tolerance
        try:
            sent = int(timestamp)
        except ValueError:
            raise MissingParameterError(f"timestamp {timestamp[:20]!r} is not a number") from None
        if tolerance and abs(self.clock() - sent) > tolerance:
            raise StaleRequestError(
                f"the request's timestamp is {int(self.clock()) - sent} seconds away from this "
                f"server's clock, more than the {tolerance} s allowed (WX_TIMESTAMP_TOLERANCE); "
                "check the server's clock, or this is a replayed request"
            )

    def _crypto(self) -> MessageCrypto:
        if self.crypto is None:
            raise ProtocolError(
                f"an encrypted message reached account {self.account.name!r}, which has no "
                "EncodingAESKey; set WX_ENCODING_AES_KEY"
            )
        return self.crypto

    def _verify(self, query: Mapping[str, str]) -> tuple[str, str]:
        sig, timestamp, nonce = _require(query, "signature", "timestamp", "nonce")
        signature.check(token=self._token, signature=sig, timestamp=timestamp, nonce=nonce)
        self._check_timestamp(timestamp)
        return timestamp, nonce

    # --- GET --------------------------------------------------------------------------------------

    def handshake(self, query: Mapping[str, str], echostr: bytes | None) -> bytes:
        """Verify the handshake and return ``echostr`` byte for byte.

        WeCom encrypts echostr and signs it with msg_signature; the answer is its plaintext.
        """
        if self.account.kind is Kind.WECOM:
            msg_signature, timestamp, nonce, encrypted = _require(
                query, "msg_signature", "timestamp", "nonce", "echostr"
            )
            signature.check(
                token=self._token,
                signature=msg_signature,
                timestamp=timestamp,
                nonce=nonce,
                encrypt=encrypted,
            )
            self._check_timestamp(timestamp)
            return self._crypto().decrypt(encrypted).plaintext
        _require(query, "signature", "timestamp", "nonce", "echostr")
        self._verify(query)
        return echostr if echostr is not None else query["echostr"].encode()

    # --- POST -------------------------------------------------------------------------------------

    def receive(self, query: Mapping[str, str], read_body: Callable[[], bytes]) -> Outcome:
        """Answer one POSTed message; ``read_body`` is called only after the signature checks.

        WeCom sends no ``signature``: its msg_signature covers the body's Encrypt, so there the
        timestamp is the only check before the body is read.
        """
        arrived = self.clock()
        wecom = self.account.kind is Kind.WECOM
        if wecom:
            _, timestamp, nonce = _require(query, "msg_signature", "timestamp", "nonce")
            self._check_timestamp(timestamp)
        else:
            timestamp, nonce = self._verify(query)
        body = read_body()
        encrypt: object
        if wecom or query.get("encrypt_type", "").lower() == "aes":
            encrypt, compat = read_envelope(body)
            aes = True
        else:
            # Plaintext mode, unless the body turns out to be an envelope all the same.
            fields = parse_xml(body)
            encrypt, compat = fields.get("Encrypt"), "MsgType" in fields
            aes = encrypt is not None
        sealer: tuple[MessageCrypto, int] | None = None
        if aes:
            if not isinstance(encrypt, str) or not encrypt:
                raise XmlError("the request is encrypted but the body has no Encrypt element")
            crypto = self._crypto()
            (msg_signature,) = _require(query, "msg_signature")
            signature.check(
                token=self._token,
                signature=msg_signature,
                timestamp=timestamp,
                nonce=nonce,
                encrypt=encrypt,
            )
            decrypted = crypto.decrypt(encrypt)
            sealer = (crypto, decrypted.key_index)
            mode = "compat" if compat else "secure"
            fields = parse_xml(decrypted.plaintext)
        elif self.account.mode is Mode.SECURE:
            raise DowngradeError(
                f"account {self.account.name!r} is in secure mode and refuses plaintext messages"
            )
        else:
            mode = "plain"
            self._refuse_replay(query, body)
        message = message_from_fields(fields)
        outcome = self.answerer.answer(message, mode, arrived)
        if sealer is not None and outcome.body != SUCCESS:
            outcome.body = self._seal(outcome.body, *sealer)
        return outcome

    def _refuse_replay(self, query: Mapping[str, str], body: bytes) -> None:
        # In plaintext mode the signature covers the query, not the body: a captured query
        # string could carry any body until its timestamp goes stale. The first body seen with
        # a signature is remembered; the same body again is a retry, another one a forgery.
        digest = hashlib.sha256(body).digest()
        key = f"replay:{self.account.name}:{query['signature']}:{query['nonce']}"
        ttl = max(self.account.timestamp_tolerance, 60)
        if not self.store.add(key, digest, ttl=ttl) and self.store.get(key) != digest:
            raise ReplayError(
                "this signed query string was already used with another body; refused as a replay"
            )

    def _seal(self, xml: bytes, crypto: MessageCrypto, key_index: int) -> bytes:
        # The reply is sealed with the key that opened the request, so a rotation in progress
        # never answers with a key WeChat has not switched to yet.
        encrypt = crypto.encrypt(xml, key_index=key_index)
        timestamp = int(self.clock())
        nonce = secrets.randbits(32)
        msg_signature = signature.sign(self._token, str(timestamp), str(nonce), encrypt)
        return render_own_envelope(encrypt, msg_signature, timestamp, nonce)
