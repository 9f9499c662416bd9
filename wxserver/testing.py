"""Play WeChat against a wxserver app: signed, and in aes modes encrypted, messages and events.

``WeChatTestClient`` drives an app object in-process (for tests and plugin authors); the same
builders serve ``wxserver simulate``, which sends over HTTP to a running server.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from wxserver import signature
from wxserver.crypto import MessageCrypto
from wxserver.errors import SignatureError, XmlError
from wxserver.parsing import parse_xml
from wxserver.replies import SUCCESS
from wxserver.settings import Account, Kind, Mode

if TYPE_CHECKING:  # the test client needs Flask; the signing helpers do not
    from flask import Flask


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
    **fields: Any,
) -> bytes:
    """Build an inbound message as WeChat sends it; ``fields`` use WeChat's element names.

    Normal messages get a fresh MsgId unless one is given; events get none.
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
    return ("<xml>" + "".join(_element(k, v) for k, v in body.items()) + "</xml>").encode()


def build_event(event: str, event_key: str | None = None, **fields: Any) -> bytes:
    """Build an event; ``fields`` may include ToUserName/FromUserName overrides via keywords."""
    extra: dict[str, Any] = {"Event": event}
    if event_key is not None:
        extra["EventKey"] = event_key
    passthrough = {k: fields.pop(k) for k in ("to_user", "from_user", "create_time") if k in fields}
    return build_message("event", **passthrough, **extra, **fields)


def _field(xml: bytes, name: str) -> str:
    # Tests also sign bodies that are deliberately not valid XML.
    try:
        return str(parse_xml(xml).get(name, ""))
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
    """Sign ``xml`` for ``account``; in compat/secure mode encrypt it first.

    For a WeCom account the body is always encrypted and only ``msg_signature`` is sent.
    """
    mode = Mode(mode)
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
    query = {
        "signature": signature.sign(token, ts, nonce),
        "timestamp": ts,
        "nonce": nonce,
        "openid": _field(xml, "FromUserName"),
    }
    if mode is Mode.PLAIN:
        return SignedRequest(query, xml)
    crypto = MessageCrypto(account.encoding_aes_keys, account.app_id)
    encrypt = crypto.encrypt(xml)
    query["encrypt_type"] = "aes"
    query["msg_signature"] = signature.sign(token, ts, nonce, encrypt)
    if mode is Mode.SECURE:
        body = f"<xml><ToUserName>{_cdata(_field(xml, 'ToUserName'))}</ToUserName>"
    else:
        body = xml.decode()[: -len("</xml>")]
    return SignedRequest(query, (body + f"<Encrypt>{_cdata(encrypt)}</Encrypt></xml>").encode())


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
    """Read a response the way WeChat does: check the envelope's MsgSignature, then decrypt."""
    if status != 200 or body in (SUCCESS, b""):
        return ReplyResult(status, body, content_type)
    fields = parse_xml(body)
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
        status, body, content_type, encrypted=True, xml=plaintext, fields=parse_xml(plaintext)
    )


class WeChatTestClient:
    """Sends messages to an app the way WeChat does and reads the replies the way WeChat does."""

    def __init__(self, app: Flask, account: str = "default", *, mode: Mode | str | None = None):
        self.app = app
        self.account: Account = app.extensions["wxserver"].settings.account(account)
        self.mode = Mode(mode) if mode is not None else self.account.mode
        self.client = app.test_client()

    def handshake(self, echostr: str = "wxserver-handshake") -> tuple[int, bytes]:
        """Perform the GET handshake; return the status and the body."""
        response = self.client.get(
            self.account.path, query_string=sign_handshake(self.account, echostr)
        )
        return response.status_code, response.get_data()

    def post(self, xml: bytes, *, mode: Mode | str | None = None) -> ReplyResult:
        """POST ``xml`` signed (and encrypted) for the client's or the given mode."""
        signed = sign_request(self.account, xml, mode if mode is not None else self.mode)
        response = self.client.post(
            self.account.path,
            query_string=signed.query,
            data=signed.body,
            content_type="text/xml",
        )
        return open_reply(
            self.account, response.status_code, response.get_data(), response.content_type
        )

    def send(self, msg_type: str, **fields: Any) -> ReplyResult:
        """Send a normal message of ``msg_type`` with WeChat's field names."""
        return self.post(build_message(msg_type, **fields))

    def send_text(self, content: str, **fields: Any) -> ReplyResult:
        """Send a text message."""
        return self.post(build_message("text", Content=content, **fields))

    def send_event(self, event: str, event_key: str | None = None, **fields: Any) -> ReplyResult:
        """Send an event."""
        return self.post(build_event(event, event_key, **fields))
