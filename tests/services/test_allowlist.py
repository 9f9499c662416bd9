"""The callback IP allow-list: WeChat's list, fetched once a day and shared through the store.

The list comes from the fake WeChat API's getcallbackip, on a ``ManualClock`` shared by the fake
and the allow-lists, so a day passes when a test says so.
"""

from __future__ import annotations

import ast
import logging
import multiprocessing
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from ipaddress import ip_address
from pathlib import Path
from typing import Any

import pytest

from tests.fakewechat import APP_ID as FAKE_APP_ID
from tests.fakewechat import APP_SECRET as FAKE_APP_SECRET
from tests.fakewechat import CALLBACK_IPS, FakeWeChat, ManualClock
from wxserver.services import allowlist as allowlist_module
from wxserver.services.addresses import parse_address
from wxserver.services.allowlist import DAY, KEY, CallbackAllowlist, IpList
from wxserver.services.api.client import WeChatAPI
from wxserver.services.store import MemoryStore, Store, open_store
from wxserver.services.tokens import connect

PATH = "/cgi-bin/getcallbackip"
INSIDE = CALLBACK_IPS[0]  # 101.226.103.0
OUTSIDE = "198.51.100.7"  # TEST-NET-2: never one of WeChat's


def test_ip_list_matches_addresses_and_ranges() -> None:
    ips = IpList.parse(["101.226.103.0", " 223.166.222.96/27 ", "240e:e1:a800::/40", "x"], 0.0)
    assert ips.entries == ("101.226.103.0", "223.166.222.96/27", "240e:e1:a800::/40")
    assert ip_address("101.226.103.0") in ips
    assert ip_address("223.166.222.127") in ips
    assert ip_address("223.166.222.128") not in ips
    assert ip_address("240e:e1:a8ff::1") in ips
    assert parse_address("::ffff:223.166.222.100") in ips  # a dual-stack socket's IPv4 peer
    assert ip_address("101.226.103.1") not in ips
    assert "101.226.103.0" not in ips  # text is not an address: never a match


