"""gunicorn processes on 127.0.0.1, every target started with the same settings."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.catalog import ROOT, WORK, Target

# Variables that would change how a target or gunicorn behaves if inherited from the caller.
_SCRUBBED_PREFIXES = ("WX", "GUNICORN_", "WEB_CONCURRENCY", "PYTHON", "VIRTUAL_ENV")


# gunicorn's settings as wxserver ships them (the Procfile's ``-c python:...``).
SHIPPED_CONFIG = "python:wxserver.web.gunicorn_conf"


@dataclass(frozen=True, slots=True)
class WorkerSettings:
    """The gunicorn settings shared by every target of a run.

    ``shipped``: wxserver runs with the settings it ships (only the workers and the bind
    overridden), and every other target under the same worker class and threads.
    """

    worker_class: str = "sync"
    workers: int = 2
    threads: int = 4  # gthread only
    shipped: bool = False

    @classmethod
    def as_shipped(cls, workers: int) -> WorkerSettings:
        """The shipped configuration's worker class and threads, read from its module."""
        from wxserver.web import gunicorn_conf  # noqa: PLC0415 - the project's own settings

        return cls(gunicorn_conf.worker_class, workers, gunicorn_conf.threads, shipped=True)

    def arguments(self) -> list[str]:
        """gunicorn's command-line options for these settings."""
        args = ["--workers", str(self.workers), "--worker-class", self.worker_class]
        if self.worker_class == "gthread":
            args += ["--threads", str(self.threads)]
        return args

    @property
    def label(self) -> str:
        """A short name such as ``sync x2`` or ``shipped: gthread x2 (64 threads)``."""
        text = f"{self.worker_class} x{self.workers}"
        text += f" ({self.threads} threads)" if self.worker_class == "gthread" else ""
        return f"shipped: {text}" if self.shipped else text


@dataclass(frozen=True, slots=True)
class Running:
    """A started gunicorn master."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path

    def workers(self) -> list[int]:
        """The pids of the master's worker processes."""
        return children(self.process.pid)

    def worker_memory_kib(self) -> dict[int, dict[str, int]]:
        """VmRSS and its parts (see :func:`memory_kib`) of each worker."""
        return {pid: memory_kib(pid) for pid in self.workers()}


def free_port() -> int:
    """A port that was free a moment ago on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def children(pid: int) -> list[int]:
    """The pids whose parent is ``pid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name is in parentheses and may contain spaces: split after the last ")".
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return sorted(found)


def memory_kib(pid: int) -> dict[str, int]:
    """VmRSS and its parts of ``pid`` in KiB: RssAnon (the process's own memory), RssFile
    (mapped files: code, and a memory-mapped store's pages) and RssShmem; {} when it is gone."""
    found: dict[str, int] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in ("VmRSS", "RssAnon", "RssFile", "RssShmem"):
                found[name] = int(value.split()[0])
    except OSError:
        pass
    return found


def environment(target: Target, mode: str) -> dict[str, str]:
    """The caller's environment without anything that configures a target, plus the target's."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUBBED_PREFIXES)}
    return {**base, **target.environment(mode), "PYTHONDONTWRITEBYTECODE": "1"}


def _wait_until_listening(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"gunicorn exited with {process.returncode}:\n{tail}")
        with socket.socket() as sock:
            sock.settimeout(0.2)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"gunicorn did not listen on 127.0.0.1:{port} within 30 s")


def _command(target: Target, config: Path, port: int, settings: WorkerSettings) -> list[str]:
    """The same gunicorn command line for every target: the settings, and nothing else."""
    return [
        str(target.gunicorn),
        "--config",
        str(config),
        "--bind",
        f"127.0.0.1:{port}",
        *settings.arguments(),
        "--preload",
        "--timeout",
        "30",
        "--graceful-timeout",
        "5",
        "--keep-alive",
        "2",
        "--backlog",
        "2048",
        "--log-level",
        "warning",
        target.spec,
    ]


@contextmanager
def serve(target: Target, mode: str, settings: WorkerSettings, tag: str) -> Iterator[Running]:
    """Run ``target`` under gunicorn on a free loopback port for the duration of the block."""
    WORK.mkdir(parents=True, exist_ok=True)
    config = WORK / "gunicorn.conf.py"
    # An explicit, empty config file: gunicorn would otherwise read ./gunicorn.conf.py if present.
    config.write_text("# Every setting is on the command line.\n")
    port = free_port()
    target.reset_state(mode)
    log = WORK / "logs" / f"{tag}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    if settings.shipped and target.project:
        # As the Procfile runs it: every setting from the shipped module but these two.
        command = [
            str(target.gunicorn),
            "-c",
            SHIPPED_CONFIG,
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(settings.workers),
            target.spec,
        ]
    else:
        command = _command(target, config, port, settings)
    with log.open("wb") as output:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=environment(target, mode),
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    running = Running(process, port, log)
    try:
        _wait_until_listening(port, process, log)
        yield running
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
