"""Callback bodies for the parsing tests: the fixture files, and bodies and fields made by hand."""

from __future__ import annotations

from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent.parent / "data" / "messages"
FIXTURE_FILES = sorted(FIXTURES.glob("*.xml"))
OA = "gh_10f6c3c3ac5a"
USER = "oyORnuP8q7ou2gfYjqLzSIWZf0rs"


def event_body(event: str, extra: str = "") -> bytes:
    return (
        f"<xml><ToUserName>{OA}</ToUserName><FromUserName>{USER}</FromUserName>"
        f"<CreateTime>1700000000</CreateTime><MsgType>event</MsgType>"
        f"<Event><![CDATA[{event}]]></Event>{extra}</xml>"
    ).encode()


def text_body(content: str) -> bytes:
    return (
        f"<xml><ToUserName>{OA}</ToUserName><FromUserName>{USER}</FromUserName>"
        f"<CreateTime>1</CreateTime><MsgType>text</MsgType><Content>{content}</Content>"
        f"<MsgId>1</MsgId></xml>"
    ).encode()


def text_fields(**extra: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "ToUserName": OA,
        "FromUserName": USER,
        "CreateTime": "1700000000",
        "MsgType": "text",
        "Content": "hi",
        "MsgId": "42",
    }
    fields.update(extra)
    return {name: value for name, value in fields.items() if value is not None}
