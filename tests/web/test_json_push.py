"""JSON push (数据格式 JSON) through the Flask test client: three modes, and every refusal."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from flask import Flask

from tests.protocol.crypto_vectors import frame, seal_raw
from tests.support import AES_KEY, APP_ID, TOKEN, AppFactory, config_with
from wxserver.protocol.crypto import MessageCrypto
from wxserver.protocol.signature import sign
from wxserver.services.config import Mode
from wxserver.testing import WeChatTestClient, build_event, build_message, sign_request

PATH = "/wechat"


@pytest.fixture
def app(make_app: AppFactory) -> Flask:
    """A JSON account with the echo handlers, in compat mode."""
    return make_app(format="json")


def account_of(app: Flask) -> Any:
    return app.extensions["wxserver"].settings.account("default")


def post(app: Flask, query: dict[str, str], body: bytes) -> tuple[int, str]:
    response = app.test_client().post(PATH, query_string=query, data=body)
    return response.status_code, response.get_data(as_text=True)


def message(content: str = "x", **fields: Any) -> bytes:
    return build_message("text", Content=content, format="json", **fields)


@pytest.mark.parametrize("mode", list(Mode), ids=[m.value for m in Mode])
def test_json_push_text_round_trip_in_each_mode(app: Flask, mode: Mode) -> None:
    result = WeChatTestClient(app, mode=mode).send_text("你好 😀")
    assert result.status == 200
    assert result.encrypted is (mode is not Mode.PLAIN)
    assert result.content_type.startswith("application/json")
    assert result.content == "你好 😀\nseen 1"
    reply = json.loads(result.xml)  # the reply itself, decrypted: JSON, never XML
    assert reply["MsgType"] == "text"
    assert reply["ToUserName"] == "oWxServerTestUser0000000000"
    assert isinstance(reply["CreateTime"], int)


def test_json_push_encrypted_reply_is_the_json_envelope(app: Flask) -> None:
    result = WeChatTestClient(app, mode="secure").send_text("hi")
    envelope = json.loads(result.body)
    assert sorted(envelope) == ["Encrypt", "MsgSignature", "Nonce", "TimeStamp"]
    assert abs(envelope["TimeStamp"] - time.time()) < 5
    assert result.encrypted  # open_reply verified MsgSignature before decrypting


def test_json_push_echo_answers_events_as_in_xml(app: Flask) -> None:
    wechat = WeChatTestClient(app)
    assert wechat.send_event("CLICK", "MENU_1").content == "event CLICK MENU_1\nseen 1"
    body = build_event("subscribe", "qrscene_promo", format="json")
    assert wechat.post(body).content == "event subscribe qrscene_promo\nseen 1"


def test_json_push_retry_of_a_message_runs_the_handler_once(app: Flask) -> None:
    wechat = WeChatTestClient(app)
    body = message("once", MsgId=1234567890123456789)
    assert wechat.post(body).content == "once\nseen 1"
    assert wechat.post(body).content == "once\nseen 1"


def test_json_push_handshake_is_the_same_get(app: Flask) -> None:
    assert WeChatTestClient(app).handshake("4375120948345356249") == (200, b"4375120948345356249")


def test_json_push_secure_account_refuses_plaintext(make_app: AppFactory) -> None:
    app = make_app(format="json", mode="secure")
    result = WeChatTestClient(app, mode="plain").send_text("downgrade")
    assert result.status == 403
    assert WeChatTestClient(app).send_text("fine").content == "fine\nseen 1"


def test_json_push_wrong_signature_is_refused_before_the_body_is_read(app: Flask) -> None:
    signed = sign_request(account_of(app), b"{not json", "plain")
    assert post(app, {**signed.query, "signature": "0" * 40}, signed.body)[0] == 403


def _bad_padding(message: bytes) -> str:
    buffer = frame(message, APP_ID.encode())
    buffer += bytes([33]) * (32 - len(buffer) % 32)  # 33 is never a valid pad length
    return seal_raw(buffer, AES_KEY)


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ("msg_signature", 403, "-40001"),
        ("flipped", 400, "-4000"),
        ("not-base64", 400, "-40010"),
        ("short-block", 400, "-4000"),
        ("other-appid", 400, "-40005"),
        ("bad-padding", 400, "-40008"),
    ],
)
def test_json_push_tampered_ciphertext_is_refused_with_its_code(
    app: Flask, change: str, status: int, code: str
) -> None:
    signed = sign_request(account_of(app), message(), "secure")
    envelope = json.loads(signed.body)
    encrypt = envelope["Encrypt"]
    query = dict(signed.query)
    if change == "msg_signature":
        query["msg_signature"] = "0" * 40
    else:
        envelope["Encrypt"] = {
            "flipped": encrypt[:20] + ("A" if encrypt[20] != "A" else "B") + encrypt[21:],
            "not-base64": encrypt[:-4] + "!!!!",
            "short-block": encrypt[:-24] + "==",
            "other-appid": MessageCrypto([AES_KEY], "wxsomeoneelse").encrypt(message()),
            "bad-padding": _bad_padding(message()),
        }[change]
        query["msg_signature"] = sign(
            TOKEN, query["timestamp"], query["nonce"], envelope["Encrypt"]
        )
    got_status, text = post(app, query, json.dumps(envelope).encode())
    assert got_status == status
    assert code in text


def test_json_push_msg_signature_covers_encrypt_as_received(app: Flask) -> None:
    # The peer that decrypted JSON bodies without checking msg_signature would answer this.
    signed = sign_request(account_of(app), message(), "secure")
    envelope = json.loads(signed.body)
    other = sign_request(account_of(app), message("forged"), "secure")
    envelope["Encrypt"] = json.loads(other.body)["Encrypt"]
    assert post(app, signed.query, json.dumps(envelope).encode())[0] == 403


def test_json_push_plaintext_replay_with_another_body_is_refused(app: Flask) -> None:
    signed = sign_request(account_of(app), message("first"), "plain")
    assert post(app, signed.query, signed.body)[0] == 200
    assert post(app, signed.query, signed.body)[0] == 200  # a retry: the same body
    assert post(app, signed.query, message("second"))[0] == 403


def test_json_push_stale_timestamp_is_refused(make_app: AppFactory) -> None:
    app = make_app(format="json", timestamp_tolerance=60)
    signed = sign_request(account_of(app), message(), "plain", timestamp=int(time.time()) - 3600)
    assert post(app, signed.query, signed.body)[0] == 403


def test_json_push_body_over_limit_is_413(make_app: AppFactory) -> None:
    config = config_with(format="json")
    config["max_body_size"] = 2048
    app = make_app(config)
    signed = sign_request(account_of(app), message("x" * 4000), "plain")
    assert post(app, signed.query, signed.body)[0] == 413


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b'{"ToUserName": "gh_1", "MsgType": "text"',
        b'{"MsgType": "text", "MsgType": "event"}',
        b'{"A":' * 40 + b"1" + b"}" * 40,
        b'["not", "an", "object"]',
        b'{"MsgId": ' + b"9" * 5000 + b"}",
        b'{"MsgId": NaN}',
        '{"Content": "中"}'.encode("gbk"),
        build_message("text", Content="xml to a json account"),
    ],
    ids=[
        "empty",
        "malformed",
        "duplicate-key",
        "deep",
        "array",
        "huge-number",
        "nan",
        "gbk",
        "xml",
    ],
)
@pytest.mark.parametrize("mode", ["plain", "secure"])
def test_json_push_bad_json_is_400(app: Flask, body: bytes, mode: str) -> None:
    signed = sign_request(account_of(app), body, mode)
    status, text = post(app, signed.query, signed.body)
    assert status == 400
    assert "Traceback" not in text
    assert "(code -40002)" in text


def test_json_push_secure_body_without_encrypt_is_400(app: Flask) -> None:
    signed = sign_request(account_of(app), message(), "secure")
    body = json.dumps({"ToUserName": "gh_1"}).encode()
    status, text = post(app, signed.query, body)
    assert status == 400
    assert "Encrypt" in text


def test_json_push_missing_fields_are_still_dispatched(app: Flask) -> None:
    signed = sign_request(account_of(app), b'{"MsgType": "text", "Content": "bare"}', "plain")
    status, text = post(app, signed.query, signed.body)
    assert status == 200
    assert json.loads(text)["Content"] == "bare\nseen 1"
