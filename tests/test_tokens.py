"""The token owner against the fake platform: one fetch per expiry, compare-and-refresh, alerts.

Platform time is a ``ManualClock`` shared by the fake and the owners, so a 7200-second token
expires exactly when a test moves the clock, and every margin keeps its production value.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.fakewechat import APP_ID, APP_SECRET, FakeWeChat, ManualClock
from tests.redis_server import redis_server
from wxserver.protocol.api_errors import ConfigAlertError, RetryableApiError, TokenInvalidError
from wxserver.services.api.client import WeChatAPI
from wxserver.services.store import MemoryStore, RedisStore, Store, open_store
from wxserver.services.tokens import TokenOwner, TokenUnavailableError
from wxserver.services.tokens.owner import CLASSIC_MARGIN, STABLE_MARGIN

LIFETIME = 7200.0

OwnerFactory = Callable[..., TokenOwner]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def fake(clock: ManualClock) -> Iterator[FakeWeChat]:
    with FakeWeChat(clock=clock) as running:
        yield running


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    """One redis-server for the module, the store of several machines."""
    with redis_server() as server:
        yield server.url


@pytest.fixture(params=["lmdb", "sqlite", "redis"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A store shared across processes: LMDB, a SQLite file, or an emptied Redis database."""
    if request.param == "lmdb":
        return f"lmdb:///{tmp_path / 'store.lmdb'}"
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    url: str = request.getfixturevalue("redis_url")
    store = open_store(url)
    assert isinstance(store, RedisStore)
    store.client.flushdb()
    return url


@pytest.fixture
def make_owner(fake: FakeWeChat, clock: ManualClock) -> Iterator[OwnerFactory]:
    """An owner on ``store`` (a fresh MemoryStore by default) whose client talks to the fake."""
    clients: list[WeChatAPI] = []

    def factory(store: Store | None = None, **options: Any) -> TokenOwner:
        api = WeChatAPI(APP_ID, APP_SECRET, base_urls=fake.url, busy_retries=0, read_timeout=5)
        clients.append(api)
        options.setdefault("backoff", 0.05)
        owner = TokenOwner(store or MemoryStore(), api, APP_ID, clock=clock, **options)
        api.tokens = owner
        return owner

    yield factory
    for api in clients:
        api.close()


def _call_with(fake: FakeWeChat, token: str) -> dict[str, Any]:
    """One API call with ``token``, straight to the fake: does the platform accept it?"""
    client = WeChatAPI(APP_ID, APP_SECRET, base_urls=fake.url)
    try:
        return client.call(
            "GET", "/cgi-bin/getcallbackip", params={"access_token": token}, token=False
        )
    finally:
        client.close()


# --- caching and the choice of endpoint ---------------------------------------------------------


def test_tokens_current_fetches_once_and_keeps_the_token_in_the_store(
    make_owner: OwnerFactory, fake: FakeWeChat, clock: ManualClock
) -> None:
    store = MemoryStore()
    owner = make_owner(store)
    tokens = {owner.current() for _ in range(20)}
    assert len(tokens) == 1
    assert fake.calls("/cgi-bin/stable_token") == 1  # stable_token is the default
    assert fake.calls("/cgi-bin/token") == 0
    stored = store.get(f"tokens:{APP_ID}:access_token")
    assert stored is not None
    assert tokens.pop() in stored.decode()
    record = owner.record()
    assert record is not None
    assert record.refresh_at == clock() + LIFETIME - STABLE_MARGIN


def test_tokens_classic_endpoint_is_selectable(
    make_owner: OwnerFactory, fake: FakeWeChat, clock: ManualClock
) -> None:
    owner = make_owner(stable=False)
    assert owner.current() == owner.current()
    assert fake.calls("/cgi-bin/token") == 1
    assert fake.calls("/cgi-bin/stable_token") == 0
    record = owner.record()
    assert record is not None
    assert record.refresh_at == clock() + LIFETIME - CLASSIC_MARGIN  # expires_in - 600 s


