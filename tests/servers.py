"""Real processes on 127.0.0.1 for tests that cross a process boundary."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def free_port() -> int:
    """A port that was free a moment ago on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    """Wait until ``port`` accepts connections, or fail with the process's output."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            _, err = process.communicate()
            raise RuntimeError(f"process exited with {process.returncode}: {err.decode()[-2000:]}")
        with socket.socket() as sock:
            sock.settimeout(0.2)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"nothing listened on port {port} within {timeout} s")


@dataclass(frozen=True)
class Server:
    """A running server and how to reach it."""

    url: str
    process: subprocess.Popen[bytes]


@contextmanager
def gunicorn(env: Mapping[str, str], *, workers: int = 2) -> Iterator[Server]:
    """Start ``gunicorn -c config/gunicorn.conf.py wsgi:app`` (the Procfile's command)."""
    port = free_port()
    scratch = tempfile.mkdtemp(prefix="wxserver-gunicorn-")
    full_env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("WX")},
        # The embedded store every worker shares, in a folder of this server's own.
        "WX_STORE_URL": f"sqlite:///{scratch}/store.db",
        **env,
        "WX_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": str(workers),
    }
    process = subprocess.Popen(
        [str(BIN / "gunicorn"), "-c", "config/gunicorn.conf.py", "wsgi:app"],
        cwd=ROOT,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for_port(port, process)
        yield Server(f"http://127.0.0.1:{port}", process)
    finally:
        process.terminate()
        try:
            process.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
        shutil.rmtree(scratch, ignore_errors=True)
