"""Play WeChat: messages and events built, signed and encrypted as WeChat does; replies read.

Sans-IO: the builders serve the in-process test client (:mod:`wxserver.testing`), ``wxserver
simulate`` over HTTP, and ``wxserver doctor``'s signed handshake.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlencode

from wxserver.protocol import signature
from wxserver.protocol.callback import Kind, Mode
from wxserver.protocol.crypto import MessageCrypto
from wxserver.protocol.errors import SignatureError, XmlError
from wxserver.protocol.replies import SUCCESS
from wxserver.protocol.secret import Secret
from wxserver.protocol.wire import Format, wire_of


class Account(Protocol):
    """What playing WeChat for an account needs: its Token, AppID, keys and kind."""

    @property
    def token(self) -> Secret: ...
    @property
    def app_id(self) -> str: ...
    @property
    def encoding_aes_keys(self) -> tuple[str, ...]: ...
    @property
    def kind(self) -> Kind: ...
    @property
    def format(self) -> Format: ...


def _cdata(value: str) -> str:
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def _element(name: str, value: Any) -> str:
    if isinstance(value, Mapping):
        return f"<{name}>" + "".join(_element(k, v) for k, v in value.items()) + f"</{name}>"
    if isinstance(value, list | tuple):
        return "".join(_element(name, item) for item in value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"<{name}>{value}</{name}>"
    return f"<{name}>{_cdata(str(value))}</{name}>"


def build_message(
    msg_type: str,
    *,
    to_user: str = "gh_wxserver_test",
    from_user: str = "oWxServerTestUser0000000000",
    create_time: int | None = None,
    format: Format | str = Format.XML,
    **fields: Any,
) -> bytes:
    """Build an inbound message as WeChat sends it; ``fields`` use WeChat's element names.

    Normal messages get a fresh MsgId unless one is given; events get none. ``format="json"``
    builds the JSON object instead (numbers as numbers, nested mappings as objects).
    """
    body: dict[str, Any] = {
        "ToUserName": to_user,
        "FromUserName": from_user,
        "CreateTime": int(time.time()) if create_time is None else create_time,
        "MsgType": msg_type,
    }
    body.update(fields)
    if msg_type != "event" and "MsgId" not in body:
        # Random, not a counter: two simulator processes started in the same second must not
        # send the same MsgId, which the server would rightly treat as a retry.
        body["MsgId"] = secrets.randbits(63)
    if Format(format) is Format.JSON:
        return json.dumps(body, ensure_ascii=False).encode()
    return ("<xml>" + "".join(_element(k, v) for k, v in body.items()) + "</xml>").encode()


def build_event(event: str, event_key: str | None = None, **fields: Any) -> bytes:
    """Build an event; ``fields`` may include ToUserName/FromUserName overrides via keywords."""
    extra: dict[str, Any] = {"Event": event}
    if event_key is not None:
        extra["EventKey"] = event_key
    named = ("to_user", "from_user", "create_time", "format")
    passthrough = {k: fields.pop(k) for k in named if k in fields}
    return build_message("event", **passthrough, **extra, **fields)


def _field(body: bytes, name: str, format: Format = Format.XML) -> str:
    # Tests also sign bodies that are deliberately not valid XML (or JSON).
    try:
        return str(wire_of(format).parse(body).get(name) or "")
    except XmlError:
        return ""


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """A POST as WeChat would send it: the query parameters and the body."""

    query: dict[str, str]
    body: bytes

    @property
    def query_string(self) -> str:
        """The query, URL-encoded."""
        return urlencode(self.query)


def sign_request(
    account: Account,
    xml: bytes,
    mode: Mode | str,
    *,
    timestamp: int | None = None,
    nonce: str | None = None,
) -> SignedRequest:
    """Sign ``xml`` (a JSON body for a JSON account) for ``account``; in compat/secure mode
    encrypt it first.

    For a WeCom account the body is always encrypted and only ``msg_signature`` is sent; for an
    Open Platform component always encrypted, its envelope headed by ``AppId`` for an
    authorization event.
    """
    mode = Mode.SECURE if account.kind is Kind.COMPONENT else Mode(mode)
    token = account.token.reveal()
    ts = str(int(time.time()) if timestamp is None else timestamp)
    nonce = nonce or str(secrets.randbelow(10**10))
    if account.kind is Kind.WECOM:
        encrypt = MessageCrypto(account.encoding_aes_keys, account.app_id).encrypt(xml)
        agent = _field(xml, "AgentID")
        body = (
            f"<xml><ToUserName>{_cdata(_field(xml, 'ToUserName'))}</ToUserName>"
            f"<Encrypt>{_cdata(encrypt)}</Encrypt><AgentID>{_cdata(agent)}</AgentID></xml>"
        )
        query = {"msg_signature": signature.sign(token, ts, nonce, encrypt), "timestamp": ts}
        query["nonce"] = nonce
        return SignedRequest(query, body.encode())
    wire = Format(account.format)
    query = {
        "signature": signature.sign(token, ts, nonce),
        "timestamp": ts,
        "nonce": nonce,
        "openid": _field(xml, "FromUserName", wire),
    }
    if mode is Mode.PLAIN:
        return SignedRequest(query, xml)
    crypto = MessageCrypto(account.encoding_aes_keys, account.app_id)
    encrypt = crypto.encrypt(xml)
    query["encrypt_type"] = "aes"
    query["msg_signature"] = signature.sign(token, ts, nonce, encrypt)
    if wire is Format.JSON:
        return SignedRequest(query, _json_envelope(xml, encrypt, compat=mode is Mode.COMPAT))
    if mode is Mode.SECURE:
        head = "ToUserName" if _field(xml, "ToUserName") or not _field(xml, "AppId") else "AppId"
        body = f"<xml><{head}>{_cdata(_field(xml, head))}</{head}>"
    else:
        body = xml.decode()[: -len("</xml>")]
    return SignedRequest(query, (body + f"<Encrypt>{_cdata(encrypt)}</Encrypt></xml>").encode())


def _json_envelope(message: bytes, encrypt: str, *, compat: bool) -> bytes:
    """``{"ToUserName", "Encrypt"}``; in compatible mode the plaintext fields travel beside it."""
    try:
        fields = json.loads(message)
    except ValueError:
        fields = None
    if not isinstance(fields, dict):
        fields = {}
    head = "AppId" if "AppId" in fields and "ToUserName" not in fields else "ToUserName"
    envelope = dict(fields) if compat else {head: fields.get(head, "")}
    envelope["Encrypt"] = encrypt
    return json.dumps(envelope, ensure_ascii=False).encode()


def sign_handshake(
    account: Account, echostr: str, *, timestamp: int | None = None
) -> dict[str, str]:
    """The query string of the GET handshake the MP console sends when the URL is saved.

    WeCom encrypts echostr and signs it with msg_signature; the server answers the plaintext.
    """
    ts = str(int(time.time()) if timestamp is None else timestamp)
    nonce = str(secrets.randbelow(10**10))
    if account.kind is Kind.WECOM:
        crypto = MessageCrypto(account.encoding_aes_keys, account.app_id)
        encrypted = crypto.encrypt(echostr.encode())
        return {
            "msg_signature": signature.sign(account.token.reveal(), ts, nonce, encrypted),
            "timestamp": ts,
            "nonce": nonce,
            "echostr": encrypted,
        }
    return {
        "signature": signature.sign(account.token.reveal(), ts, nonce),
        "timestamp": ts,
        "nonce": nonce,
        "echostr": echostr,
    }


@dataclass(frozen=True, slots=True)
class ReplyResult:
    """A reply as WeChat would read it: verified and decrypted when it came encrypted."""

    status: int
    body: bytes
    content_type: str
    encrypted: bool = False
    # The reply as WeChat reads it, decrypted: XML, or JSON for a JSON account.
    xml: bytes = b""
    fields: dict[str, Any] = field(default_factory=dict)

    @property
    def is_success(self) -> bool:
        """The server answered ``success`` (or nothing): WeChat shows no reply."""
        return self.status == 200 and self.body in (SUCCESS, b"")

    @property
    def msg_type(self) -> str | None:
        """The reply's MsgType, or None for ``success`` and errors."""
        value = self.fields.get("MsgType")
        return None if value is None else str(value)

    @property
    def content(self) -> str | None:
        """The Content of a text reply."""
        value = self.fields.get("Content")
        return None if value is None else str(value)


def open_reply(account: Account, status: int, body: bytes, content_type: str) -> ReplyResult:
    """Read a response the way WeChat does: check the envelope's MsgSignature, then decrypt.

    The body is read in the account's format (XML, or JSON): a reply in the other one is refused.
    """
    if status != 200 or body in (SUCCESS, b""):
        return ReplyResult(status, body, content_type)
    parse = wire_of(account.format).parse
    fields = parse(body)
    if "Encrypt" not in fields:
        return ReplyResult(status, body, content_type, xml=body, fields=fields)
    encrypt = str(fields["Encrypt"])
    signature.check(
        token=account.token.reveal(),
        signature=str(fields.get("MsgSignature", "")),
        timestamp=str(fields.get("TimeStamp", "")),
        nonce=str(fields.get("Nonce", "")),
        encrypt=encrypt,
    )
    if len(str(fields["TimeStamp"])) > 10:
        raise SignatureError("the reply's TimeStamp is not in seconds")
    plaintext = MessageCrypto(account.encoding_aes_keys, account.app_id).decrypt(encrypt).plaintext
    return ReplyResult(
        status, body, content_type, encrypted=True, xml=plaintext, fields=parse(plaintext)
    )