def test_tokens_other_owners_on_the_same_store_read_instead_of_fetching(
    make_owner: OwnerFactory, fake: FakeWeChat, store_url: str
) -> None:
    owners = [make_owner(open_store(store_url)) for _ in range(3)]
    assert len({owner.current() for owner in owners}) == 1
    assert fake.token_fetches() == 1


# --- refresh ahead of expiry ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stable", "margin"),
    [(True, STABLE_MARGIN), (False, CLASSIC_MARGIN)],
    ids=["stable", "classic"],
)
def test_tokens_refresh_starts_margin_seconds_before_expiry(
    make_owner: OwnerFactory, fake: FakeWeChat, clock: ManualClock, stable: bool, margin: float
) -> None:
    owner = make_owner(stable=stable)
    first = owner.current()
    clock.advance(LIFETIME - margin - 1)
    assert owner.current() == first
    assert fake.token_fetches() == 1
    clock.advance(2)  # now inside the margin
    second = owner.current()
    assert second != first  # stable: inside the platform's 300 s window it hands out a new one
    assert fake.token_fetches() == 2
    assert owner.current() == second
    assert fake.token_fetches() == 2
    assert _call_with(fake, first)["ip_list"]  # the old one stays valid until its own expiry


def test_tokens_short_lived_tokens_on_the_wall_clock() -> None:
    # The fake on real time with 2-second tokens: the same path as production, only faster.
    with (
        FakeWeChat(token_lifetime=2.0, rotate_before=1.0) as fake,
        WeChatAPI(APP_ID, APP_SECRET, base_urls=fake.url) as api,
    ):
        owner = TokenOwner(MemoryStore(), api, APP_ID, margin=0.5)
        first = owner.current()
        time.sleep(1.6)  # past refresh_at (2 - 0.5 s), inside the fake's rotation window
        second = owner.current()
        assert second != first
        assert fake.token_fetches() == 2
        time.sleep(0.6)  # the first token has now expired on the platform
        with pytest.raises(TokenInvalidError) as raised:
            _call_with(fake, first)
        assert raised.value.errcode == 42001
        assert _call_with(fake, second)["ip_list"]


def test_tokens_refresh_if_due_refreshes_token_and_cached_ticket_once(
    make_owner: OwnerFactory, fake: FakeWeChat, clock: ManualClock
) -> None:
    owner = make_owner()
    token, ticket = owner.current(), owner.jsapi_ticket()
    assert owner.refresh_if_due() is False
    assert fake.token_fetches() == 1
    clock.advance(LIFETIME - STABLE_MARGIN + 1)
    assert owner.refresh_if_due() is True
    assert fake.token_fetches() == 2
    assert fake.stats()["tickets_issued"] == 2
    assert owner.current() != token
    assert owner.jsapi_ticket() != ticket
    assert owner.refresh_if_due() is False
    assert fake.token_fetches() == 2


def test_tokens_refresh_if_due_returns_at_once_while_another_process_refreshes(
    make_owner: OwnerFactory, fake: FakeWeChat, clock: ManualClock, store_url: str
) -> None:
    busy, idle = (make_owner(open_store(store_url)) for _ in range(2))
    busy.current()
    clock.advance(LIFETIME - STABLE_MARGIN + 1)
    fake.inject("/cgi-bin/stable_token", delay=1.0)
    worker = threading.Thread(target=busy.refresh_if_due)
    worker.start()
    time.sleep(0.2)  # the worker holds the lock, its fetch is under way
    started = time.monotonic()
    assert idle.refresh_if_due() is False
    assert time.monotonic() - started < 0.5  # waiting for the lock would take 0.8 s
    worker.join(5)
    assert fake.token_fetches() == 2


# --- lock contention ------------------------------------------------------------------------------


