"""A WeChat Pay notification, sans-IO: read the headers, verify them, open the body.

The order of the checks is the order of their cost and of what they need: the four
``Wechatpay-*`` headers present, the timestamp within 5 minutes of the clock, a key known for the
serial (looked up by the caller, which may fetch certificates), the signature over
``timestamp\\nnonce\\nbody\\n``; only then is the body read as JSON and its resource decrypted. A
forged request is refused before its body is parsed, and nothing it says reaches a handler.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from wxserver.protocol.pay.crypto import decrypt_resource, signed_message, verify
from wxserver.protocol.pay.errors import (
    PayBodyError,
    PaySignatureError,
    PayStaleError,
    UnknownSerialError,
)
from wxserver.protocol.pay.keys import PlatformKey
from wxserver.protocol.pay.notifications import PayNotification, notification_from

__all__ = [
    "ALGORITHM",
    "HEADERS",
    "TOLERANCE",
    "SignedHeaders",
    "fail_body",
    "open_notification",
    "read_headers",
    "verify_notification",
]

HEADERS = ("Wechatpay-Timestamp", "Wechatpay-Nonce", "Wechatpay-Signature", "Wechatpay-Serial")
ALGORITHM = "AEAD_AES_256_GCM"
# WeChat Pay's own window: a notification's timestamp within 5 minutes of the clock.
TOLERANCE = 300


@dataclass(frozen=True, slots=True)
class SignedHeaders:
    """The ``Wechatpay-*`` headers of a notification (or of an answer of the merchant API)."""

    timestamp: str
    nonce: str
    signature: str
    serial: str


def read_headers(get: Callable[[str], str | None]) -> SignedHeaders:
    """The four headers, read with ``get``; PaySignatureError when one is absent."""
    values = [(get(name) or "").strip() for name in HEADERS]
    missing = [name for name, value in zip(HEADERS, values, strict=True) if not value]
    if missing:
        raise PaySignatureError(
            f"the notification lacks {', '.join(missing)}: it is not from WeChat Pay, or a proxy "
            "in front of this server dropped the Wechatpay-* headers"
        )
    return SignedHeaders(*values)


def verify_notification(
    headers: SignedHeaders,
    body: bytes,
    now: float,
    find_key: Callable[[str], PlatformKey | None],
    *,
    tolerance: int = TOLERANCE,
) -> PlatformKey:
    """Check the timestamp and the signature; the key that verified it."""
    try:
        timestamp = int(headers.timestamp)
    except ValueError:
        raise PaySignatureError(
            f"Wechatpay-Timestamp {headers.timestamp[:20]!r} is not a number"
        ) from None
    if abs(now - timestamp) > tolerance:
        raise PayStaleError(
            f"Wechatpay-Timestamp {timestamp} is {now - timestamp:+.0f} s from this server's "
            f"clock, outside the {tolerance} s window (check the clock, e.g. with chrony)"
        )
    key = find_key(headers.serial)
    if key is None:
        raise UnknownSerialError(headers.serial)
    message = signed_message(headers.timestamp, headers.nonce, body)
    if not verify(key.key, message, headers.signature):
        raise PaySignatureError(
            f"the signature does not verify with the key of serial {headers.serial!r}"
        )
    return key


def open_notification(body: bytes, apiv3_key: bytes) -> PayNotification:
    """The typed notification of a verified ``body``: its resource decrypted with the APIv3 key."""
    try:
        envelope = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise PayBodyError("the body is not JSON") from None
    if not isinstance(envelope, dict):
        raise PayBodyError("the body is not a JSON object")
    resource = envelope.get("resource")
    if not isinstance(resource, dict):
        raise PayBodyError("the body has no resource object")
    algorithm = resource.get("algorithm")
    if algorithm != ALGORITHM:
        raise PayBodyError(f"the resource's algorithm is {algorithm!r}, not {ALGORITHM}")
    parts = [resource.get(name, "") for name in ("nonce", "associated_data", "ciphertext")]
    if not all(isinstance(part, str) for part in parts):
        raise PayBodyError("the resource's nonce, associated_data and ciphertext must be text")
    plaintext = decrypt_resource(apiv3_key, *parts)
    try:
        decrypted: Any = json.loads(plaintext)
    except (ValueError, UnicodeDecodeError):
        raise PayBodyError("the decrypted resource is not JSON") from None
    if not isinstance(decrypted, Mapping):
        raise PayBodyError("the decrypted resource is not a JSON object")
    return notification_from(envelope, decrypted)


def fail_body(message: str) -> bytes:
    """WeChat Pay's failure answer: ``{"code": "FAIL", "message": ...}``, as UTF-8 JSON."""
    return json.dumps({"code": "FAIL", "message": message}, ensure_ascii=False).encode("utf-8")
