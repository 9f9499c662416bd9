"""Every real message answered: strict on security, lenient on content, through the whole app.

A message WeChat sends without a content field, or with whitespace around its values, is typed
and dispatched; a document nested beyond any message's depth is a clear 400, never a 5xx.
"""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from flask import Flask

from tests.support import AppFactory, config_with, load_vector
from wxserver import (
    HandlerSet,
    ImageMessage,
    LinkMessage,
    Message,
    TextMessage,
    VideoMessage,
    VoiceMessage,
)
from wxserver.protocol import signature
from wxserver.testing import WeChatTestClient, sign_request

seen: list[Message] = []
handlers = HandlerSet("lenient")


@handlers.message
def record(message: Message) -> str:
    seen.append(message)
    return f"got {message.msg_type}"


SPEC = f"{__name__}:handlers"
OA = "gh_10f6c3c3ac5a"
USER = "oyORnuP8q7ou2gfYjqLzSIWZf0rs"


@pytest.fixture
def app(make_app: AppFactory) -> Flask:
    seen.clear()
    return make_app(config_with(mode="secure") | {"plugins": [SPEC]})


def _body(msg_type: str, extra: str = "") -> bytes:
    return (
        f"<xml><ToUserName><![CDATA[{OA}]]></ToUserName>"
        f"<FromUserName><![CDATA[{USER}]]></FromUserName>"
        f"<CreateTime>1700000000</CreateTime><MsgType><![CDATA[{msg_type}]]></MsgType>"
        f"{extra}<MsgId>{secrets.randbits(62)}</MsgId></xml>"
    ).encode()


@pytest.mark.parametrize(
    ("msg_type", "cls", "empty"),
    [
        ("video", VideoMessage, {"media_id": "", "thumb_media_id": ""}),
        ("image", ImageMessage, {"media_id": "", "pic_url": ""}),
        ("voice", VoiceMessage, {"media_id": "", "format": ""}),
        ("link", LinkMessage, {"title": "", "description": "", "url": ""}),
    ],
    ids=["video", "image", "voice", "link"],
)
@pytest.mark.parametrize("mode", ["plain", "secure"])
def test_lenient_message_missing_its_media_fields_is_dispatched(
    make_app: AppFactory, msg_type: str, cls: type[Message], empty: dict[str, Any], mode: str
) -> None:
    seen.clear()
    app = make_app(config_with(mode=mode) | {"plugins": [SPEC]})
    reply = WeChatTestClient(app).post(_body(msg_type))
    assert (reply.status, reply.content) == (200, f"got {msg_type}")
    (message,) = seen
    assert type(message) is cls
    assert {name: getattr(message, name) for name in empty} == empty


def test_lenient_official_encryption_vector_video_is_answered(make_app: AppFactory) -> None:
    # WeChat's own sample: a video whose MediaId sits inside <Video>, not beside MsgType.
    vector = load_vector("official__mp_encrypt_fixed_random")
    plaintext = next(case["plaintext"] for case in vector["cases"] if "<xml>" in case["plaintext"])
    seen.clear()
    app = make_app(
        config_with(
            mode="secure",
            token=vector["token"],
            app_id=vector["appid"],
            encoding_aes_key=vector["encoding_aes_key"],
            timestamp_tolerance=0,
        )
        | {"plugins": [SPEC]}
    )
    reply = WeChatTestClient(app).post(plaintext.encode())
    assert (reply.status, reply.content) == (200, "got video")
    (message,) = seen
    assert isinstance(message, VideoMessage)
    assert message.media_id == ""
    assert message.raw["Video"]["MediaId"].startswith("eYJ1MbwPRJ")


@pytest.mark.parametrize("mode", ["plain", "compat", "secure"])
def test_lenient_whitespace_around_cdata_is_stripped_and_the_reply_addresses_the_ids(
    make_app: AppFactory, mode: str
) -> None:
    seen.clear()
    app = make_app(config_with(mode=mode) | {"plugins": [SPEC]})
    body = (
        f"<xml>\n  <ToUserName>\n    <![CDATA[{OA}]]>\n  </ToUserName>\n"
        f"  <FromUserName> <![CDATA[{USER}]]> </FromUserName>\n"
        "  <CreateTime> 1700000000 </CreateTime>\n"
        "  <MsgType>\n<![CDATA[text]]>\n</MsgType>\n"
        "  <Content> <![CDATA[ hello ]]> </Content>\n"
        f"  <MsgId> {secrets.randbits(62)} </MsgId>\n</xml>"
    ).encode()
    reply = WeChatTestClient(app).post(body)
    assert reply.status == 200
    assert (reply.fields["ToUserName"], reply.fields["FromUserName"]) == (USER, OA)
    (message,) = seen
    assert isinstance(message, TextMessage)
    assert (message.to_user_name, message.from_user_name, message.content) == (OA, USER, "hello")


@pytest.mark.parametrize("mode", ["plain", "secure"])
def test_lenient_5000_nested_elements_with_a_valid_signature_are_a_400(
    make_app: AppFactory, mode: str
) -> None:
    app = make_app(config_with(mode=mode) | {"plugins": [SPEC]})
    deep = "<a>" * 5000 + "x" + "</a>" * 5000
    body = _body("text", f"<Content>{deep}</Content>")
    assert len(body) < 64 * 1024  # inside the body limit: the parser meets it
    account = app.extensions["wxserver"].settings.account("default")
    signed = sign_request(account, body, mode)
    assert signature.verify(
        token=account.token.reveal(),
        signature=signed.query["signature"],
        timestamp=signed.query["timestamp"],
        nonce=signed.query["nonce"],
    )
    response = app.test_client().post("/wechat", query_string=signed.query, data=signed.body)
    assert response.status_code == 400
    assert b"nests elements more than 16 deep" in response.get_data()


def test_lenient_a_message_of_only_its_head_is_answered(app: Flask) -> None:
    reply = WeChatTestClient(app).post(_body("text"))
    assert (reply.status, reply.content) == (200, "got text")
    (message,) = seen
    assert isinstance(message, TextMessage)
    assert message.content == ""