def test_tokens_concurrent_callers_share_one_fetch(
    make_owner: OwnerFactory, fake: FakeWeChat, store_url: str
) -> None:
    # Four owners on one shared store stand for four processes; 16 threads each.
    owners = [make_owner(open_store(store_url)) for _ in range(4)]
    fake.inject("/cgi-bin/stable_token", delay=0.3)  # a slow fetch: everyone else must wait
    results: list[str] = []
    guard = threading.Lock()
    start = threading.Barrier(64)

    def call(owner: TokenOwner) -> None:
        start.wait(5)
        token = owner.current()
        with guard:
            results.append(token)

    threads = [threading.Thread(target=call, args=(owners[i % 4],)) for i in range(64)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(results) == 64
    assert len(set(results)) == 1
    assert fake.token_fetches() == 1


def test_tokens_a_due_token_is_served_while_one_caller_refreshes(
    make_owner: OwnerFactory, fake: FakeWeChat, clock: ManualClock
) -> None:
    owner = make_owner()
    old = owner.current()
    clock.advance(LIFETIME - STABLE_MARGIN + 1)  # due, still valid
    fake.inject("/cgi-bin/stable_token", delay=1.0)
    refresher = threading.Thread(target=owner.current)
    refresher.start()
    time.sleep(0.2)
    started = time.monotonic()
    assert owner.current() == old  # not blocked behind the refresh, which takes 0.8 s more
    assert time.monotonic() - started < 0.5
    refresher.join(5)
    assert owner.current() != old
    assert fake.token_fetches() == 2


def test_tokens_waiting_for_a_refresh_is_bounded(
    make_owner: OwnerFactory, fake: FakeWeChat, store_url: str
) -> None:
    holder = make_owner(open_store(store_url))
    waiter = make_owner(open_store(store_url), lock_wait=0.3)
    fake.inject("/cgi-bin/stable_token", delay=1.2)
    refresher = threading.Thread(target=holder.current)
    refresher.start()
    time.sleep(0.2)
    started = time.monotonic()
    with pytest.raises(TokenUnavailableError, match=r"did not finish within 0\.3 s"):
        waiter.current()
    assert 0.25 < time.monotonic() - started < 1.0
    refresher.join(5)
    assert waiter.current() == holder.current()
    assert fake.token_fetches() == 1


# --- passive refresh: invalidate(token) ----------------------------------------------------------


def test_tokens_invalidate_refreshes_only_the_stored_token(
    make_owner: OwnerFactory, fake: FakeWeChat
) -> None:
    owner = make_owner()
    first = owner.current()
    assert owner.invalidate("a-token-nobody-stores-any-more") == first
    assert fake.token_fetches() == 1
    fake.revoke_current_token()  # another system force-refreshed
    second = owner.invalidate(first)
    assert second != first
    assert fake.token_fetches() == 2
    assert owner.invalidate(first) == second  # a late report about the old token: no fetch
    assert fake.token_fetches() == 2
    failure = owner.last_failure()
    assert failure is not None
    assert failure.errcode == 40001


def test_tokens_invalidate_never_loops_on_a_token_handed_back(
    make_owner: OwnerFactory, fake: FakeWeChat
) -> None:
    owner = make_owner()
    token = owner.current()
    # The platform still considers it valid, so stable_token hands the same token back.
    assert owner.invalidate(token) == token
    assert fake.token_fetches() == 2
    with pytest.raises(TokenInvalidError, match="keeps rejecting"):
        owner.invalidate(token)
    assert fake.token_fetches() == 2


# --- errors only a person can fix ----------------------------------------------------------------


@pytest.mark.parametrize(
    "alert",
    [
        (45009, "reach max api daily quota limit", "clear_quota"),
        (
            40164,
            "invalid ip 203.0.113.9 ipv6 ::ffff:203.0.113.9, not in whitelist rid: 1",
            "Add this server's IP 203.0.113.9 to the IP whitelist in the MP console: "
            "设置与开发 > 基本配置 > IP白名单",
        ),
        (89503, "risky ip 203.0.113.9, wait for admin confirm", "approve it"),
        (48001, "api unauthorized", "接口权限"),
    ],
    ids=["45009", "40164", "89503", "48001"],
)
def test_tokens_alerts_raise_the_action_and_cool_down(
    make_owner: OwnerFactory, fake: FakeWeChat, clock: ManualClock, alert: tuple[int, str, str]
) -> None:
    errcode, errmsg, action = alert
    owner = make_owner(alert_cooldown=60)
    fake.inject("/cgi-bin/stable_token", errcode=errcode, errmsg=errmsg)
    with pytest.raises(ConfigAlertError) as raised:
        owner.current()
    assert raised.value.errcode == errcode
    assert action in str(raised.value)
    assert fake.token_fetches() == 1  # not retried
    with pytest.raises(ConfigAlertError) as again:
        owner.current()  # during the cool-down: the same error, no upstream call
    assert again.value.errcode == errcode
    assert action in str(again.value)
    assert fake.token_fetches() == 1
    clock.advance(61)
    assert owner.current()
    assert fake.token_fetches() == 2


def test_tokens_clear_failure_ends_the_cool_down(
    make_owner: OwnerFactory, fake: FakeWeChat
) -> None:
    owner = make_owner()
    fake.inject("/cgi-bin/stable_token", errcode=40164, errmsg="invalid ip 198.51.100.4")
    with pytest.raises(ConfigAlertError):
        owner.current()
    owner.clear_failure()
    assert owner.current()
    assert fake.token_fetches() == 2


def test_tokens_failed_proactive_refresh_keeps_serving_the_valid_token(
    make_owner: OwnerFactory, fake: FakeWeChat, clock: ManualClock
) -> None:
    owner = make_owner()
    token = owner.current()
    clock.advance(LIFETIME - STABLE_MARGIN + 1)
    fake.inject("/cgi-bin/stable_token", errcode=40164, errmsg="invalid ip 198.51.100.4")
    assert owner.current() == token  # still valid for 239 s: callers are not failed
    failure = owner.last_failure()
    assert failure is not None
    assert failure.errcode == 40164
    with pytest.raises(ConfigAlertError, match=r"198\.51\.100\.4"):
        owner.refresh_if_due()  # the scheduler does see it
    assert fake.token_fetches() == 2


# --- back-off on -1 and 45011 -------------------------------------------------------------------


def test_tokens_busy_platform_is_retried_with_backoff(
    make_owner: OwnerFactory, fake: FakeWeChat
) -> None:
    owner = make_owner(attempts=3, backoff=0.1)
    fake.inject("/cgi-bin/stable_token", errcode=-1, times=2)
    started = time.monotonic()
    assert owner.current()
    elapsed = time.monotonic() - started
    assert fake.token_fetches() == 3
    assert 0.3 <= elapsed < 1.5  # slept 0.1 s, then 0.2 s


def test_tokens_backoff_gives_up_after_its_attempts(
    make_owner: OwnerFactory, fake: FakeWeChat
) -> None:
    owner = make_owner(attempts=3, backoff=0.1, retry_cooldown=30)
    fake.inject("/cgi-bin/stable_token", errcode=45011, times=10)
    started = time.monotonic()
    with pytest.raises(RetryableApiError):
        owner.current()
    assert time.monotonic() - started < 1.5
    assert fake.token_fetches() == 3
    with pytest.raises(RetryableApiError):
        owner.current()  # the cool-down: no fourth fetch
    assert fake.token_fetches() == 3


# --- jsapi_ticket -------------------------------------------------------------------------------


def test_tokens_jsapi_ticket_is_cached_and_refreshed_once_when_due(
    make_owner: OwnerFactory, fake: FakeWeChat, clock: ManualClock
) -> None:
    owner = make_owner()
    assert len({owner.jsapi_ticket() for _ in range(10)}) == 1
    assert fake.calls("/cgi-bin/ticket/getticket") == 1
    clock.advance(LIFETIME - 600 + 1)
    assert len({owner.jsapi_ticket() for _ in range(10)}) == 1
    assert fake.calls("/cgi-bin/ticket/getticket") == 2


def test_tokens_jsapi_ticket_heals_a_rejected_token_once(
    make_owner: OwnerFactory, fake: FakeWeChat
) -> None:
    owner = make_owner()
    token = owner.current()
    fake.revoke_current_token()
    assert owner.jsapi_ticket()
    assert owner.current() != token
    assert fake.calls("/cgi-bin/ticket/getticket") == 2
    assert fake.token_fetches() == 2


# --- the headline: many processes, many threads, the token expires twice ----------------------


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
