"""The callback URL through the Flask test client: handshake, three modes, every refusal."""

from __future__ import annotations

import logging
import sys
import time
import types
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.support import PREVIOUS_AES_KEY, TOKEN, AppFactory, config_with, load_vector
from wxserver import HandlerSet, NewsReply
from wxserver.protocol.crypto import MessageCrypto
from wxserver.protocol.replies import Article
from wxserver.protocol.signature import sign
from wxserver.services.config import Mode
from wxserver.testing import (
    WeChatTestClient,
    build_event,
    build_message,
    open_reply,
    sign_handshake,
    sign_request,
)

PATH = "/wechat"


def account_of(app: Flask) -> Any:
    return app.extensions["wxserver"].settings.account("default")


# --- GET handshake ---------------------------------------------------------------------------


def test_callback_handshake_echoes_echostr(wechat: WeChatTestClient) -> None:
    status, body = wechat.handshake("4375120948345356249")
    assert (status, body) == (200, b"4375120948345356249")


def test_callback_handshake_official_vector(make_app: AppFactory) -> None:
    vector = load_vector("official__mp_url_signature_official_doc")
    app = make_app(token=vector["token"], timestamp_tolerance=0)
    get = vector["get_handshake"]
    response = app.test_client().get(
        PATH,
        query_string={k: get[k] for k in ("signature", "timestamp", "nonce", "echostr")},
    )
    assert response.status_code == 200
    assert response.get_data() == get["expected_response_body"].encode()
    assert response.mimetype == "text/plain"


def test_callback_handshake_echostr_is_returned_byte_for_byte(app: Flask) -> None:
    query = sign_handshake(account_of(app), "x")
    del query["echostr"]
    # Percent-encoded bytes that are not UTF-8 must come back unchanged, not replaced.
    raw = "&".join(f"{k}={v}" for k, v in query.items()) + "&echostr=%FF%FEab+c%2B"
    response = app.test_client().get(f"{PATH}?{raw}")
    assert response.status_code == 200
    assert response.get_data() == b"\xff\xfeab c+"


@pytest.mark.parametrize("missing", ["signature", "timestamp", "nonce", "echostr"])
def test_callback_handshake_missing_parameter_is_400(app: Flask, missing: str) -> None:
    query = sign_handshake(account_of(app), "12345")
    del query[missing]
    response = app.test_client().get(PATH, query_string=query)
    assert response.status_code == 400
    assert missing in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda q: q.update(signature="0" * 40),
        lambda q: q.update(signature=q["signature"].upper()),
        lambda q: q.update(nonce=q["nonce"] + "1"),
        lambda q: q.update(timestamp=str(int(q["timestamp"]) - 1)),
        lambda q: q.update(signature="é" * 40),
    ],
    ids=["zeros", "uppercase", "nonce-changed", "timestamp-changed", "non-ascii"],
)
def test_callback_handshake_wrong_signature_is_403(app: Flask, tamper: Any) -> None:
    query = sign_handshake(account_of(app), "12345")
    tamper(query)
    response = app.test_client().get(PATH, query_string=query)
    assert response.status_code == 403
    assert "12345" not in response.get_data(as_text=True)


def test_callback_handshake_with_another_token_is_403(make_app: AppFactory) -> None:
    right, wrong = make_app(), make_app(token="someothertoken")
    query = sign_handshake(account_of(wrong), "12345")
    assert right.test_client().get(PATH, query_string=query).status_code == 403


# --- POST in three modes -------------------------------------------------------------------


@pytest.mark.parametrize("mode", list(Mode), ids=[m.value for m in Mode])
def test_callback_text_round_trip_in_each_mode(make_app: AppFactory, mode: Mode) -> None:
    app = make_app(mode="compat")
    result = WeChatTestClient(app, mode=mode).send_text("你好 😀")
    assert result.status == 200
    assert result.encrypted is (mode is not Mode.PLAIN)
    assert result.content == "你好 😀\nseen 1"
    assert result.msg_type == "text"
    assert result.content_type.startswith("application/xml")
    assert result.fields["ToUserName"] == "oWxServerTestUser0000000000"
    assert result.fields["FromUserName"] == "gh_wxserver_test"
    assert len(str(result.fields["CreateTime"])) == 10  # seconds, never milliseconds


