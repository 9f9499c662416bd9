"""``make run``: the README's first command serves, and stopping make stops all it started."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.servers import BIN, ROOT, clean_env, free_port, wait_for_port

VENV = BIN.parent


def _start_time(pid: int) -> str | None:
    """The process's start time (field 22 of /proc/<pid>/stat), None once it is gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rpartition(")")[2].split()
    return None if fields[0] == "Z" else fields[19]


def _descendants(root: int) -> dict[int, str]:
    """Every live process below ``root``, with its start time (so a reused pid is told apart)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rpartition(")")[2].split()[1])
    found: dict[int, str] = {}
    frontier = [root]
    while frontier:
        parent = frontier.pop()
        for pid, ppid in parents.items():
            if ppid == parent and (started := _start_time(pid)) is not None:
                found[pid] = started
                frontier.append(pid)
    return found


def _wait_for_worker(log: Path, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while b"Huey consumer started" not in log.read_bytes():
        assert process.poll() is None, log.read_text()
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.1)


STOPS: dict[str, Callable[[int], None]] = {
    "sigterm-to-make": lambda pid: os.kill(pid, signal.SIGTERM),
    # What Ctrl-C in the terminal does: SIGINT to the foreground process group.
    "ctrl-c": lambda pid: os.killpg(pid, signal.SIGINT),
}


@pytest.mark.parametrize("stop", list(STOPS))
def test_make_run_stop_leaves_no_process_behind(stop: str, tmp_path: Path) -> None:
    port = free_port()
    env = clean_env(
        {
            # Over config/development.toml's 127.0.0.1:8000, which another run may hold.
            "WX_BIND": f"127.0.0.1:{port}",
            "WX_STORE_URL": f"lmdb:///{tmp_path}/store.lmdb",
            "WEB_CONCURRENCY": "2",
            "TMPDIR": str(tmp_path),
        }
    )
    log = tmp_path / "make.log"
    with log.open("wb") as sink:
        # Its own process group, as a terminal gives it; the virtualenv is this test run's.
        make = subprocess.Popen(
            ["make", "--no-print-directory", "-o", f"{VENV}/.installed", f"VENV={VENV}", "run"],
            cwd=ROOT,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for_port(port, make, timeout=30)
        _wait_for_worker(log, make)
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10).status_code == 200
        # The recipe's shell, the job worker, gunicorn's master and its two workers (which the
        # master forks once it listens).
        deadline = time.monotonic() + 30
        while len(started := _descendants(make.pid)) < 5:
            assert time.monotonic() < deadline, started
            time.sleep(0.1)
        STOPS[stop](make.pid)
        make.wait(timeout=30)
        left = {pid for pid, when in started.items() if _start_time(pid) == when}
        assert left == set(), log.read_text()
    finally:
        # Whatever a failure left: the run's process group, make's own session.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(make.pid, signal.SIGKILL)
        make.wait()
