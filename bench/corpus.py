"""Signed requests as WeChat sends them, made once per run with wxserver's own test builders.

Every request is a text message with its own MsgId; in secure mode it is encrypted and carries
``msg_signature``. The same files drive every target.
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from bench import records
from bench.records import Record
from bench.targets import credentials
from wxserver.services.config import Account, load_settings
from wxserver.testing import build_message, sign_request

_CHUNK = 2000
# Far from any MsgId a real account would send, and distinct per record.
MSG_ID_BASE = 7_000_000_000_000_000_000


def account() -> Account:
    """The benchmark account, as wxserver reads it."""
    settings = load_settings(
        {"WX_ENV": "bench"},
        {
            "load_entry_points": False,
            "accounts": {
                "default": {
                    "path": credentials.PATH,
                    "token": credentials.TOKEN,
                    "app_id": credentials.APP_ID,
                    "encoding_aes_key": credentials.ENCODING_AES_KEY,
                    "mode": "compat",
                }
            },
        },
        config_dir=Path(os.devnull),
    )
    return settings.account("default")


def content_of(index: int) -> str:
    """The text of message ``index``: some CJK, so UTF-8 is exercised, and the index."""
    return f"你好 wxserver bench {index}"


def make(mode: str, start: int, stop: int) -> list[Record]:
    """Records ``start`` to ``stop`` (exclusive) signed for ``mode``."""
    acc = account()
    made = []
    for index in range(start, stop):
        text = content_of(index)
        xml = build_message(
            "text",
            to_user=credentials.TO_USER,
            from_user=credentials.FROM_USER,
            Content=text,
            MsgId=MSG_ID_BASE + index,
        )
        signed = sign_request(acc, xml, mode)
        made.append(Record(f"{credentials.PATH}?{signed.query_string}", signed.body, text))
    return made


def generate(path: Path, mode: str, count: int, *, jobs: int = 2) -> Path:
    """Write ``count`` signed requests for ``mode`` to ``path``, in parallel, in order."""
    path.parent.mkdir(parents=True, exist_ok=True)
    bounds = [(start, min(start + _CHUNK, count)) for start in range(0, count, _CHUNK)]
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        chunks = pool.map(make, [mode] * len(bounds), *zip(*bounds, strict=True))
        records.write(path, (record for chunk in chunks for record in chunk))
    return path
