"""The AES envelope's official known-answer vectors, and helpers that seal and open raw buffers."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from wxserver.protocol.crypto import AesKey

VECTORS = Path(__file__).parent.parent / "data" / "vectors"


def vector(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((VECTORS / f"official__{name}.json").read_text("utf-8"))
    return data


MP_SAMPLE = vector("mp_official_sample_decrypt")
FIXED = vector("mp_encrypt_fixed_random")
WECOM_QDG6EK = vector("wecom_official_sample_qdg6ek")
WECOM_PYTHON = vector("wecom_official_sample_python")
WECOM = [pytest.param(WECOM_QDG6EK, id="qdg6ek"), pytest.param(WECOM_PYTHON, id="python")]

KEY = MP_SAMPLE["encoding_aes_key"]
PREVIOUS_KEY = WECOM_QDG6EK["encoding_aes_key"]
OTHER_KEY = WECOM_PYTHON["encoding_aes_key"]
APP_ID = MP_SAMPLE["appid"]


def seal_raw(buffer: bytes, key: str = KEY) -> str:
    """Encrypt a hand-made plaintext buffer (whole blocks) exactly as it is, padding and all."""
    return base64.b64encode(AesKey.from_encoding_aes_key(key).cbc_encrypt(buffer)).decode()


def open_raw(encrypt: str, key: str = KEY) -> bytes:
    """Decrypt without any check, to look at prefix, length and padding."""
    return AesKey.from_encoding_aes_key(key).cbc_decrypt(base64.b64decode(encrypt))


def frame(
    message: bytes, receive_id: bytes = APP_ID.encode(), *, length: int | None = None
) -> bytes:
    """The plaintext layout without padding: prefix, declared length, message, receive id."""
    declared = len(message) if length is None else length
    return b"0123456789abcdef" + declared.to_bytes(4, "big") + message + receive_id
