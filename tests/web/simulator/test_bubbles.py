"""Passive replies, as the server renders them, drawn as WeChat draws them."""

from __future__ import annotations

from typing import Any

import pytest

from wxserver.protocol.parsing import parse_message, parse_xml
from wxserver.protocol.replies import (
    Article,
    ImageReply,
    MusicReply,
    NewsReply,
    Reply,
    TextReply,
    TransferCustomerServiceReply,
    VideoReply,
    VoiceReply,
    render,
)
from wxserver.protocol.simulate import build_message
from wxserver.web.simulator.bubbles import custom_problem, from_custom, from_reply

MESSAGE = parse_message(build_message("text", Content="hi"))


@pytest.mark.parametrize(
    ("reply", "bubble"),
    [
        (
            TextReply("a <a href='https://e.com/'>link</a>"),
            {"kind": "text", "text": "a <a href='https://e.com/'>link</a>"},
        ),
        (ImageReply(media_id="img"), {"kind": "image", "media_id": "img"}),
        (VoiceReply(media_id="voc"), {"kind": "voice", "media_id": "voc"}),
        (
            VideoReply(media_id="vid", title="T", description="D"),
            {"kind": "video", "media_id": "vid", "title": "T", "description": "D"},
        ),
        (
            MusicReply(
                title="S",
                description="D",
                music_url="http://m",
                hq_music_url="http://h",
                thumb_media_id="t",
            ),
            {
                "kind": "music",
                "title": "S",
                "description": "D",
                "url": "http://m",
                "hq_url": "http://h",
            },
        ),
        (
            NewsReply(
                articles=(
                    Article(title="N", description="D", pic_url="https://p", url="https://u"),
                )
            ),
            {
                "kind": "news",
                "articles": [
                    {"title": "N", "description": "D", "url": "https://u", "pic_url": "https://p"}
                ],
            },
        ),
        (
            TransferCustomerServiceReply(kf_account="kf@acc"),
            {"kind": "transfer", "account": "kf@acc"},
        ),
        (TransferCustomerServiceReply(), {"kind": "transfer", "account": ""}),
    ],
    ids=["text", "image", "voice", "video", "music", "news", "transfer-to-agent", "transfer"],
)
def test_bubble_of_each_passive_reply(reply: Reply, bubble: dict[str, Any]) -> None:
    assert from_reply(parse_xml(render(reply, MESSAGE, create_time=1))) == bubble


def test_bubble_of_an_unknown_reply_names_its_type() -> None:
    assert from_reply({"MsgType": "hologram"}) == {"kind": "other", "msg_type": "hologram"}
    assert from_custom({"msgtype": "hologram"}) == {"kind": "other", "msg_type": "hologram"}


def test_bubble_of_a_customer_service_card() -> None:
    assert from_custom({"msgtype": "wxcard", "wxcard": {"card_id": "c1"}}) == {
        "kind": "wxcard",
        "media_id": "c1",
    }


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"touser": "o", "msgtype": "text", "text": {"content": "x"}}, None),
        ({"msgtype": "text", "text": {"content": "x"}}, "touser and msgtype are required"),
        ({"touser": "o", "msgtype": "text"}, "the message has no 'text' object"),
        (
            {"touser": "o", "msgtype": "news", "news": {"articles": []}},
            "a news message carries exactly one article",
        ),
    ],
    ids=["valid", "no-touser", "no-body", "no-article"],
)
def test_bubble_custom_problem(body: dict[str, Any], problem: str | None) -> None:
    assert custom_problem(body) == problem
