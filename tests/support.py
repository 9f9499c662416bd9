"""Constants and helpers shared by the tests."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask

DATA = Path(__file__).parent / "data"

# Public test credentials (the official sample's EncodingAESKey); never a real account's.
TOKEN = "wxservertest"
APP_ID = "wx0000000000testapp"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
PREVIOUS_AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"

# An environment that names no config file, so only the defaults and the overrides apply.
HERMETIC_ENV = {"WX_ENV": "test"}

BASE_CONFIG: dict[str, Any] = {
    "store_url": "memory://",
    "plugins": ["wxserver.builtin.echo:handlers"],
    "load_entry_points": False,
    "accounts": {
        "default": {
            "path": "/wechat",
            "token": TOKEN,
            "app_id": APP_ID,
            "encoding_aes_key": AES_KEY,
            "mode": "compat",
        }
    },
}


def config_with(**account: Any) -> dict[str, Any]:
    """BASE_CONFIG with the default account's settings updated."""
    config = copy.deepcopy(BASE_CONFIG)
    config["accounts"]["default"].update(account)
    return config


def load_vector(name: str) -> dict[str, Any]:
    """One of the official known-answer vectors in tests/data/vectors."""
    data: dict[str, Any] = json.loads((DATA / "vectors" / f"{name}.json").read_text("utf-8"))
    return data


AppFactory = Callable[..., Flask]
