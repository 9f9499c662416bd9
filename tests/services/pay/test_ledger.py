"""Exactly once per notification id, over threads and over the store's lifetime rules."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from wxserver.services.pay.ledger import DONE_TTL, LEASE, Ledger
from wxserver.services.store import MemoryStore, Store, open_store


@pytest.fixture(params=["memory", "lmdb"])
def store(request: pytest.FixtureRequest, tmp_path: object) -> Store:
    if request.param == "memory":
        return MemoryStore()
    return open_store(f"lmdb:///{tmp_path}/store.lmdb")


def test_ledger_done_is_kept_at_least_25_hours() -> None:
    assert DONE_TTL >= 25 * 3600


def test_ledger_one_claim_of_many_concurrent_deliveries(store: Store) -> None:
    barrier = threading.Barrier(8)

    def deliver(_: int) -> str | None:
        barrier.wait()
        return Ledger(store, "1900000109", "EV-1").claim().token

    with ThreadPoolExecutor(8) as pool:
        tokens = [token for token in pool.map(deliver, range(8)) if token is not None]
    assert len(tokens) == 1


def test_ledger_done_after_success_and_never_claimed_again(store: Store) -> None:
    ledger = Ledger(store, "1900000109", "EV-2")
    token = ledger.claim().token
    assert token is not None
    assert ledger.start(token)
    ledger.succeed(token)
    assert ledger.done()
    assert ledger.claim().done
    assert not ledger.start(token)


def test_ledger_failure_frees_the_claim_for_the_next_delivery(store: Store) -> None:
    ledger = Ledger(store, "1900000109", "EV-3")
    first = ledger.claim().token
    assert first is not None
    assert ledger.claim().token is None  # held
    ledger.fail(first, "handler raised")
    assert ledger.failure(first) == "handler raised"
    second = ledger.claim().token
    assert second not in (None, first)


def test_ledger_a_late_job_does_not_run_over_a_newer_claim(store: Store) -> None:
    ledger = Ledger(store, "1900000109", "EV-4")
    stale = ledger.claim().token
    assert stale is not None
    store.delete("pay:1900000109:EV-4:claim")  # its lease ran out: the runner died
    fresh = ledger.claim().token
    assert fresh is not None
    assert not ledger.start(stale)
    assert not ledger.renew(stale)
    assert ledger.start(fresh)


def test_ledger_claim_is_a_lease(store: Store) -> None:
    clock = [1000.0]
    memory = MemoryStore(clock=lambda: clock[0])
    ledger = Ledger(memory, "1900000109", "EV-5")
    assert ledger.claim().token is not None
    clock[0] += LEASE + 1
    assert ledger.claim().token is not None  # the first runner stopped renewing


def test_ledger_wait_sees_done_and_failure(store: Store) -> None:
    ledger = Ledger(store, "1900000109", "EV-6")
    token = ledger.claim().token
    assert token is not None
    assert ledger.wait(token, until=0) == (False, None)
    ledger.fail(token, "no")
    assert ledger.wait(token, until=0) == (False, "no")
    ledger.succeed(token)
    assert ledger.wait(None, until=0) == (True, None)
