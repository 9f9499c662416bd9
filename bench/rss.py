"""Memory: the RSS of one gunicorn worker after the first messages and after many more.

``python -m bench.rss --messages 100000`` serves wxserver with a single worker, sends distinct
signed messages from a few client threads on 127.0.0.1 and reads the worker's VmRSS after the first
1,000 and then every 10,000. The goal is growth of at most 10% between 1k and 100k.

VmRSS counts the pages of mapped files the worker touched, with its own memory (RssAnon). With the
LMDB store those include the store's live entries, one copy shared by every worker and written
back to the file by the kernel; so RssAnon is reported too, the memory that is the worker's alone.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

from bench import corpus, records
from bench.catalog import TARGETS, WORK
from bench.client import post
from bench.records import Record
from bench.servers import WorkerSettings, serve


def _drive(port: int, batch: list[Record], threads: int) -> Counter[int]:
    def send(record: Record) -> int:
        return post(port, record)[0]

    with ThreadPoolExecutor(max_workers=threads) as pool:
        return Counter(pool.map(send, batch, chunksize=64))


def check(
    target_name: str = "wxserver",
    mode: str = "secure",
    *,
    messages: int = 100_000,
    first: int = 1_000,
    step: int = 10_000,
    settings: WorkerSettings | None = None,
    threads: int = 4,
) -> dict[str, Any]:
    """Send ``messages`` distinct messages to one worker; return its RSS along the way."""
    settings = replace(settings or WorkerSettings(), workers=1)
    path = corpus.generate(WORK / f"rss-{mode}.rec", mode, messages)
    sent = list(records.read(path))
    target = TARGETS[target_name]
    curve: list[tuple[int, int, int, int]] = []  # messages, VmRSS, RssAnon, RssFile
    statuses: Counter[int] = Counter()
    started = time.monotonic()
    with serve(target, mode, settings, f"rss-{target_name}-{mode}") as running:
        marks = [first, *range(step, messages + 1, step)]
        done = 0
        for mark in marks:
            statuses += _drive(running.port, sent[done:mark], threads)
            done = mark
            (memory,) = running.worker_memory_kib().values()
            rss, anon, mapped = memory["VmRSS"], memory["RssAnon"], memory["RssFile"]
            curve.append((done, rss, anon, mapped))
            print(
                f"  {target_name} {mode}: {done:>7,} messages, worker RSS {rss / 1024:.1f} MiB "
                f"(own {anon / 1024:.1f}, mapped files {mapped / 1024:.1f})",
                flush=True,
            )
    rss_first, rss_last = curve[0][1], curve[-1][1]
    anon_first, anon_last = curve[0][2], curve[-1][2]
    return {
        "target": target_name,
        "mode": mode,
        "workers": settings.label,
        "messages": done,
        "first": first,
        "rss_first_kib": rss_first,
        "rss_last_kib": rss_last,
        "growth": rss_last / rss_first - 1,
        "anon_first_kib": anon_first,
        "anon_last_kib": anon_last,
        "anon_growth": anon_last / anon_first - 1,
        "curve": curve,
        "statuses": dict(statuses),
        "seconds": round(time.monotonic() - started, 1),
    }


def main(argv: list[str] | None = None) -> int:
    """Command line: see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default="wxserver")
    parser.add_argument("--mode", default="secure")
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--worker-class", default="sync")
    args = parser.parse_args(argv)
    result = check(
        args.target,
        args.mode,
        messages=args.messages,
        settings=WorkerSettings(worker_class=args.worker_class),
    )
    print(
        f"RSS after {result['first']:,}: {result['rss_first_kib'] / 1024:.1f} MiB; after "
        f"{result['messages']:,}: {result['rss_last_kib'] / 1024:.1f} MiB "
        f"({result['growth']:+.1%}); own memory (RssAnon) {result['anon_first_kib'] / 1024:.1f} "
        f"-> {result['anon_last_kib'] / 1024:.1f} MiB ({result['anon_growth']:+.1%}); "
        f"statuses {result['statuses']}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
