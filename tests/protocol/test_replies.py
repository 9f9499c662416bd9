"""Passive replies render to XML that WeChat and any XML parser read back unchanged."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import FrozenInstanceError, dataclass
from typing import Any

import pytest
import xmltodict

from wxserver.protocol import signature
from wxserver.protocol.crypto import MessageCrypto
from wxserver.protocol.errors import ReplyError
from wxserver.protocol.replies import (
    NO_REPLY,
    SUCCESS,
    Article,
    ImageReply,
    MusicReply,
    NewsReply,
    NoReply,
    Reply,
    TextReply,
    TransferCustomerServiceReply,
    VideoReply,
    VoiceReply,
    render,
    render_envelope,
    render_own_envelope,
)

NOW = 1_700_000_000


@dataclass(frozen=True)
class Incoming:
    to_user_name: str = "gh_10f6c3c3ac5a"
    from_user_name: str = "oyORnuP8q7ou2gfYjqLzSIWZf0rs"


MESSAGE = Incoming()


def parse(reply: Reply, message: Incoming = MESSAGE) -> dict[str, Any]:
    body = render(reply, message, create_time=NOW)
    assert isinstance(body, bytes)
    tree: dict[str, Any] = xmltodict.parse(body, strip_whitespace=False)["xml"]
    return tree


def header(msg_type: str) -> dict[str, str]:
    return {
        "ToUserName": MESSAGE.from_user_name,
        "FromUserName": MESSAGE.to_user_name,
        "CreateTime": str(NOW),
        "MsgType": msg_type,
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
        pytest.param(MusicReply("thumb"), {"Music": {"ThumbMediaId": "thumb"}}, id="music-bare"),
        pytest.param(
            MusicReply(
                "thumb",
                title="Song",
                description="Singer",
                music_url="http://m.example/a.mp3",
                hq_music_url="http://m.example/a.flac",
            ),
            {
                "Music": {
                    "Title": "Song",
                    "Description": "Singer",
                    "MusicUrl": "http://m.example/a.mp3",
                    "HQMusicUrl": "http://m.example/a.flac",
                    "ThumbMediaId": "thumb",
                }
            },
            id="music-full",
        ),
        pytest.param(
            NewsReply(
                (Article("Only", description="D", pic_url="http://p/1.png", url="http://u/1"),)
            ),
            {
                "ArticleCount": "1",
                "Articles": {
                    "item": {
                        "Title": "Only",
                        "Description": "D",
                        "PicUrl": "http://p/1.png",
                        "Url": "http://u/1",
                    }
                },
            },
            id="news",
        ),
        pytest.param(
            NewsReply((Article("Title only"),)),
            {"ArticleCount": "1", "Articles": {"item": {"Title": "Title only"}}},
            id="news-title-only",
        ),
        pytest.param(TransferCustomerServiceReply(), {}, id="transfer"),
        pytest.param(
            TransferCustomerServiceReply(kf_account="agent@gh_10f6c3c3ac5a"),
            {"TransInfo": {"KfAccount": "agent@gh_10f6c3c3ac5a"}},
            id="transfer-to-agent",
        ),
    ],
)
def test_render_each_reply_type(reply: Reply, expected: dict[str, Any]) -> None:
    assert parse(reply) == {**header(reply.msg_type), **expected}


def test_render_text_exact_bytes() -> None:
    body = render(TextReply("你好"), MESSAGE, create_time=NOW)
    assert (
        body
        == (
            "<xml><ToUserName><![CDATA[oyORnuP8q7ou2gfYjqLzSIWZf0rs]]></ToUserName>"
            "<FromUserName><![CDATA[gh_10f6c3c3ac5a]]></FromUserName>"
            "<CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType>"
            "<Content><![CDATA[你好]]></Content></xml>"
        ).encode()
    )


def test_render_transfer_has_no_body_without_an_agent() -> None:
    body = render(TransferCustomerServiceReply(), MESSAGE, create_time=NOW)
    assert body.endswith(b"<MsgType><![CDATA[transfer_customer_service]]></MsgType></xml>")


# --- content that must stay data -----------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        pytest.param("]]>", id="terminator"),
        pytest.param("a]]>b]]>c", id="two-terminators"),
        pytest.param("]]]]>>", id="nested-brackets"),
        pytest.param("]", id="bracket"),
        pytest.param("]]", id="brackets"),
        pytest.param("<![CDATA[x]]>", id="cdata"),
        pytest.param("</Content><MsgType>image</MsgType>", id="close-tag"),
        pytest.param(
            "]]></Content><MsgType><![CDATA[image]]></MsgType><Content><![CDATA[", id="cdata-escape"
        ),
        pytest.param("&amp; &lt; <b>&#0;</b> <!DOCTYPE x>", id="markup"),
        pytest.param("emoji 😀👍🏽🇨🇳 中文", id="emoji"),
        pytest.param("tab\tnewline\n", id="allowed-controls"),
        pytest.param("", id="empty"),
    ],
)
def test_render_text_content_round_trips(content: str) -> None:
    tree = parse(TextReply(content))
    assert tree["MsgType"] == "text"
    assert (tree["Content"] or "") == content
    assert list(tree) == ["ToUserName", "FromUserName", "CreateTime", "MsgType", "Content"]


def test_render_keeps_a_carriage_return() -> None:
    assert b"a\r\nb" in render(TextReply("a\r\nb"), MESSAGE, create_time=NOW)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        pytest.param("a\x00b", "ab", id="nul"),
        # An XML parser reads the surviving CR as LF.
        pytest.param("".join(map(chr, range(32))), "\t\n\n", id="all-c0"),
        pytest.param("x\x0by\x0cz\x1b", "xyz", id="vt-ff-esc"),
        pytest.param("a\ufffeb\uffffc", "abc", id="non-characters"),
        pytest.param("a\ud800b\udfffc", "abc", id="lone-surrogates"),
        pytest.param("a\ud83d\ude00b", "a😀b", id="split-emoji"),
        pytest.param("\x00]]\x00>", "]]>", id="hidden-terminator"),
        pytest.param("\x7f\x85\u2028", "\x7f\x85\u2028", id="allowed-c1"),
    ],
)
def test_render_drops_characters_xml_forbids(content: str, expected: str) -> None:
    assert parse(TextReply(content))["Content"] == expected


def test_render_cleans_every_string_field() -> None:
    nasty = "a]]>\x00b"
    tree = parse(
        NewsReply((Article(nasty, description=nasty, pic_url=nasty, url=nasty),)),
        Incoming(to_user_name=nasty, from_user_name=nasty),
    )
    item = tree["Articles"]["item"]
    assert {item["Title"], item["Description"], item["PicUrl"], item["Url"]} == {"a]]>b"}
    assert tree["ToUserName"] == tree["FromUserName"] == "a]]>b"


@pytest.mark.parametrize(
    "reply",
    [
        pytest.param(VideoReply("m", title="]]><x/>", description="<![CDATA["), id="video"),
        pytest.param(MusicReply("]]>", title="]]>", music_url="http://a/?x=]]>"), id="music"),
        pytest.param(TransferCustomerServiceReply(kf_account="]]></KfAccount>"), id="transfer"),
    ],
)
def test_render_cdata_in_titles_and_ids_stays_data(reply: Reply) -> None:
    tree = parse(reply)
    assert tree["MsgType"] == reply.msg_type
    assert len(tree) == 5


# --- CreateTime ----------------------------------------------------------------------------------


def test_render_create_time_defaults_to_now_in_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("wxserver.protocol.replies.time.time", lambda: 1_700_000_123.987)
    body = render(TextReply("x"), MESSAGE)
    assert b"<CreateTime>1700000123</CreateTime>" in body


def test_render_create_time_is_a_bare_integer() -> None:
    body = render(TextReply("x"), MESSAGE).decode("utf-8")
    assert re.search(r"<CreateTime>\d{10}</CreateTime>", body)


@pytest.mark.parametrize("bad", [NOW * 1000, -1], ids=["milliseconds", "negative"])
def test_render_refuses_a_create_time_not_in_seconds(bad: int) -> None:
    with pytest.raises(ValueError, match="seconds"):
        render(TextReply("x"), MESSAGE, create_time=bad)


# --- construction rules --------------------------------------------------------------------------


@pytest.mark.parametrize("count", [0, 2, 8], ids=lambda count: f"{count}-articles")
def test_news_reply_holds_exactly_one_article(count: int) -> None:
    articles = tuple(Article(f"a{i}") for i in range(count))
    with pytest.raises(ReplyError, match="customer-service API"):
        NewsReply(articles)


def test_news_reply_accepts_a_list() -> None:
    reply = NewsReply([Article("one")])  # type: ignore[arg-type]
    assert reply.articles == (Article("one"),)


@pytest.mark.parametrize(
    ("factory", "args", "kwargs", "field"),
    [
        pytest.param(TextReply, (None,), {}, "content", id="text-none"),
        pytest.param(TextReply, (42,), {}, "content", id="text-int"),
        pytest.param(ImageReply, (b"id",), {}, "media_id", id="image-bytes"),
        pytest.param(VideoReply, ("m",), {"title": 1}, "title", id="video-title"),
        pytest.param(Article, (None,), {}, "title", id="article-title"),
        pytest.param(NewsReply, (("title",),), {}, "Article", id="news-not-article"),
    ],
)
def test_reply_refuses_values_that_are_not_text(
    factory: Callable[..., object], args: tuple[Any, ...], kwargs: dict[str, Any], field: str
) -> None:
    with pytest.raises(ReplyError, match=field):
        factory(*args, **kwargs)


def test_reply_is_frozen() -> None:
    reply = TextReply("x")
    with pytest.raises(FrozenInstanceError):
        reply.content = "y"  # type: ignore[misc]


def test_reply_optional_fields_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        VideoReply("m", "title")  # type: ignore[call-arg]


def test_article_is_not_a_reply() -> None:
    assert not isinstance(Article("x"), Reply)


def test_no_reply_is_a_singleton_and_not_rendered() -> None:
    assert isinstance(NO_REPLY, NoReply)
    assert NO_REPLY is NoReply.NO_REPLY
    assert not isinstance(NO_REPLY, Reply)
    assert repr(NO_REPLY) == "NO_REPLY"
    with pytest.raises(ReplyError, match="SUCCESS"):
        render(NO_REPLY, MESSAGE)  # type: ignore[arg-type]


def test_success_is_the_seven_byte_acknowledgement() -> None:
    assert SUCCESS == b"success"


# --- encrypted envelope --------------------------------------------------------------------------

TOKEN = "spamtest"
KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
APP_ID = "wx2c2769f8efd9abc2"


def test_render_envelope_shape() -> None:
    body = render_envelope(encrypt="ZW5j+/==", msg_signature="ab12", timestamp=NOW, nonce="n0")
    assert body == (
        b"<xml><Encrypt><![CDATA[ZW5j+/==]]></Encrypt>"
        b"<MsgSignature><![CDATA[ab12]]></MsgSignature>"
        b"<TimeStamp>1700000000</TimeStamp><Nonce><![CDATA[n0]]></Nonce></xml>"
    )


def test_render_envelope_refuses_milliseconds() -> None:
    with pytest.raises(ValueError, match="seconds"):
        render_envelope(encrypt="e", msg_signature="s", timestamp=NOW * 1000, nonce="n")


def test_render_envelope_keeps_a_hostile_nonce_as_data() -> None:
    nonce = "1]]><Encrypt>x</Encrypt>"
    tree = xmltodict.parse(
        render_envelope(encrypt="e", msg_signature="s", timestamp=1, nonce=nonce)
    )
    assert tree["xml"]["Nonce"] == nonce


def test_render_envelope_signature_verifies_and_opens() -> None:
    crypto = MessageCrypto([KEY], APP_ID)
    xml = render(TextReply("回复 ]]> 😀"), MESSAGE, create_time=NOW)
    encrypt = crypto.encrypt(xml)
    nonce = "1320562132"
    body = render_envelope(
        encrypt=encrypt,
        msg_signature=signature.sign(TOKEN, str(NOW), nonce, encrypt),
        timestamp=NOW,
        nonce=nonce,
    )
    fields = xmltodict.parse(body)["xml"]
    assert list(fields) == ["Encrypt", "MsgSignature", "TimeStamp", "Nonce"]
    signature.check(
        token=TOKEN,
        signature=fields["MsgSignature"],
        timestamp=fields["TimeStamp"],
        nonce=fields["Nonce"],
        encrypt=fields["Encrypt"],
    )
    assert crypto.decrypt(fields["Encrypt"]).plaintext == xml


def test_render_own_envelope_is_render_envelope_for_the_values_the_endpoint_makes() -> None:
    crypto = MessageCrypto([KEY], APP_ID)
    for size in (0, 1, 100, 2000):
        encrypt = crypto.encrypt(b"x" * size)
        signed = signature.sign("token", str(NOW), "4294967295", encrypt)
        assert render_own_envelope(encrypt, signed, NOW, 4294967295) == render_envelope(
            encrypt=encrypt, msg_signature=signed, timestamp=NOW, nonce="4294967295"
        )
