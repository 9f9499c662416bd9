"""The ``wx`` and ``wx_here`` fixtures: run ``wxserver`` against the fake WeChat API on 127.0.0.1.

``wx`` runs each command as a real subprocess, ``.venv/bin/wxserver ...``, with ``WX_API_BASE_URL``
pointing at the fake and ``WX_STORE_URL`` at a SQLite file of the test's own, so the token is
shared between runs exactly as between the server's workers. Further variations of a command run
in this process through click's CliRunner (``wx_here``), which skips a second of start-up each.
"""

from __future__ import annotations

import logging
import os
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.cli.commands import UNSET, Cli, base_env
from tests.fakewechat import APP_SECRET, FakeWeChat
from tests.servers import BIN
from wxserver.cli import main


@pytest.fixture
def wx(fake: FakeWeChat, tmp_path: Path) -> Cli:
    """Run ``wxserver *args`` in ``tmp_path``; keyword arguments override the environment."""

    def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
        full_env = base_env(fake, tmp_path) | env
        done = subprocess.run(
            [str(BIN / "wxserver"), *args],
            cwd=tmp_path,
            env={k: v for k, v in full_env.items() if v != UNSET},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        # Whatever happened, no secret and no traceback reaches the terminal.
        for stream in (done.stdout, done.stderr):
            assert "Traceback" not in stream
            assert APP_SECRET not in stream
        return done

    return run


@pytest.fixture
def wx_here(fake: FakeWeChat, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    """Like ``wx``, but in this process, through click's CliRunner."""
    for name in [k for k in os.environ if k.startswith("WX")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    # The commands quiet the "wxserver" logger with a handler; keep that out of other tests.
    monkeypatch.setattr(logging.getLogger("wxserver"), "handlers", [])

    def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
        full_env = {k: v for k, v in (base_env(fake, tmp_path) | env).items() if k.startswith("WX")}
        unset = [k for k, v in full_env.items() if v == UNSET]
        result = CliRunner(
            env={k: (None if k in unset else v) for k, v in full_env.items()}
        ).invoke(main, list(args))
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        for stream in (result.stdout, result.stderr):
            assert APP_SECRET not in stream
        return subprocess.CompletedProcess(
            list(args), result.exit_code, result.stdout, result.stderr
        )

    return run
