"""What the mini-program fixture files in tests/data/messages must parse to."""

from __future__ import annotations

from typing import Any

from wxserver.protocol.events import UserEnterTempsessionEvent
from wxserver.protocol.messages import Message, MiniprogramPageMessage

MINIPROGRAM_EXPECTED: dict[str, tuple[type[Message], dict[str, Any]]] = {
    "miniprogrampage.xml": (
        MiniprogramPageMessage,
        {
            "to_user_name": "gh_3ac2cd0a6e5d",
            "msg_id": 24265148013386300,
            "title": "Order 1042",
            "app_id": "wx6b7a5f2c1e3d4c8a",
            "page_path": "pages/order/detail?id=1042",
            "thumb_url": "http://mmbiz.qpic.cn/mmbiz_jpg/thumb/0",
            "thumb_media_id": "qcu0X7VNyxUTPMMGvIgKoJw8GtPXL2RVpvVbD2rRxjPY5zb6kw84LdMhg5qRJbrd",
        },
    ),
    "event_user_enter_tempsession.xml": (
        UserEnterTempsessionEvent,
        {"event": "user_enter_tempsession", "session_from": "order-1042", "event_key": None},
    ),
}
