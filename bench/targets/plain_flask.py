"""A hand-written handler: Flask, pycryptodome and xmltodict, no WeChat framework.

It does what any careful implementation must: check ``signature``, and for an encrypted body
``msg_signature``, decrypt, check padding and AppID, parse, reply in the mode of the request with
the text echoed, encrypt and sign the reply. No typed messages, no router, no plugins.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time

import xmltodict
from Crypto.Cipher import AES
from flask import Flask, Response, abort, request

from bench.targets.credentials import APP_ID, ENCODING_AES_KEY, PATH, TOKEN

app = Flask(__name__)
_KEY = base64.b64decode(ENCODING_AES_KEY + "=")
_IV = _KEY[:16]
_APP_ID = APP_ID.encode()


def _sign(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()  # noqa: S324


def _check(expected: str, received: str) -> None:
    if not hmac.compare_digest(expected.encode(), received.encode()):
        abort(403)


def _decrypt(encrypt: str) -> bytes:
    plain = AES.new(_KEY, AES.MODE_CBC, _IV).decrypt(base64.b64decode(encrypt))
    pad = plain[-1]
    if not 1 <= pad <= 32:
        abort(400)
    plain = plain[:-pad]
    length = int.from_bytes(plain[16:20], "big")
    if plain[20 + length :] != _APP_ID:
        abort(403)
    return plain[20 : 20 + length]


def _encrypt(xml: bytes) -> str:
    text = secrets.token_urlsafe(12)[:16].encode() + len(xml).to_bytes(4, "big") + xml + _APP_ID
    pad = 32 - len(text) % 32
    text += bytes([pad]) * pad
    return base64.b64encode(AES.new(_KEY, AES.MODE_CBC, _IV).encrypt(text)).decode()


def _cdata(text: str) -> str:
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


@app.route(PATH, methods=["GET", "POST"])
def wechat() -> Response | str:
    """The handshake and the echo reply."""
    args = request.args
    timestamp, nonce = args.get("timestamp", ""), args.get("nonce", "")
    _check(_sign(TOKEN, timestamp, nonce), args.get("signature", ""))
    if request.method == "GET":
        return args.get("echostr", "")
    fields = xmltodict.parse(request.get_data())["xml"]
    encrypt = fields.get("Encrypt")
    if encrypt is not None:
        _check(_sign(TOKEN, timestamp, nonce, encrypt), args.get("msg_signature", ""))
        fields = xmltodict.parse(_decrypt(encrypt))["xml"]
    if fields.get("MsgType") != "text":
        return "success"
    now = int(time.time())
    xml = (
        f"<xml><ToUserName>{_cdata(fields['FromUserName'])}</ToUserName>"
        f"<FromUserName>{_cdata(fields['ToUserName'])}</FromUserName>"
        f"<CreateTime>{now}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content>{_cdata(fields.get('Content') or '')}</Content></xml>"
    ).encode()
    if encrypt is None:
        return Response(xml, content_type="application/xml")
    reply_nonce = str(secrets.randbelow(10**10))
    sealed = _encrypt(xml)
    body = (
        f"<xml><Encrypt>{_cdata(sealed)}</Encrypt>"
        f"<MsgSignature>{_cdata(_sign(TOKEN, str(now), reply_nonce, sealed))}</MsgSignature>"
        f"<TimeStamp>{now}</TimeStamp><Nonce>{_cdata(reply_nonce)}</Nonce></xml>"
    )
    return Response(body, content_type="application/xml")
