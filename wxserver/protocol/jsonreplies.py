"""Passive replies in JSON, for the accounts whose 数据格式 is JSON (sans-IO).

The same reply values as :mod:`wxserver.protocol.replies`, with the XML's element names as keys:
``{"ToUserName", "FromUserName", "CreateTime", "MsgType", "Content"}`` for a text reply, an
object where the XML nests elements (``"Image": {"MediaId": ...}``) and an array of article
objects for ``Articles``. ``CreateTime`` and ``ArticleCount`` are numbers. The encrypted reply is
``{"Encrypt", "MsgSignature", "TimeStamp", "Nonce"}``.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

from wxserver.protocol.errors import ReplyError
from wxserver.protocol.replies import (
    Addressed,
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

# Far beyond any date in seconds, yet below the current time in milliseconds (as in replies).
_MAX_CREATE_TIME = 10**11
_SURROGATE = re.compile("[\ud800-\udfff]")


def _text(value: str) -> str:
    """``value`` as UTF-8 can carry it: halves of an emoji joined, lone halves dropped."""
    if value.isascii() or not _SURROGATE.search(value):
        return value
    return value.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "ignore")


def _present(**values: str | None) -> dict[str, str]:
    """The values that are set (an optional field left None is left out, as in XML)."""
    return {name: _text(value) for name, value in values.items() if value is not None}


def _article(article: Article) -> dict[str, str]:
    return _present(
        Title=article.title,
        Description=article.description,
        PicUrl=article.pic_url,
        Url=article.url,
    )


def reply_fields(reply: Reply) -> dict[str, Any]:
    """The fields of ``reply`` beside the header, as JSON values."""
    if isinstance(reply, TextReply):
        return {"Content": _text(reply.content)}
    if isinstance(reply, ImageReply):
        return {"Image": _present(MediaId=reply.media_id)}
    if isinstance(reply, VoiceReply):
        return {"Voice": _present(MediaId=reply.media_id)}
    if isinstance(reply, VideoReply):
        video = _present(MediaId=reply.media_id, Title=reply.title, Description=reply.description)
        return {"Video": video}
    if isinstance(reply, MusicReply):
        music = _present(
            Title=reply.title,
            Description=reply.description,
            MusicUrl=reply.music_url,
            HQMusicUrl=reply.hq_music_url,
            ThumbMediaId=reply.thumb_media_id,
        )
        return {"Music": music}
    if isinstance(reply, NewsReply):
        articles = [_article(article) for article in reply.articles]
        return {"ArticleCount": len(articles), "Articles": articles}
    if isinstance(reply, TransferCustomerServiceReply):
        if reply.kf_account is None:
            return {}
        return {"TransInfo": _present(KfAccount=reply.kf_account)}
    raise ReplyError(f"{type(reply).__name__} is not a reply type that can be rendered.")


def render_json(reply: Reply, message: Addressed, *, create_time: int | None = None) -> bytes:
    """Return the UTF-8 JSON body answering ``message`` with ``reply`` (see ``render``)."""
    if not isinstance(reply, Reply) or not reply.msg_type:
        raise ReplyError(
            f"{reply!r} cannot be rendered as a passive reply; NO_REPLY is answered with SUCCESS."
        )
    seconds = int(time.time()) if create_time is None else int(create_time)
    if not 0 <= seconds < _MAX_CREATE_TIME:
        raise ValueError(f"create_time must be in seconds since the epoch, not {create_time}.")
    document = {
        "ToUserName": _text(message.from_user_name),
        "FromUserName": _text(message.to_user_name),
        "CreateTime": seconds,
        "MsgType": reply.msg_type,
        **reply_fields(reply),
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def render_json_envelope(encrypt: str, msg_signature: str, timestamp: int, nonce: int) -> bytes:
    """The body of an encrypted JSON reply, from the values the server makes itself.

    ``encrypt`` is base64, ``msg_signature`` hex and ``timestamp`` and ``nonce`` numbers, so none
    needs escaping; ``Nonce`` is text, as the query's nonce is.
    """
    return (
        f'{{"Encrypt":"{encrypt}","MsgSignature":"{msg_signature}",'
        f'"TimeStamp":{int(timestamp)},"Nonce":"{int(nonce)}"}}'
    ).encode()


__all__ = ["render_json", "render_json_envelope", "reply_fields"]
