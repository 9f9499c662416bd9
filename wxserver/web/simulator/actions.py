"""What the user does on the page, as the message or event WeChat pushes for it.

The page posts a small JSON object (``{"type": "text", "content": "hello"}``, ``{"type":
"event", "event": "CLICK", "key": "MENU_TODAY"}`` ...); :func:`read_action` checks it and builds
the XML with the same builders as ``wxserver simulate`` and the test client, with the fields
WeChat sends for that message or event.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from wxserver.protocol.errors import WxServerError
from wxserver.protocol.simulate import build_event, build_message

TEXT_LIMIT = 2048
FIELD_LIMIT = 1024
SAMPLE_PICTURE = "http://mmbiz.qpic.cn/wxserver-simulated.jpg"

# Events whose key is a menu button's key, and the extra fields WeChat adds to them.
MENU_EVENTS = frozenset(
    {
        "CLICK",
        "VIEW",
        "view_miniprogram",
        "scancode_push",
        "scancode_waitmsg",
        "pic_sysphoto",
        "pic_photo_or_album",
        "pic_weixin",
        "location_select",
    }
)
USER_EVENTS = frozenset({"subscribe", "unsubscribe", "SCAN", "LOCATION"})


class ActionError(WxServerError):
    """The page sent an action the simulator cannot turn into a WeChat message."""


@dataclass(frozen=True, slots=True)
class Action:
    """A message or event ready to sign, and how the conversation shows the user's side."""

    xml: bytes
    bubble: dict[str, Any]
    msg_type: str
    msg_id: str
    event: str
    event_key: str


def _text(data: Mapping[str, Any], name: str, *, limit: int = FIELD_LIMIT) -> str:
    value = data.get(name, "")
    if not isinstance(value, str):
        raise ActionError(f"'{name}' must be text")
    value = value.strip()
    if len(value) > limit:
        raise ActionError(f"'{name}' is longer than {limit} characters")
    return value


def _number(data: Mapping[str, Any], name: str, default: float, low: float, high: float) -> float:
    value = data.get(name, default)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ActionError(f"'{name}' must be a number") from None
    if not low <= number <= high:
        raise ActionError(f"'{name}' must be from {low} to {high}")
    return number


def read_action(data: Any, openid: str, to_user: str) -> Action:
    """The Action the page's JSON ``data`` asks for, sent by ``openid`` to ``to_user``."""
    if not isinstance(data, Mapping):
        raise ActionError("the action must be a JSON object")
    kind = data.get("type")
    head: dict[str, Any] = {"from_user": openid, "to_user": to_user}
    if kind == "text":
        content = _text(data, "content", limit=TEXT_LIMIT)
        if not content:
            raise ActionError("the message is empty")
        extra = {"bizmsgmenuid": _text(data, "bizmsgmenuid")} if data.get("bizmsgmenuid") else {}
        return _message("text", head, {"Content": content, **extra}, content)
    if kind in ("image", "voice"):
        media_id = _text(data, "media_id") or f"simulated_{kind}_media_id"
        fields = (
            {"PicUrl": SAMPLE_PICTURE, "MediaId": media_id}
            if kind == "image"
            else {"MediaId": media_id, "Format": "amr"}
        )
        return _message(kind, head, fields, media_id)
    if kind == "event":
        return _event(data, head)
    raise ActionError(f"unknown action type {kind!r}: use text, image, voice or event")


def _message(kind: str, head: dict[str, Any], fields: dict[str, Any], text: str) -> Action:
    # Chosen here, so that the server's log line for this message can be found by it.
    msg_id = secrets.randbits(63)
    xml = build_message(kind, **head, **fields, MsgId=msg_id)
    bubble = {"kind": kind, "text": text} if kind == "text" else {"kind": kind, "media_id": text}
    return Action(xml, bubble, kind, str(msg_id), "-", "-")


def _event(data: Mapping[str, Any], head: dict[str, Any]) -> Action:
    event = _text(data, "event")
    if event not in MENU_EVENTS | USER_EVENTS:
        raise ActionError(f"unknown event {event!r}")
    label = _text(data, "label", limit=60)
    key = _text(data, "key")
    fields: dict[str, Any] = {}
    if event in ("subscribe", "SCAN"):
        scene = _text(data, "scene", limit=64)
        if event == "SCAN" and not scene:
            raise ActionError("a SCAN event needs the QR code's scene")
        if scene:
            # A follow through a parametric QR code carries the scene with the qrscene_ prefix.
            key = f"qrscene_{scene}" if event == "subscribe" else scene
            fields["Ticket"] = "gQ" + hashlib.sha256(scene.encode()).hexdigest()[:40]
    elif event == "LOCATION":
        fields["Latitude"] = _number(data, "latitude", 23.137466, -90, 90)
        fields["Longitude"] = _number(data, "longitude", 113.352425, -180, 180)
        fields["Precision"] = 119.385040
    elif event in MENU_EVENTS:
        if not key:
            raise ActionError(f"a {event} event needs the button's key")
        fields.update(_menu_fields(event, key))
    xml = build_event(event, key or None, **head, **fields)
    summary = " ".join(part for part in (event, key) if part)
    shown = f"{label} ({summary})" if label and label.lower() != summary.lower() else summary
    bubble = {"kind": "event", "text": shown}
    if event == "VIEW":
        bubble["url"] = key  # WeChat opens the page; the page shows the link
    return Action(xml, bubble, "event", "-", event, key or "-")


def _menu_fields(event: str, key: str) -> dict[str, Any]:
    if event.startswith("scancode_"):
        return {"ScanCodeInfo": {"ScanType": "qrcode", "ScanResult": "https://example.com/qr"}}
    if event.startswith("pic_"):
        md5 = secrets.token_hex(16)
        return {"SendPicsInfo": {"Count": 1, "PicList": {"item": {"PicMd5Sum": md5}}}}
    if event == "location_select":
        place = {"Location_X": 23.134521, "Location_Y": 113.358803, "Scale": 15}
        return {"SendLocationInfo": {**place, "Label": "Guangzhou", "Poiname": ""}}
    return {}
