"""Replies as WeChat shows them: one "bubble" per message, for the page to draw.

A bubble is a small JSON object with a ``kind`` (text, image, voice, video, music, news, mpnews,
msgmenu, wxcard, miniprogram, template, transfer, none, error, other) and the fields that kind
shows. Passive replies arrive as the fields of their XML, customer-service messages as the JSON of
``/cgi-bin/message/custom/send``; both end up in the same shapes, so the page draws them alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Bubble = dict[str, Any]


def _s(value: Any) -> str:
    return value if isinstance(value, str) else "" if value is None else str(value)


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value] if value is not None else []


def from_reply(fields: Mapping[str, Any]) -> Bubble:
    """The bubble of a passive reply, from the fields of its (decrypted) XML."""
    msg_type = _s(fields.get("MsgType"))
    if msg_type == "text":
        return {"kind": "text", "text": _s(fields.get("Content"))}
    if msg_type in ("image", "voice"):
        return {"kind": msg_type, "media_id": _s(_map(fields.get(msg_type.title())).get("MediaId"))}
    if msg_type == "video":
        video = _map(fields.get("Video"))
        return {
            "kind": "video",
            "media_id": _s(video.get("MediaId")),
            "title": _s(video.get("Title")),
            "description": _s(video.get("Description")),
        }
    if msg_type == "music":
        music = _map(fields.get("Music"))
        return {
            "kind": "music",
            "title": _s(music.get("Title")),
            "description": _s(music.get("Description")),
            "url": _s(music.get("MusicUrl")),
            "hq_url": _s(music.get("HQMusicUrl")),
        }
    if msg_type == "news":
        items = _list(_map(fields.get("Articles")).get("item"))
        return {
            "kind": "news",
            "articles": [
                {
                    "title": _s(item.get("Title")),
                    "description": _s(item.get("Description")),
                    "url": _s(item.get("Url")),
                    "pic_url": _s(item.get("PicUrl")),
                }
                for item in map(_map, items)
            ],
        }
    if msg_type == "transfer_customer_service":
        return {"kind": "transfer", "account": _s(_map(fields.get("TransInfo")).get("KfAccount"))}
    return {"kind": "other", "msg_type": msg_type}


def from_custom(body: Mapping[str, Any]) -> Bubble:
    """The bubble of a customer-service message, from the JSON the server sent."""
    msg_type = _s(body.get("msgtype"))
    part = _map(body.get(msg_type))
    if msg_type == "text":
        return {"kind": "text", "text": _s(part.get("content"))}
    if msg_type in ("image", "voice", "mpnews"):
        return {"kind": msg_type, "media_id": _s(part.get("media_id"))}
    if msg_type == "video":
        return {
            "kind": "video",
            "media_id": _s(part.get("media_id")),
            "title": _s(part.get("title")),
            "description": _s(part.get("description")),
        }
    if msg_type == "music":
        return {
            "kind": "music",
            "title": _s(part.get("title")),
            "description": _s(part.get("description")),
            "url": _s(part.get("musicurl")),
            "hq_url": _s(part.get("hqmusicurl")),
        }
    if msg_type == "news":
        articles = [_map(a) for a in _list(part.get("articles"))]
        return {
            "kind": "news",
            "articles": [
                {
                    "title": _s(a.get("title")),
                    "description": _s(a.get("description")),
                    "url": _s(a.get("url")),
                    "pic_url": _s(a.get("picurl")),
                }
                for a in articles
            ],
        }
    if msg_type == "msgmenu":
        options = [_map(o) for o in _list(part.get("list"))]
        return {
            "kind": "msgmenu",
            "head": _s(part.get("head_content")),
            "options": [{"id": _s(o.get("id")), "content": _s(o.get("content"))} for o in options],
            "tail": _s(part.get("tail_content")),
        }
    if msg_type == "miniprogrampage":
        return {
            "kind": "miniprogram",
            "title": _s(part.get("title")),
            "appid": _s(part.get("appid")),
            "pagepath": _s(part.get("pagepath")),
        }
    if msg_type in ("wxcard", "mpnewsarticle"):
        return {"kind": msg_type, "media_id": _s(part.get("card_id") or part.get("article_id"))}
    return {"kind": "other", "msg_type": msg_type}


def from_template(body: Mapping[str, Any]) -> Bubble:
    """The bubble of a template message: its fields in order, and its link."""
    data = _map(body.get("data"))
    return {
        "kind": "template",
        "template_id": _s(body.get("template_id")),
        "url": _s(body.get("url")),
        "fields": [
            {"name": _s(name), "value": _s(_map(value).get("value"))}
            for name, value in data.items()
        ],
    }


def custom_problem(body: Mapping[str, Any]) -> str | None:
    """Why WeChat would refuse this customer-service message (errcode 40008), or None."""
    msg_type = body.get("msgtype")
    if not body.get("touser") or not isinstance(msg_type, str):
        return "touser and msgtype are required"
    if not isinstance(body.get(msg_type), Mapping):
        return f"the message has no {msg_type!r} object"
    if msg_type == "news" and len(_list(_map(body[msg_type]).get("articles"))) != 1:
        return "a news message carries exactly one article"
    return None
