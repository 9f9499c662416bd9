"""What the diagnostics' CLI tests share: an account of the fake WeChat API, one-line errors."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

from tests.fakewechat import APP_ID, APP_SECRET, FakeWeChat
from tests.servers import ROOT
from tests.support import TOKEN

WHITELISTED_IP = "203.0.113.7"
STABLE_TOKEN = "/cgi-bin/stable_token"
UNSET = "<unset>"  # as an environment override: leave the variable out

Cli = Callable[..., subprocess.CompletedProcess[str]]


def base_env(fake: FakeWeChat, tmp_path: Path) -> dict[str, str]:
    """An account of the fake, the echo handlers, a store of the test's own; no config file."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("WX")}
    python_path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return {
        **inherited,
        "PYTHONPATH": python_path,
        "WX_ENV": "test",
        "WX_TOKEN": TOKEN,
        "WX_APPID": APP_ID,
        "WX_APPSECRET": APP_SECRET,
        "WX_MODE": "plain",
        "WX_PLUGINS": "wxserver.builtin.echo:handlers",
        "WX_LOAD_ENTRY_POINTS": "false",
        "WX_API_BASE_URL": fake.url,
        "WX_STORE_URL": f"sqlite:///{tmp_path}/store.db",
    }


def one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    """The single line a failed command wrote to stderr."""
    assert done.returncode == 1, done.stdout + done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    return lines[0]
