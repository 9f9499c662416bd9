"""The echo handlers' account, and ``wxserver`` run as a subprocess with its settings."""

from __future__ import annotations

import os
import subprocess

from tests.servers import BIN, ROOT
from tests.support import AES_KEY, APP_ID, TOKEN

ENV = {
    "WX_ENV": "test",
    "WX_TOKEN": TOKEN,
    "WX_APPID": APP_ID,
    "WX_ENCODING_AES_KEY": AES_KEY,
    "WX_MODE": "compat",
    "WX_PLUGINS": "wxserver.builtin.echo:handlers",
    "WX_LOAD_ENTRY_POINTS": "false",
    "WX_MAX_BODY_SIZE": "4096",
}


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**{k: v for k, v in os.environ.items() if not k.startswith("WX")}, **(env or ENV)}
    return subprocess.run(
        [str(BIN / "wxserver"), *args],
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