def test_callback_encrypted_reply_envelope_is_signed_with_its_own_fields(
    wechat: WeChatTestClient,
) -> None:
    result = wechat.send_text("hi")
    envelope = result.body.decode()
    for element in ("<Encrypt>", "<MsgSignature>", "<TimeStamp>", "<Nonce>"):
        assert element in envelope
    assert abs(int(envelope.split("<TimeStamp>")[1].split("<")[0]) - time.time()) < 5


def test_callback_secure_account_refuses_plaintext(make_app: AppFactory) -> None:
    app = make_app(mode="secure")
    result = WeChatTestClient(app, mode="plain").send_text("downgrade")
    assert result.status == 403
    assert b"secure mode" in result.body
    assert WeChatTestClient(app).send_text("fine").content == "fine\nseen 1"


def test_callback_plain_account_without_key_refuses_ciphertext(make_app: AppFactory) -> None:
    keyed = make_app()
    app = make_app(mode="plain", encoding_aes_key="", app_id="")
    signed = sign_request(account_of(keyed), build_message("text", Content="x"), "secure")
    response = app.test_client().post(PATH, query_string=signed.query, data=signed.body)
    assert response.status_code == 400
    assert b"no EncodingAESKey" in response.get_data()


def test_callback_official_compat_sample_decrypts(make_app: AppFactory) -> None:
    vector = load_vector("official__mp_official_sample_decrypt")
    app = make_app(
        token=vector["token"],
        app_id=vector["appid"],
        encoding_aes_key=vector["encoding_aes_key"],
        timestamp_tolerance=0,
    )
    query = {
        "signature": sign(vector["token"], vector["timestamp"], vector["nonce"]),
        "timestamp": vector["timestamp"],
        "nonce": vector["nonce"],
        "encrypt_type": "aes",
        "msg_signature": vector["msg_signature"],
    }
    response = app.test_client().post(PATH, query_string=query, data=vector["post_body_xml"])
    result = open_reply(
        account_of(app), response.status_code, response.get_data(), response.content_type
    )
    assert result.encrypted
    assert result.content == "abcdteT\nseen 1"
    assert result.fields["ToUserName"] == "oyORnuP8q7ou2gfYjqLzSIWZf0rs"


def test_callback_encrypt_element_without_encrypt_type_takes_cipher_branch(app: Flask) -> None:
    signed = sign_request(account_of(app), build_message("text", Content="x"), "secure")
    query = {k: v for k, v in signed.query.items() if k != "encrypt_type"}
    response = app.test_client().post(PATH, query_string=query, data=signed.body)
    result = open_reply(
        account_of(app), response.status_code, response.get_data(), response.content_type
    )
    assert result.encrypted
    assert result.content == "x\nseen 1"


def test_callback_key_rotation_replies_with_the_key_that_worked(make_app: AppFactory) -> None:
    old_app = make_app(encoding_aes_key=PREVIOUS_AES_KEY)
    rotated = make_app(previous_encoding_aes_key=PREVIOUS_AES_KEY)
    signed = sign_request(account_of(old_app), build_message("text", Content="rotating"), "secure")
    response = rotated.test_client().post(PATH, query_string=signed.query, data=signed.body)
    assert response.status_code == 200
    # WeChat still holds the previous key: the reply must open with it, not with the new one.
    result = open_reply(account_of(old_app), 200, response.get_data(), response.content_type)
    assert result.content == "rotating\nseen 1"


