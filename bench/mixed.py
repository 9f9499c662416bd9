"""A mixed load, as WeChat sends it: most messages fast, a share of them to a 6-second handler.

``python -m bench.mixed --rate 200 --duration 20`` offers messages at a steady rate (open loop,
as WeChat's users send them, not as fast as the server answers) to wxserver under its shipped
gunicorn settings, twice: with every message fast, then with ``--slow-share`` of them sent to a
handler that takes 6 s. WeChat's schedule is played for the slow ones: no answer within 5 s, and
the same message is sent again (three attempts in all). It reports, per run, the fast messages
answered per second and their latency (none should take over 1 s), and for the slow ones on which
attempt their reply came (a ``success`` is a reply lost to the customer-service fallback).
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

from bench.catalog import TARGETS
from bench.corpus import MSG_ID_BASE, account
from bench.records import Record
from bench.servers import WorkerSettings, serve
from bench.targets import credentials
from bench.wire import open_envelope
from wxserver.testing import build_message, sign_request

PLUGINS = "bench.targets.slow:handlers,bench.targets.echo:handlers"
WECHAT_TIMEOUT = 5.0
ATTEMPTS = 3


@dataclass
class Tally:
    """What one run measured."""

    fast_latency: list[float] = field(default_factory=list)
    fast_failed: int = 0
    # Per slow message: the attempt that got its reply (1-3), or 0 for none.
    slow_attempt: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _records(mode: str, count: int, slow_every: int, offset: int) -> list[Record]:
    acc = account()
    made = []
    for index in range(offset, offset + count):
        slow = slow_every and index % slow_every == 0
        text = f"slow {index}" if slow else f"fast {index}"
        xml = build_message(
            "text",
            to_user=credentials.TO_USER,
            from_user=credentials.FROM_USER,
            Content=text,
            MsgId=MSG_ID_BASE + index,
        )
        signed = sign_request(acc, xml, mode)
        made.append(Record(f"{credentials.PATH}?{signed.query_string}", signed.body, text))
    return made


def _post(port: int, record: Record, timeout: float) -> bytes | None:
    """The reply's body, or None when WeChat would have given up (no answer in time, an error)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("POST", record.target, body=record.body)
        response = connection.getresponse()
        body = response.read()
        return body if response.status == 200 else None
    except (TimeoutError, OSError):
        return None
    finally:
        connection.close()


def _content(body: bytes, mode: str) -> str:
    if body == b"success":
        return ""
    xml = open_envelope(body) if mode == "secure" else body
    start = xml.index(b"<Content><![CDATA[") + len(b"<Content><![CDATA[")
    return xml[start : xml.index(b"]]></Content>")].decode()


def _send(port: int, record: Record, mode: str, tally: Tally) -> None:
    started = time.monotonic()
    if not record.content.startswith("slow"):
        body = _post(port, record, WECHAT_TIMEOUT)
        with tally.lock:
            if body is None:
                tally.fast_failed += 1
            else:
                tally.fast_latency.append(time.monotonic() - started)
        return
    got = 0
    for attempt in range(1, ATTEMPTS + 1):
        body = _post(port, record, WECHAT_TIMEOUT)
        if body is not None:
            got = attempt if _content(body, mode) == record.content else 0
            break
        # WeChat gave up on this attempt after 5 s; the next copy goes out now.
    with tally.lock:
        tally.slow_attempt.append(got)


def offer(port: int, records: list[Record], rate: float, mode: str) -> tuple[Tally, float]:
    """Send ``records`` at ``rate`` per second, each on its own connection; wait for all."""
    tally = Tally()
    with ThreadPoolExecutor(max_workers=512) as pool:
        started = time.monotonic()
        for index, record in enumerate(records):
            time.sleep(max(0.0, started + index / rate - time.monotonic()))
            pool.submit(_send, port, record, mode, tally)
        offered_s = time.monotonic() - started
    return tally, offered_s


def summary(tally: Tally, offered_s: float) -> dict[str, Any]:
    """The figures of one run."""
    latency = sorted(tally.fast_latency)
    fast = len(latency)
    slow = tally.slow_attempt
    return {
        "fast_answered": fast,
        "fast_failed": tally.fast_failed,
        "fast_per_s": fast / offered_s,
        "fast_p50_ms": statistics.median(latency) * 1000 if latency else float("nan"),
        "fast_p99_ms": latency[int(0.99 * (fast - 1))] * 1000 if latency else float("nan"),
        "fast_max_ms": latency[-1] * 1000 if latency else float("nan"),
        "fast_over_1s": sum(1 for x in latency if x > 1.0),
        "slow": len(slow),
        "slow_by_attempt": {str(n): slow.count(n) for n in range(1, ATTEMPTS + 1)},
        "slow_lost": slow.count(0),
    }


def run(rate: float, duration: float, share: float, mode: str, workers: int) -> dict[str, Any]:
    """Both runs, without and with the slow share, on one server each; their figures."""
    count = int(rate * duration)
    results: dict[str, Any] = {"rate": rate, "duration_s": duration, "share": share}
    base = TARGETS["wxserver"]
    target = replace(base, env={**base.env, "WX_PLUGINS": PLUGINS})
    settings = WorkerSettings.as_shipped(workers)
    for name, slow_every in (("fast only", 0), ("with slow", round(1 / share))):
        records = _records(mode, count, slow_every, offset=len(results) * count)
        with serve(target, mode, settings, f"mixed-{slow_every}") as running:
            tally, offered_s = offer(running.port, records, rate, mode)
        results[name] = summary(tally, offered_s)
        print(name, json.dumps(results[name]), flush=True)
    return results


def main(argv: list[str] | None = None) -> int:
    """Command line: see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=200.0, help="messages offered per second")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of offered load")
    parser.add_argument("--slow-share", type=float, default=0.05)
    parser.add_argument("--mode", default="secure")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    found = run(args.rate, args.duration, args.slow_share, args.mode, args.workers)
    print(json.dumps(found, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
