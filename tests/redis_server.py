"""A real redis-server on 127.0.0.1 for the tests: free port, no persistence, its own directory."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.servers import free_port

MISSING = (
    "redis-server is not installed, and the Redis store tests need a real one. "
    "Install it with `apt-get install redis-server` (Debian/Ubuntu) or `brew install redis`."
)


@dataclass(frozen=True)
class RedisServer:
    """A running redis-server and its URL."""

    url: str
    port: int
    process: subprocess.Popen[bytes]


def ping(port: int) -> bool:
    """Whether a Redis server on ``port`` answers PING (an inline command: no client needed)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def start_redis(
    port: int, directory: str, *extra: str, timeout: float = 10.0
) -> subprocess.Popen[bytes]:
    """Start redis-server on ``port`` with its files in ``directory``; return once it answers."""
    executable = shutil.which("redis-server")
    if executable is None:
        raise RuntimeError(MISSING)
    log = Path(directory) / f"redis-{port}.log"
    process = subprocess.Popen(
        [
            executable,
            *("--bind", "127.0.0.1", "--port", str(port)),
            *("--save", "", "--appendonly", "no", "--dir", directory),
            *("--daemonize", "no", "--loglevel", "warning", "--logfile", str(log)),
            *extra,
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_ping(port, process, log, timeout)
    except BaseException:
        stop_redis(process)
        raise
    return process


def start_sentinel(
    port: int, directory: str, master_port: int, *, service: str = "mymaster"
) -> subprocess.Popen[bytes]:
    """Start a Sentinel on ``port`` watching the primary on ``master_port``, quick to fail over.

    One sentinel with a quorum of one: it declares the primary down after 1 s without an answer.
    """
    executable = shutil.which("redis-server")
    if executable is None:
        raise RuntimeError(MISSING)
    config = Path(directory) / f"sentinel-{port}.conf"
    config.write_text(
        f"port {port}\nbind 127.0.0.1\ndir {directory}\n"
        f"sentinel monitor {service} 127.0.0.1 {master_port} 1\n"
        f"sentinel down-after-milliseconds {service} 1000\n"
        f"sentinel failover-timeout {service} 3000\n"
        f"sentinel parallel-syncs {service} 1\n"
    )
    log = Path(directory) / f"sentinel-{port}.log"
    process = subprocess.Popen(
        [executable, str(config), "--sentinel", "--logfile", str(log)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_ping(port, process, log, 10.0)
    except BaseException:
        stop_redis(process)
        raise
    return process


def stop_redis(process: subprocess.Popen[bytes]) -> None:
    """Stop a redis-server started here, and wait for it."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def redis_server(timeout: float = 10.0) -> Iterator[RedisServer]:
    """Start redis-server, wait until it answers PING, and stop it on exit."""
    if shutil.which("redis-server") is None:
        raise RuntimeError(MISSING)
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="wxserver-redis-") as directory:
        process = start_redis(port, directory, timeout=timeout)
        try:
            yield RedisServer(f"redis://127.0.0.1:{port}/0", port, process)
        finally:
            stop_redis(process)


def _wait_for_ping(port: int, process: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = log.read_text(errors="replace") if log.exists() else ""
            raise RuntimeError(f"redis-server exited with {process.returncode}: {output[-2000:]}")
        if ping(port):
            return
        time.sleep(0.02)
    raise RuntimeError(f"redis-server did not answer PING on port {port} within {timeout} s")