def test_callback_success_is_never_encrypted(make_app: AppFactory) -> None:
    app = make_app(mode="secure")
    result = WeChatTestClient(app).send_event("teleport_event")
    assert result.body == b"success"
    assert result.is_success


# --- refusals --------------------------------------------------------------------------------


def post(client: FlaskClient, query: dict[str, str], body: bytes) -> tuple[int, str]:
    response = client.post(PATH, query_string=query, data=body)
    return response.status_code, response.get_data(as_text=True)


@pytest.mark.parametrize("missing", ["signature", "timestamp", "nonce"])
def test_callback_post_missing_parameter_is_400(app: Flask, missing: str) -> None:
    signed = sign_request(account_of(app), build_message("text", Content="x"), "plain")
    del signed.query[missing]
    status, text = post(app.test_client(), signed.query, signed.body)
    assert status == 400
    assert missing in text


def test_callback_post_signature_checked_before_body_is_read(app: Flask) -> None:
    signed = sign_request(account_of(app), b"<not xml", "plain")
    status, _ = post(app.test_client(), {**signed.query, "signature": "0" * 40}, signed.body)
    assert status == 403  # not 400: the body was never looked at


def test_callback_post_missing_msg_signature_is_400(app: Flask) -> None:
    signed = sign_request(account_of(app), build_message("text", Content="x"), "secure")
    del signed.query["msg_signature"]
    status, text = post(app.test_client(), signed.query, signed.body)
    assert status == 400
    assert "msg_signature" in text


def _tampered_envelope(app: Flask, change: str) -> tuple[int, str]:
    account = account_of(app)
    signed = sign_request(account, build_message("text", Content="x"), "secure")
    encrypt = signed.body.decode().split("<![CDATA[")[-1].split("]]>")[0]
    query = dict(signed.query)
    if change == "msg_signature":
        query["msg_signature"] = "0" * 40
        body = signed.body
    else:
        bad = {
            # Ciphertext block 0 is XORed into plaintext block 1, which opens with the length field.
            "flipped": ("A" if encrypt[0] != "A" else "B") + encrypt[1:],
            "not-base64": encrypt[:-4] + "!!!!",
            "short-block": encrypt[:-24] + "==",
            "other-appid": MessageCrypto(
                [account.encoding_aes_key.reveal()], "wxsomeoneelse"
            ).encrypt(b"<xml/>"),
        }[change]
        query["msg_signature"] = sign(TOKEN, query["timestamp"], query["nonce"], bad)
        body = signed.body.replace(encrypt.encode(), bad.encode())
    return post(app.test_client(), query, body)


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ("msg_signature", 403, "-40001"),
        ("flipped", 400, "-4000"),
        ("not-base64", 400, "-40010"),
        ("short-block", 400, "-4000"),
        ("other-appid", 400, "-40005"),
    ],
)
def test_callback_tampered_ciphertext_is_refused_with_its_code(
    app: Flask, change: str, status: int, code: str
) -> None:
    got_status, text = _tampered_envelope(app, change)
    assert got_status == status
    assert code in text


def test_callback_stale_timestamp_is_refused(make_app: AppFactory) -> None:
    app = make_app(timestamp_tolerance=60)
    xml = build_message("text", Content="old")
    signed = sign_request(account_of(app), xml, "plain", timestamp=int(time.time()) - 3600)
    status, text = post(app.test_client(), signed.query, signed.body)
    assert status == 403
    assert "WX_TIMESTAMP_TOLERANCE" in text
    tolerant = make_app(timestamp_tolerance=0)
    assert post(tolerant.test_client(), signed.query, signed.body)[0] == 200


