"""Drive a server with wrk and the record file; read back throughput and latency."""

from __future__ import annotations

import json
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.catalog import BENCH

SCRIPT = BENCH / "wrk" / "post.lua"


@dataclass(frozen=True, slots=True)
class LoadSettings:
    """wrk's settings, the same for every target of a run."""

    connections: int = 8
    threads: int = 1
    timeout_s: int = 5
    # Requests per connection before wrk has the server close it and opens another (0: never),
    # as nginx does with an upstream connection after its keepalive_requests.
    close_every: int = 0


@dataclass(frozen=True, slots=True)
class LoadResult:
    """What one wrk run measured."""

    requests: int
    duration_s: float
    req_per_s: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    errors: dict[str, int]
    offered: int  # distinct requests available; more requests than this repeated some

    @property
    def repeated(self) -> bool:
        """Whether the run sent more requests than the distinct ones it was given."""
        return self.requests > self.offered

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {**asdict(self), "repeated": self.repeated}


def run_wrk(
    port: int,
    *,
    corpus: Path,
    first: int,
    last: int,
    duration_s: float,
    settings: LoadSettings,
) -> LoadResult:
    """Run wrk for ``duration_s`` against 127.0.0.1:``port`` with records ``first..last-1``."""
    command = [
        "wrk",
        "--threads",
        str(settings.threads),
        "--connections",
        str(settings.connections),
        "--duration",
        f"{duration_s:g}s",
        "--timeout",
        f"{settings.timeout_s}s",
        "--script",
        str(SCRIPT),
        f"http://127.0.0.1:{port}",
        "--",
        str(corpus),
        str(first),
        str(last),
        str(settings.threads),
        str(settings.close_every),
    ]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=duration_s + 120, check=False
    )
    line = next((x for x in done.stdout.splitlines() if x.startswith("BENCH ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stdout[-2000:]}{done.stderr}")
    data = json.loads(line.removeprefix("BENCH "))
    seconds = data["duration_us"] / 1e6
    errors = {
        name: int(data[f"{name}_errors" if name != "timeouts" else name])
        for name in ("connect", "read", "write", "status", "timeouts")
    }
    return LoadResult(
        requests=data["requests"],
        duration_s=seconds,
        req_per_s=data["requests"] / seconds,
        p50_ms=data["p50_us"] / 1000,
        p90_ms=data["p90_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        max_ms=data["max_us"] / 1000,
        errors=errors,
        offered=last - first,
    )
