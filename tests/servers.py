"""Real processes on 127.0.0.1 for tests that cross a process boundary."""

from __future__ import annotations

import os
import shlex
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


def procfile() -> dict[str, list[str]]:
    """The Procfile's processes: name -> command line, as a platform would run them."""
    lines = (ROOT / "Procfile").read_text("utf-8").splitlines()
    entries = [line.split(":", 1) for line in lines if line.strip() and not line.startswith("#")]
    return {name.strip(): shlex.split(command) for name, command in entries}


def installed(command: list[str]) -> list[str]:
    """``command`` with its program taken from this test run's virtualenv."""
    return [str(BIN / command[0]), *command[1:]]


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
            detail = err.decode()[-2000:] if err else "(output in its log file)"
            raise RuntimeError(f"process exited with {process.returncode}: {detail}")
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
    # The file its output goes to, when it is not captured.
    log: Path | None = None


def clean_env(env: Mapping[str, str]) -> dict[str, str]:
    """The test process's environment without its WX_* settings, plus ``env``."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("WX", "PROMETHEUS"))},
        "PYTHONPATH": str(ROOT),
        **env,
    }


@contextmanager
def job_worker(
    env: Mapping[str, str], log_path: Path | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """Start ``wxserver worker`` (the Procfile's worker) with ``env``, ready to take jobs.

    Its output goes to ``log_path`` when given, else to a temporary file.
    """
    with tempfile.NamedTemporaryFile(prefix="wxserver-worker-", suffix=".log") as scratch:
        log = open(log_path, "wb") if log_path is not None else scratch  # noqa: SIM115
        process = subprocess.Popen(
            installed(procfile()["worker"]),
            cwd=ROOT,
            env=clean_env(env),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 30
            while b"Huey consumer started" not in Path(log.name).read_bytes():
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"the job worker did not start: {Path(log.name).read_text()}"
                    )
                time.sleep(0.05)
            yield process
        finally:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            if log is not scratch:
                log.close()


@contextmanager
def gunicorn(
    env: Mapping[str, str], *, workers: int = 2, capture: bool = True, port: int | None = None
) -> Iterator[Server]:
    """Start the Procfile's web command: gunicorn with the settings shipped in the package.

    With ``capture`` the output is readable from ``process.stdout``/``stderr``; without, it goes
    to a file, so a test sending many requests never fills a pipe nobody reads. ``port``: one the
    test chose (to tell another server where this one will listen); a free one by default.
    """
    port = port or free_port()
    scratch = tempfile.mkdtemp(prefix="wxserver-gunicorn-")
    full_env = clean_env(
        {
            # The embedded store every worker shares, in a folder of this server's own.
            "WX_STORE_URL": f"lmdb:///{scratch}/store.lmdb",
            **env,
            "WX_BIND": f"127.0.0.1:{port}",
            "WEB_CONCURRENCY": str(workers),
        }
    )
    output = open(f"{scratch}/gunicorn.log", "wb")  # noqa: SIM115 - closed in finally
    process = subprocess.Popen(
        installed(procfile()["web"]),
        cwd=ROOT,
        env=full_env,
        stdout=subprocess.PIPE if capture else output,
        stderr=subprocess.PIPE if capture else subprocess.STDOUT,
    )
    try:
        wait_for_port(port, process)
        yield Server(f"http://127.0.0.1:{port}", process, None if capture else Path(output.name))
    finally:
        process.terminate()
        try:
            process.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
        output.close()
        shutil.rmtree(scratch, ignore_errors=True)