def test_callback_body_over_limit_is_413(make_app: AppFactory) -> None:
    config = config_with()
    config["max_body_size"] = 2048
    app = make_app(config)
    xml = build_message("text", Content="x" * 4000)
    signed = sign_request(account_of(app), xml, "plain")
    status, text = post(app.test_client(), signed.query, signed.body)
    assert status == 413
    assert "2048" in text


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"<xml><ToUserName>unclosed",
        "<xml><ToUserName>中</ToUserName></xml>".encode("gbk"),
        b'<!DOCTYPE xml [<!ENTITY a "b">]><xml><Content>&a;</Content></xml>',
        b"<root><MsgType>text</MsgType></root>",
    ],
    ids=["empty", "malformed", "gbk", "doctype", "wrong-root"],
)
def test_callback_bad_xml_is_400(app: Flask, body: bytes) -> None:
    signed = sign_request(account_of(app), body, "plain")
    status, text = post(app.test_client(), signed.query, signed.body)
    assert status == 400
    assert "Traceback" not in text


def test_callback_unknown_path_and_method(app: Flask) -> None:
    client = app.test_client()
    assert client.get("/nowhere").status_code == 404
    assert client.put(PATH).status_code == 405


# --- handlers ------------------------------------------------------------------------------


def app_with(make_app: AppFactory, handlers: HandlerSet, module_name: str) -> Flask:
    module = types.ModuleType(module_name)
    module.handlers = handlers  # type: ignore[attr-defined]
    sys.modules[module_name] = module
    config = config_with()
    config["plugins"] = [f"{module_name}:handlers"]
    return make_app(config)


def test_callback_raising_handler_answers_success_and_logs_msg_id(
    make_app: AppFactory, caplog: pytest.LogCaptureFixture
) -> None:
    handlers = HandlerSet("broken")

    @handlers.text()
    def explode(message: Any) -> str:
        raise RuntimeError("handler bug")

    app = app_with(make_app, handlers, "wxtest_broken")
    xml = build_message("text", Content="x", MsgId=777001)
    with caplog.at_level(logging.INFO, logger="wxserver"):
        result = WeChatTestClient(app).post(xml)
    assert result.status == 200
    assert result.body == b"success"
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert errors
    assert "777001" in errors[0].getMessage()
    assert "broken.explode" in errors[0].getMessage()


def test_callback_two_article_news_is_logged_and_answered_success(
    make_app: AppFactory, caplog: pytest.LogCaptureFixture
) -> None:
    handlers = HandlerSet("news")

    @handlers.text()
    def news(message: Any) -> NewsReply:
        return NewsReply(articles=(Article(title="a"), Article(title="b")))

    app = app_with(make_app, handlers, "wxtest_news")
    with caplog.at_level(logging.ERROR, logger="wxserver"):
        result = WeChatTestClient(app).send_text("x")
    assert result.body == b"success"
    assert any("customer-service" in r.getMessage() for r in caplog.records)


def test_callback_logs_one_line_per_request(
    wechat: WeChatTestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="wxserver.request"):
        wechat.post(build_message("text", Content="x", MsgId=4242))
        wechat.post(build_event("CLICK", "MENU_A"))
    lines = [r.getMessage() for r in caplog.records if r.name == "wxserver.request"]
    assert len(lines) == 2
    assert "mode=compat" in lines[0]
    assert "type=text" in lines[0]
    assert "msg_id=4242" in lines[0]
    assert "handler=echo.echo_text" in lines[0]
    assert "outcome=reply" in lines[0]
    assert "duration_ms=" in lines[0]
    assert "event=CLICK" in lines[1]
    assert "event_key=MENU_A" in lines[1]
    for line in lines:
        assert TOKEN not in line


def test_callback_refusal_is_logged_with_its_reason(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    query = sign_handshake(account_of(app), "1")
    query["signature"] = "0" * 40
    with caplog.at_level(logging.INFO, logger="wxserver.request"):
        app.test_client().get(PATH, query_string=query)
    (record,) = [r for r in caplog.records if r.name == "wxserver.request"]
    assert record.levelno == logging.WARNING
    assert "status=403" in record.getMessage()
    assert "outcome=SignatureError" in record.getMessage()
    assert "reason='" in record.getMessage()
