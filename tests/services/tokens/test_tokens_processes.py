"""The headline: 8 processes of 200 threads each, and the token expires twice; one fetch each time.

Platform time is a ``ManualClock`` shared by the fake and the owners, so a 7200-second token
expires exactly when a test moves the clock, and every margin keeps its production value.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.fakewechat import APP_ID, APP_SECRET, FakeWeChat, ManualClock
from tests.services.tokens.owners import LIFETIME
from wxserver.services.api.client import WeChatAPI
from wxserver.services.store import open_store
from wxserver.services.tokens import TokenOwner
from wxserver.services.tokens.owner import STABLE_MARGIN

PROCESSES = 8
THREADS = 200
CALLS_PER_PHASE = 600  # calls each token must serve before the test moves the clock on


@dataclass(frozen=True)
class _Shared:
    url: str
    store_url: str
    clock: ManualClock
    stop: Any  # a shared flag: set to 1 to end the workers' loops
    barrier: Any
    results: Any


def _worker(shared: _Shared) -> None:
    """One process: one owner and one client, THREADS threads calling the API until told to stop."""
    api = WeChatAPI(APP_ID, APP_SECRET, base_urls=shared.url, read_timeout=30)
    owner = TokenOwner(open_store(shared.store_url), api, APP_ID, clock=shared.clock)
    guard = threading.Lock()
    tally: dict[str, Any] = {"calls": [], "failed": 0, "failures": set(), "healed": 0}

    class Counting:  # the owner, counting how many calls had to heal a rejected token
        def current(self) -> str:
            return owner.current()

        def invalidate(self, token: str) -> str:
            with guard:
                tally["healed"] += 1
            return owner.invalidate(token)

    api.tokens = Counting()
    go = threading.Event()

    def run() -> None:
        go.wait()
        while not shared.stop.value:
            started = time.monotonic()
            try:
                api.callback_ips()
                failure = ""
            except Exception as exc:  # every failure is reported to the test
                failure = repr(exc)[:300]
            took = time.monotonic() - started
            with guard:
                tally["calls"].append(took)
                if failure:
                    tally["failed"] += 1
                    if len(tally["failures"]) < 5:
                        tally["failures"].add(failure)

    threads = [threading.Thread(target=run) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    shared.barrier.wait(60)
    go.set()
    for thread in threads:
        thread.join()
    api.close()
    shared.results.put(tally)


def _served(fake: FakeWeChat, index: int) -> int:
    """Calls authorised by the index-th token issued (0 while it does not exist yet)."""
    counts = fake.calls_per_token()
    return counts[index] if index < len(counts) else 0


def _wait_until(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_tokens_one_fetch_per_expiry_across_8_processes_of_200_threads(store_url: str) -> None:
    clock = ManualClock()
    context = multiprocessing.get_context("fork")  # as gunicorn starts its workers
    fake = FakeWeChat(clock=clock)
    shared = _Shared(
        url=fake.url,
        store_url=store_url,
        clock=clock,
        stop=context.RawValue("i", 0),
        barrier=context.Barrier(PROCESSES + 1),
        results=context.Queue(),
    )
    started = time.monotonic()
    # Forked before the fake's thread starts: a child never inherits a running thread.
    workers = [
        context.Process(target=_worker, args=(shared,), daemon=True) for _ in range(PROCESSES)
    ]
    for worker in workers:
        worker.start()
    fake.start()
    tallies: list[dict[str, Any]] = []
    stuck = ""
    try:
        shared.barrier.wait(60)
        running = time.monotonic()
        # Phase 1: the first token. Phase 2: the clock enters its refresh margin (due, still
        # valid). Phase 3: the clock jumps past the second token's expiry (nothing valid left).
        if not _wait_until(lambda: _served(fake, 0) >= CALLS_PER_PHASE, 30):
            stuck = "first token"
        else:
            clock.advance(LIFETIME - STABLE_MARGIN + 40)
            if not _wait_until(lambda: _served(fake, 1) >= CALLS_PER_PHASE, 30):
                stuck = "token refreshed ahead of expiry"
            else:
                clock.advance(LIFETIME + 100)
                if not _wait_until(lambda: _served(fake, 2) >= CALLS_PER_PHASE, 30):
                    stuck = "token refreshed after expiry"
        shared.stop.value = 1
        tallies = [shared.results.get(timeout=60) for _ in workers]
        finished = time.monotonic()
    finally:
        shared.stop.value = 1
        for worker in workers:
            worker.join(10)
            if worker.is_alive():
                worker.terminate()
                worker.join(5)
        fake.stop()
    took = sorted(seconds for tally in tallies for seconds in tally["calls"])
    calls = len(took)
    failed = sum(t["failed"] for t in tallies)
    figures = (
        f"{PROCESSES} processes x {THREADS} threads: {calls} calls in {finished - running:.1f} s "
        f"(start-up {running - started:.1f} s), {failed} failed, "
        f"{sum(t['healed'] for t in tallies)} healed a rejected token; call duration p50 "
        f"{took[calls // 2]:.2f} s, p99 {took[calls * 99 // 100]:.2f} s, max {took[-1]:.2f} s; "
        f"token fetches {fake.token_fetches()}, calls per token {fake.calls_per_token()}; "
        f"failures {set().union(*(t['failures'] for t in tallies))}"
    )
    print("\n" + figures)  # shown with pytest -s
    assert not stuck, f"no progress with the {stuck}: {figures}"
    assert failed == 0, figures
    assert fake.token_fetches() == 1 + 2, figures  # the first token, then one fetch per expiry
    assert fake.tokens_issued == 3
    assert calls >= 3 * CALLS_PER_PHASE
