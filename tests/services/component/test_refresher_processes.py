"""The headline: 10,000 authorizers, 2 processes, 2 simulated hours, one refresh per token.

Every authorizer authorized at the same moment (the worst case: a migration), so every token
would expire together. Two processes share one LMDB store and the fake platform's ManualClock and
tick their refreshers every 30 simulated seconds. The fake logs each api_authorizer_token call at
its platform time.
"""

from __future__ import annotations

import collections
import itertools
import multiprocessing
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.fakewechat import FakeWeChat, ManualClock
from tests.services.component.conftest import component_settings
from tests.services.component.test_refresher import LIFETIME, STEP
from wxserver.services.api.client import Grant
from wxserver.services.component import ComponentServices
from wxserver.services.component.tokens import MARGIN, SETTLE
from wxserver.services.store import open_store

AUTHORIZERS = 10_000
PROCESSES = 2
STEPS = int(LIFETIME / STEP)  # two hours
MINUTE_CAP = AUTHORIZERS * 2 // 100  # no minute may hold more than 2% of the authorizers


@dataclass(frozen=True)
class _Shared:
    url: str
    store_url: str
    clock: ManualClock
    barrier: Any
    results: Any


def _services(shared: _Shared) -> ComponentServices:
    return ComponentServices(
        component_settings(),
        open_store(shared.store_url),
        base_urls=shared.url,
        clock=shared.clock,
        owner_options={"backoff": 0.01},
    )


def _worker(shared: _Shared) -> None:
    """One process: a tick of its refresher at every step the parent takes."""
    services = _services(shared)
    fetched = failures = 0
    for _ in range(STEPS):
        shared.barrier.wait(120)  # the parent has moved the clock
        try:
            fetched += services.refresher.tick()
        except Exception:  # reported to the test, which fails on any
            failures += 1
        shared.barrier.wait(120)  # this step is done
    services.api.close()
    shared.results.put((fetched, failures))


def test_refresher_10000_authorizers_across_2_processes_over_2_hours(tmp_path: Path) -> None:
    clock = ManualClock()
    context = multiprocessing.get_context("fork")  # as gunicorn starts its workers
    fake = FakeWeChat(clock=clock)
    shared = _Shared(
        url=fake.url,
        store_url=f"lmdb:///{tmp_path / 'store.lmdb'}",
        clock=clock,
        barrier=context.Barrier(PROCESSES + 1),
        results=context.Queue(),
    )
    start = clock()
    seeding = _services(shared)
    seeding.tickets.keep(fake.component.ticket())
    app_ids = [f"wx{n:016x}" for n in range(AUTHORIZERS)]
    for app_id in app_ids:  # all authorized now: every token fetched at the same moment
        token, refresh_token = fake.component.authorize(app_id, start)
        seeding.authorizers.add(app_id, refresh_token)
        seeding.token_owner(app_id).adopt(Grant(token, int(LIFETIME)))
    seeding.api.close()
    # Forked before the fake's thread starts: a child never inherits a running thread.
    workers = [context.Process(target=_worker, args=(shared,)) for _ in range(PROCESSES)]
    for worker in workers:
        worker.start()
    fake.start()
    began = time.monotonic()
    try:
        for _ in range(STEPS):
            clock.advance(STEP)
            shared.barrier.wait(120)
            shared.barrier.wait(120)
        results = [shared.results.get(timeout=60) for _ in workers]
    finally:
        for worker in workers:
            worker.join(30)
            if worker.is_alive():
                worker.terminate()
        fake.stop()
    took = time.monotonic() - began
    refreshes = fake.component.refreshes()
    per_minute = collections.Counter(int((when - start) // 60) for when, _ in refreshes)
    by_app: dict[str, list[float]] = collections.defaultdict(list)
    for when, app_id in refreshes:
        by_app[app_id].append(when)
    gaps = [b - a for times in by_app.values() for a, b in itertools.pairwise(times)]
    figures = (
        f"{AUTHORIZERS} authorizers, {PROCESSES} processes, {STEPS} steps of {STEP:.0f} s in "
        f"{took:.1f} s: {len(refreshes)} refreshes ({[r[0] for r in results]} by process), "
        f"busiest minute {max(per_minute.values())} ({max(per_minute.values()) / AUTHORIZERS:.2%}),"
        f" mean per active minute {len(refreshes) / len(per_minute):.0f}; "
        f"shortest gap between two refreshes of one authorizer {min(gaps, default=0):.0f} s"
    )
    print("\n" + figures)  # shown with pytest -s
    assert [failures for _, failures in results] == [0] * PROCESSES, figures
    assert sum(fetched for fetched, _ in results) == len(refreshes), figures
    # Each token refreshed before it expired: every authorizer's first refresh falls between
    # its settling time and the margin before the seeded token's expiry.
    assert sorted(by_app) == app_ids, figures
    firsts = [times[0] for times in by_app.values()]
    assert all(start + SETTLE <= when <= start + LIFETIME - MARGIN for when in firsts), figures
    # Never two refreshes of one token: refreshes of one authorizer lie a settling time apart.
    assert min(gaps, default=SETTLE) >= SETTLE, figures
    assert max(per_minute.values()) <= MINUTE_CAP, figures
    # Both processes took part: whichever reached a due token first refreshed it.
    assert all(fetched > 0 for fetched, _ in results), figures
