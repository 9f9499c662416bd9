"""The simulator's stack for the page tests: job worker, gunicorn and the simulator, for real.

The server runs on the development settings with the test handlers before the echo set, sends
its late replies to the simulator's WeChat API, and answers a slow message in time (1 s budget)
with a placeholder, its reply following as a customer-service message.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.servers import (
    BIN,
    ROOT,
    Server,
    clean_env,
    free_port,
    gunicorn,
    job_worker,
    wait_for_port,
)

PLACEHOLDER = "Working on it"
ENV = {
    "WX_ENV": "development",
    "WX_PLUGINS": "tests.simulator_handlers:handlers,wxserver.builtin.echo:handlers",
    "WX_LOAD_ENTRY_POINTS": "false",
    # Any AppSecret: the simulator's WeChat API takes the account's AppID with any secret.
    "WX_APPSECRET": "simulated-secret",
    "WX_CONTINUATION": "customer-service",
    "WX_REPLY_BUDGET": "1.0",
    "WX_PLACEHOLDER": PLACEHOLDER,
}


@dataclass(frozen=True)
class Stack:
    """The running stack: the page's URL, the server, and the simulator's output file."""

    url: str
    server: Server
    simulator: subprocess.Popen[bytes]
    simulator_log: Path


@contextmanager
def simulator(
    env: dict[str, str], url: str, port: int, server_log: Path | None, output: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """``wxserver simulate --web`` on ``port`` against ``url``, stopped with SIGTERM after."""
    command = [str(BIN / "wxserver"), "simulate", "--web", "--env", "development"]
    command += ["--port", str(port), "--url", url]
    if server_log is not None:
        command += ["--server-log", str(server_log)]
    with output.open("wb") as sink:
        process = subprocess.Popen(
            command, cwd=ROOT, env=clean_env(env), stdout=sink, stderr=subprocess.STDOUT
        )
        try:
            wait_for_port(port, process)
            yield process
        finally:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


@contextmanager
def simulator_stack(**extra: str) -> Iterator[Stack]:
    """Worker, gunicorn (one worker) and the simulator, wired together; stopped afterwards."""
    port = free_port()
    scratch = Path(tempfile.mkdtemp(prefix="wxserver-simulator-"))
    env = {
        **ENV,
        "WX_API_BASE_URL": f"http://127.0.0.1:{port}",
        "WX_STORE_URL": f"lmdb:///{scratch}/store.lmdb",
        **extra,
    }
    try:
        with (
            job_worker(env),
            gunicorn(env, workers=1, capture=False) as server,
            simulator(env, f"{server.url}/wechat", port, server.log, scratch / "sim.log") as sim,
        ):
            yield Stack(f"http://127.0.0.1:{port}/", server, sim, scratch / "sim.log")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
