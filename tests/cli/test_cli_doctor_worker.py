"""``wxserver doctor`` on the job worker: missing when background work needs one, or mismatched."""

from __future__ import annotations

import time
from pathlib import Path

from tests.cli.commands import Cli
from wxserver import HandlerSet, TextMessage
from wxserver.services import heartbeat
from wxserver.services.store import open_store

slow = HandlerSet("slow")


@slow.text("later", background=True)
def later(message: TextMessage) -> str:
    return "done"


PLUGINS = f"{__name__}:slow,wxserver.builtin.echo:handlers"


def test_cli_doctor_names_a_missing_worker_with_its_fix(wx_here: Cli) -> None:
    done = wx_here("doctor", WX_PLUGINS=PLUGINS)
    assert done.returncode == 1
    assert "✗ job worker: no job worker is running (none has reported)" in done.stdout
    assert "fix: start `wxserver worker` (the Procfile's worker)" in done.stdout


def test_cli_doctor_names_a_worker_with_other_handler_sets(wx_here: Cli, tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    heartbeat.write(store, {"default": ["echo"]}, time.time())
    done = wx_here("doctor", WX_PLUGINS=PLUGINS)
    assert done.returncode == 1
    assert "account default: worker echo, this server slow, echo" in done.stdout
    assert "fix: start it with the same WX_PLUGINS as this server" in done.stdout


def test_cli_doctor_a_running_worker_with_the_same_handler_sets_passes(
    wx_here: Cli, tmp_path: Path
) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    heartbeat.write(store, {"default": ["slow", "echo"]}, time.time())
    done = wx_here("doctor", WX_PLUGINS=PLUGINS)
    assert "✓ job worker running with the same handler sets" in done.stdout