def test_allowlist_module_imports_no_web_layer() -> None:
    tree = ast.parse(Path(allowlist_module.__file__).read_text("utf-8"))
    imported = {
        node.module if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    web = ("flask", "werkzeug", "wxserver.app", "wxserver.views")
    assert not [name for name in imported if name and name.startswith(web)]


# --- the list, against the fake platform ------------------------------------------------------


class CountingStore:
    """Another process's view of a shared store, counting its reads and writes."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.reads = 0
        self.writes = 0

    def get(self, key: str) -> bytes | None:
        self.reads += 1
        return self.inner.get(key)

    def set(self, key: str, value: bytes, *, ttl: float) -> None:
        self.writes += 1
        self.inner.set(key, value, ttl=ttl)

    def add(self, key: str, value: bytes, *, ttl: float) -> bool:
        self.writes += 1
        return self.inner.add(key, value, ttl=ttl)

    def delete(self, key: str) -> None:
        self.writes += 1
        self.inner.delete(key)

    def incr(self, key: str, *, ttl: float) -> int:
        self.writes += 1
        return self.inner.incr(key, ttl=ttl)

    def lock(self, name: str, *, timeout: float, wait: float) -> AbstractContextManager[None]:
        self.writes += 1
        return self.inner.lock(name, timeout=timeout, wait=wait)


@dataclass
class Made:
    """An allow-list as one process has it, with its store and the events it reported."""

    allowlist: CallbackAllowlist
    store: CountingStore
    events: list[str]


MakeAllowlist = Callable[..., Made]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def fake(clock: ManualClock) -> Iterator[FakeWeChat]:
    with FakeWeChat(clock=clock) as running:
        yield running


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store.db'}"


@pytest.fixture
def make_allowlist(fake: FakeWeChat, clock: ManualClock, store_url: str) -> Iterator[MakeAllowlist]:
    """A new process's allow-list: its own store connection and API client, the shared file."""
    clients: list[WeChatAPI] = []

    def factory(**options: Any) -> Made:
        store = CountingStore(open_store(store_url))
        api = connect(store, FAKE_APP_ID, FAKE_APP_SECRET, base_urls=fake.url, clock=clock)
        clients.append(api)
        events: list[str] = []
        made = CallbackAllowlist(
            store, api.callback_ips, clock=clock, on_event=events.append, **options
        )
        return Made(made, store, events)

    yield factory
    for api in clients:
        api.close()


def test_allowlist_refresh_stores_the_list_for_every_process(
    make_allowlist: MakeAllowlist, fake: FakeWeChat
) -> None:
    first = make_allowlist()
    assert first.allowlist.refresh() is True
    assert first.events == ["refreshed"]
    assert first.allowlist.allows(INSIDE) is True
    assert first.allowlist.allows(OUTSIDE) is False
    assert first.allowlist.allows("not an address") is False
    other = make_allowlist()
    assert other.allowlist.allows(INSIDE) is True
    assert other.allowlist.allows(OUTSIDE) is False
    assert other.allowlist.refresh() is False  # not due: nothing fetched
    assert fake.calls(PATH) == 1


def test_allowlist_request_path_reads_the_store_once_per_interval(
    make_allowlist: MakeAllowlist, clock: ManualClock, fake: FakeWeChat
) -> None:
    make_allowlist().allowlist.refresh()
    made = make_allowlist(reread=60.0)
    for _ in range(100):
        made.allowlist.allows(OUTSIDE)
    assert (made.store.reads, made.store.writes) == (1, 0)
    clock.advance(61)
    for _ in range(100):
        made.allowlist.allows(INSIDE)
    assert (made.store.reads, made.store.writes) == (2, 0)
    assert fake.calls(PATH) == 1


def test_allowlist_stale_list_is_used_while_one_process_refreshes(
    make_allowlist: MakeAllowlist, clock: ManualClock, fake: FakeWeChat
) -> None:
    make_allowlist().allowlist.refresh()
    first, second = make_allowlist(), make_allowlist()
    clock.advance(DAY + 1)
    fake.inject(PATH, delay=1.5)  # the refresh is slow: nobody may wait for it
    started = time.monotonic()
    assert first.allowlist.allows(OUTSIDE) is False  # the day-old list still refuses
    assert first.allowlist.allows(INSIDE) is True
    assert second.allowlist.allows(OUTSIDE) is False
    assert second.allowlist.allows(INSIDE) is True
    assert time.monotonic() - started < 1.0
    assert first.allowlist.join(10)
    assert second.allowlist.join(10)
    # Whichever took the lock fetched; the other found it taken and left the fetch to it.
    assert fake.calls(PATH) == 2
    assert sorted(first.events + second.events) == ["refreshed"]
    snapshot = second.allowlist.snapshot()
    assert snapshot is not None
    assert snapshot.fetched_at == clock()


def test_allowlist_api_failure_fails_open_with_log_and_event(
    make_allowlist: MakeAllowlist,
    clock: ManualClock,
    fake: FakeWeChat,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake.inject(PATH, status=503)
    made = make_allowlist(retry_after=300.0)
    with caplog.at_level(logging.WARNING, logger="wxserver.allowlist"):
        assert made.allowlist.allows(OUTSIDE) is True  # no list: let through
        assert made.allowlist.join(10)
        assert made.allowlist.allows(OUTSIDE) is True  # still none, and no new attempt yet
        assert made.allowlist.join(10)
    assert fake.calls(PATH) == 1
    # The request's event and the background fetch's may come in either order.
    assert sorted(made.events) == ["fail_open", "fail_open", "refresh_failed"]
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert "ApiUnavailableError" in errors[0]
    assert "callers are let through unchecked" in errors[0]
    warnings = [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING and r.name == "wxserver.allowlist"
    ]
    # One warning per interval, not one per request; it names the address it let through.
    assert len(warnings) == 1
    assert OUTSIDE in warnings[0]

    # Another process waits out the same retry interval instead of calling the API again.
    other = make_allowlist(retry_after=300.0)
    assert other.allowlist.allows(OUTSIDE) is True
    assert other.allowlist.join(10)
    assert fake.calls(PATH) == 1

    clock.advance(301)  # the API is back
    assert made.allowlist.allows(OUTSIDE) is True
    assert made.allowlist.join(10)
    assert fake.calls(PATH) == 2
    assert made.allowlist.allows(OUTSIDE) is False
    assert made.allowlist.allows(INSIDE) is True


def test_allowlist_failed_refresh_keeps_the_stored_list_until_too_old(
    make_allowlist: MakeAllowlist,
    clock: ManualClock,
    fake: FakeWeChat,
    caplog: pytest.LogCaptureFixture,
) -> None:
    made = make_allowlist()
    made.allowlist.refresh()
    clock.advance(DAY + 1)
    fake.inject(PATH, status=503)
    with caplog.at_level(logging.ERROR, logger="wxserver.allowlist"):
        assert made.allowlist.allows(OUTSIDE) is False
        assert made.allowlist.join(10)
    assert made.events == ["refreshed", "refresh_failed"]
    assert "keeping the list fetched 86401 s ago" in caplog.text
    assert made.allowlist.allows(OUTSIDE) is False
    # A week without a successful refresh: the list is too old to refuse anybody by.
    fake.inject(PATH, status=503, times=10)
    clock.advance(7 * DAY)
    assert made.allowlist.allows(OUTSIDE) is True
    assert made.allowlist.join(10)
    assert sorted(made.events[-2:]) == ["fail_open", "refresh_failed"]


def test_allowlist_refresh_gives_way_to_the_lock_holder(
    make_allowlist: MakeAllowlist, fake: FakeWeChat
) -> None:
    made = make_allowlist()
    with made.store.inner.lock(KEY, timeout=30, wait=0):
        assert made.allowlist.refresh(force=True) is False
    assert fake.calls(PATH) == 0


def test_allowlist_unusable_answer_is_not_stored() -> None:
    answers: list[list[str]] = [[], ["no", "addresses"], ["nonsense", "101.226.103.0"]]
    made = CallbackAllowlist(MemoryStore(), lambda: answers.pop(0), background=False)
    with pytest.raises(ValueError, match="empty"):
        made.refresh()
    with pytest.raises(ValueError, match="empty"):
        made.refresh(force=True)
    assert made.snapshot() is None
    assert made.refresh(force=True) is True
    snapshot = made.snapshot()
    assert snapshot is not None
    assert snapshot.entries == ("101.226.103.0",)


def test_allowlist_fetches_inline_without_background(make_allowlist: MakeAllowlist) -> None:
    made = make_allowlist(background=False)
    # The first request waits for the fetch here; the default runs it on a thread instead.
    assert made.allowlist.allows(OUTSIDE) is False
    assert made.events == ["refreshed"]


# --- once a day across processes --------------------------------------------------------------

PROCESSES = 4
# (seconds the clock moves before the phase, what every process must answer OUTSIDE at once,
# fetches by the end of the phase)
PHASES = [
    (0.0, True, 1),  # first start: no list yet, fail open; one process fetches it
    (10.0, False, 1),  # every process has read it from the store
    (DAY - 100.0, False, 1),  # 23 h 58 min later: still fresh, no fetch
    (200.0, False, 2),  # a day old: the stale list refuses at once, one process refreshes
    (10.0, False, 2),  # and nobody fetches again
]


@dataclass
class _Shared:
    url: str
    store_url: str
    clock: ManualClock
    barrier: Any
    results: Any


def _process(shared: _Shared) -> None:
    store = open_store(shared.store_url)
    api = connect(store, FAKE_APP_ID, FAKE_APP_SECRET, base_urls=shared.url, clock=shared.clock)
    allowlist = CallbackAllowlist(store, api.callback_ips, clock=shared.clock)
    answers: list[bool] = []
    for _ in PHASES:
        shared.barrier.wait(30)  # the clock has moved
        answers.append(allowlist.allows(OUTSIDE))
        allowlist.allows(INSIDE)
        allowlist.join(20)
        shared.barrier.wait(30)  # this phase is over
    api.close()
    shared.results.put(answers)


def test_allowlist_refreshed_once_a_day_across_processes(store_url: str) -> None:
    clock = ManualClock()
    context = multiprocessing.get_context("fork")  # as gunicorn starts its workers
    fake = FakeWeChat(clock=clock)
    shared = _Shared(fake.url, store_url, clock, context.Barrier(PROCESSES + 1), context.Queue())
    # Forked before the fake's thread starts: a child never inherits a running thread.
    workers = [context.Process(target=_process, args=(shared,)) for _ in range(PROCESSES)]
    for worker in workers:
        worker.start()
    fake.start()
    fetches: list[int] = []
    try:
        for advance, _, _ in PHASES:
            clock.advance(advance)
            shared.barrier.wait(30)
            shared.barrier.wait(30)
            fetches.append(fake.calls(PATH))
        answers = [shared.results.get(timeout=30) for _ in workers]
    finally:
        for worker in workers:
            worker.join(10)
            if worker.is_alive():
                worker.terminate()
                worker.join(5)
        fake.stop()
    assert fetches == [fetched for _, _, fetched in PHASES]
    assert answers == [[allowed for _, allowed, _ in PHASES]] * PROCESSES
