"""wechatpy 1.8.18 behind Flask, as its own echo example does it (pycryptodome backend).

The example builds ``WeChatCrypto`` inside the view; here it is built once, which only helps the
peer. Like the example, a request with ``encrypt_type=aes`` is decrypted and its reply encrypted,
any other is answered in plaintext.
"""

from __future__ import annotations

from flask import Flask, abort, request
from wechatpy import create_reply, parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.utils import check_signature

from bench.targets.credentials import APP_ID, ENCODING_AES_KEY, PATH, TOKEN

app = Flask(__name__)
crypto = WeChatCrypto(TOKEN, ENCODING_AES_KEY, APP_ID)


def _reply_to(xml: str | bytes) -> str:
    message = parse_message(xml)
    if message.type == "text":
        reply = create_reply(message.content, message)
    else:
        reply = create_reply("Sorry, can not handle this for now", message)
    rendered: str = reply.render()
    return rendered


@app.route(PATH, methods=["GET", "POST"])
def wechat() -> str:
    """The handshake and the echo reply."""
    signature = request.args.get("signature", "")
    timestamp = request.args.get("timestamp", "")
    nonce = request.args.get("nonce", "")
    encrypt_type = request.args.get("encrypt_type", "raw")
    msg_signature = request.args.get("msg_signature", "")
    try:
        check_signature(TOKEN, signature, timestamp, nonce)
    except InvalidSignatureException:
        abort(403)
    if request.method == "GET":
        return request.args.get("echostr", "")
    if encrypt_type == "raw":
        return _reply_to(request.data)
    try:
        xml = crypto.decrypt_message(request.data, msg_signature, timestamp, nonce)
    except (InvalidSignatureException, InvalidAppIdException):
        abort(403)
    encrypted: str = crypto.encrypt_message(_reply_to(xml), nonce, timestamp)
    return encrypted
