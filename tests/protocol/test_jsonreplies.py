"""Passive replies in JSON: the XML's names and values, and the encrypted reply's envelope."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from tests.protocol.crypto_vectors import APP_ID, KEY
from wxserver.protocol import signature
from wxserver.protocol.crypto import MessageCrypto
from wxserver.protocol.errors import ReplyError
from wxserver.protocol.jsonparsing import parse_json
from wxserver.protocol.jsonreplies import render_json, render_json_envelope
from wxserver.protocol.replies import (
    NO_REPLY,
    Article,
    ImageReply,
    MusicReply,
    NewsReply,
    Reply,
    TextReply,
    TransferCustomerServiceReply,
    VideoReply,
    VoiceReply,
)

NOW = 1_700_000_000


@dataclass(frozen=True)
class Incoming:
    to_user_name: str = "gh_10f6c3c3ac5a"
    from_user_name: str = "oyORnuP8q7ou2gfYjqLzSIWZf0rs"


MESSAGE = Incoming()
HEADER = {
    "ToUserName": MESSAGE.from_user_name,
    "FromUserName": MESSAGE.to_user_name,
    "CreateTime": NOW,
}


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        pytest.param(TextReply("hello\nworld"), {"Content": "hello\nworld"}, id="text"),
        pytest.param(ImageReply("m-1"), {"Image": {"MediaId": "m-1"}}, id="image"),
        pytest.param(VoiceReply("m-2"), {"Voice": {"MediaId": "m-2"}}, id="voice"),
        pytest.param(VideoReply("m-3"), {"Video": {"MediaId": "m-3"}}, id="video-bare"),
        pytest.param(
            VideoReply("m-3", title="T", description="D"),
            {"Video": {"MediaId": "m-3", "Title": "T", "Description": "D"}},
            id="video-full",
        ),
        pytest.param(
            MusicReply("thumb", title="Song", music_url="http://m.example/a.mp3"),
            {
                "Music": {
                    "Title": "Song",
                    "MusicUrl": "http://m.example/a.mp3",
                    "ThumbMediaId": "thumb",
                }
            },
            id="music",
        ),
        pytest.param(
            NewsReply((Article("Hi", url="https://example.com/", pic_url="p"),)),
            {
                "ArticleCount": 1,
                "Articles": [{"Title": "Hi", "PicUrl": "p", "Url": "https://example.com/"}],
            },
            id="news",
        ),
        pytest.param(TransferCustomerServiceReply(), {}, id="transfer"),
        pytest.param(
            TransferCustomerServiceReply("kf@gh"),
            {"TransInfo": {"KfAccount": "kf@gh"}},
            id="transfer-to-one",
        ),
    ],
)
def test_render_json_has_the_xml_names_and_values(reply: Reply, expected: dict[str, Any]) -> None:
    body = render_json(reply, MESSAGE, create_time=NOW)
    assert json.loads(body) == {**HEADER, "MsgType": reply.msg_type, **expected}


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('quote " backslash \\ tag </x> ]]>', 'quote " backslash \\ tag </x> ]]>'),
        ("bell \x07 and tab \t", "bell \x07 and tab \t"),
        ("joined \ud83d\ude00", "joined 😀"),
        ("lone \ud83d half", "lone  half"),
        ("中文 😀", "中文 😀"),
    ],
    ids=["markup", "controls", "surrogate-pair", "lone-surrogate", "cjk-emoji"],
)
def test_render_json_any_text_stays_data_and_utf8(content: str, expected: str) -> None:
    body = render_json(TextReply(content), MESSAGE, create_time=NOW)
    body.decode("utf-8")  # always encodable: a lone surrogate is dropped, never a 500
    assert json.loads(body)["Content"] == expected
    assert parse_json(body)["MsgType"] == "text"


@pytest.mark.parametrize("reply", [NO_REPLY, "text", None], ids=["no-reply", "str", "none"])
def test_render_json_refuses_what_is_not_a_reply(reply: Any) -> None:
    with pytest.raises(ReplyError):
        render_json(reply, MESSAGE, create_time=NOW)


def test_render_json_refuses_milliseconds() -> None:
    with pytest.raises(ValueError, match="seconds"):
        render_json(TextReply("x"), MESSAGE, create_time=NOW * 1000)


def test_render_json_envelope_is_json_that_verifies_and_decrypts() -> None:
    crypto = MessageCrypto([KEY], APP_ID)
    plaintext = render_json(TextReply("hi"), MESSAGE, create_time=NOW)
    encrypt = crypto.encrypt(plaintext)
    msg_signature = signature.sign("token", str(NOW), "123", encrypt)
    envelope = json.loads(render_json_envelope(encrypt, msg_signature, NOW, 123))
    assert envelope == {
        "Encrypt": encrypt,
        "MsgSignature": msg_signature,
        "TimeStamp": NOW,
        "Nonce": "123",
    }
    assert signature.verify(
        token="token",
        signature=envelope["MsgSignature"],
        timestamp=str(envelope["TimeStamp"]),
        nonce=envelope["Nonce"],
        encrypt=envelope["Encrypt"],
    )
    assert crypto.decrypt(envelope["Encrypt"]).plaintext == plaintext
