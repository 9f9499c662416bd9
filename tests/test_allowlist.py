"""The callback IP allow-list: who the client is behind proxies, the daily list, the 403.

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
from ipaddress import ip_address, ip_network
from pathlib import Path
from typing import Any

import httpx
import pytest
from flask import Flask
from prometheus_client.parser import text_string_to_metric_families

from tests.fakewechat import APP_ID as FAKE_APP_ID
from tests.fakewechat import APP_SECRET as FAKE_APP_SECRET
from tests.fakewechat import CALLBACK_IPS, FakeWeChat, ManualClock
from tests.servers import gunicorn
from tests.support import AES_KEY, TOKEN, AppFactory, config_with
from wxserver.protocol.errors import ConfigError
from wxserver.services import allowlist as allowlist_module
from wxserver.services.addresses import client_address, parse_address
from wxserver.services.allowlist import DAY, KEY, CallbackAllowlist, IpList
from wxserver.services.api.client import WeChatAPI
from wxserver.services.config import load_settings
from wxserver.services.store import MemoryStore, Store, open_store
from wxserver.services.tokens import connect
from wxserver.testing import build_message, sign_handshake, sign_request

PATH = "/cgi-bin/getcallbackip"
INSIDE = CALLBACK_IPS[0]  # 101.226.103.0
OUTSIDE = "198.51.100.7"  # TEST-NET-2: never one of WeChat's
LOOPBACK = (ip_network("127.0.0.1/32"), ip_network("::1/128"))
TRUSTED = (*LOOPBACK, ip_network("10.0.0.0/8"))

# --- the client's address ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("remote_addr", "forwarded_for", "expected"),
    [
        pytest.param("203.0.113.9", None, "203.0.113.9", id="direct-no-header"),
        pytest.param("203.0.113.9", "101.226.103.0", "203.0.113.9", id="untrusted-peer-spoofs"),
        pytest.param("127.0.0.1", None, "127.0.0.1", id="trusted-peer-no-header"),
        pytest.param("127.0.0.1", "", "127.0.0.1", id="trusted-peer-empty-header"),
        pytest.param("127.0.0.1", "203.0.113.9", "203.0.113.9", id="nginx-one-hop"),
        pytest.param(
            "127.0.0.1", "101.226.103.0, 203.0.113.9", "203.0.113.9", id="client-prepends-a-lie"
        ),
        pytest.param(
            "127.0.0.1", "203.0.113.9, 10.1.2.3", "203.0.113.9", id="through-two-trusted-proxies"
        ),
        pytest.param("127.0.0.1", "10.0.0.3, 10.0.0.2", "10.0.0.3", id="all-hops-trusted"),
        pytest.param(" 127.0.0.1 ", " 203.0.113.9 ,10.0.0.2 ", "203.0.113.9", id="whitespace"),
        pytest.param("127.0.0.1", "203.0.113.9:4711", "203.0.113.9", id="ipv4-with-port"),
        pytest.param("::1", "2001:db8::1", "2001:db8::1", id="ipv6-peer-and-client"),
        pytest.param("::1", "[2001:db8::1]:4711", "2001:db8::1", id="ipv6-bracketed-with-port"),
        pytest.param("::1", "2001:DB8:0::1", "2001:db8::1", id="ipv6-normalised"),
        pytest.param("::ffff:127.0.0.1", "203.0.113.9", "203.0.113.9", id="v4-mapped-peer"),
        pytest.param("127.0.0.1", "::ffff:203.0.113.9", "203.0.113.9", id="v4-mapped-client"),
        pytest.param("2001:db8::5", "203.0.113.9", "2001:db8::5", id="untrusted-ipv6-peer"),
        pytest.param("127.0.0.1", "unknown", "127.0.0.1", id="garbage-falls-back-to-peer"),
        pytest.param("127.0.0.1", "203.0.113.9, nonsense", "127.0.0.1", id="garbage-last-hop"),
        pytest.param("127.0.0.1", "nonsense, 203.0.113.9", "203.0.113.9", id="garbage-beyond"),
        pytest.param("127.0.0.1", "203.0.113.9,", "127.0.0.1", id="empty-last-hop"),
        pytest.param("127.0.0.1", "203.0.113.9:http", "127.0.0.1", id="port-not-a-number"),
        pytest.param("127.0.0.1", "[2001:db8::1", "127.0.0.1", id="unclosed-bracket"),
        pytest.param("127.0.0.1", "1" * 200, "127.0.0.1", id="overlong-entry"),
        pytest.param("127.0.0.1", "203.0.113.9/24", "127.0.0.1", id="network-is-no-address"),
        pytest.param("garbage", "203.0.113.9", "garbage", id="garbage-peer-never-trusted"),
        pytest.param("", "203.0.113.9", "", id="peer-without-address"),
    ],
)
def test_client_address_table(remote_addr: str, forwarded_for: str | None, expected: str) -> None:
    assert client_address(remote_addr, forwarded_for, TRUSTED) == expected


def test_client_address_without_trusted_proxies_is_always_the_peer() -> None:
    assert client_address("127.0.0.1", "203.0.113.9", ()) == "127.0.0.1"


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


# --- settings ---------------------------------------------------------------------------------

GOOD_ENV = {"WX_ENV": "test", "WX_TOKEN": TOKEN}


def test_settings_allowlist_off_and_loopback_trusted_by_default() -> None:
    settings = load_settings(GOOD_ENV)
    assert settings.callback_ip_allowlist is False
    assert settings.trusted_proxies == LOOPBACK


def test_settings_trusted_proxies_from_the_gunicorn_variable() -> None:
    env = {**GOOD_ENV, "WX_TRUSTED_PROXIES": "10.0.0.0/8, 192.168.1.5,fd00::/8"}
    settings = load_settings(env)
    assert settings.trusted_proxies == (
        ip_network("10.0.0.0/8"),
        ip_network("192.168.1.5/32"),
        ip_network("fd00::/8"),
    )


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        pytest.param("10.0.0.0/33", "'10.0.0.0/33', which is not valid", id="bad-prefix"),
        pytest.param("10.0.0.1/8", "has host bits set", id="host-bits"),
        pytest.param("127.0.0.1,nginx.local", "'nginx.local'", id="a-name"),
        pytest.param("*", "trusts every client", id="star"),
    ],
)
def test_settings_bad_trusted_proxies_name_the_variable(value: str, fragment: str) -> None:
    with pytest.raises(ConfigError, match="WX_TRUSTED_PROXIES") as caught:
        load_settings({**GOOD_ENV, "WX_TRUSTED_PROXIES": value})
    assert fragment in str(caught.value)


def test_settings_allowlist_needs_an_appsecret() -> None:
    env = {**GOOD_ENV, "WX_CALLBACK_IP_ALLOWLIST": "true"}
    with pytest.raises(ConfigError, match=r"WX_CALLBACK_IP_ALLOWLIST .*AppSecret"):
        load_settings(env)
    settings = load_settings({**env, "WX_APPSECRET": "s" * 32})
    assert settings.callback_ip_allowlist is True


@pytest.mark.parametrize(
    ("environ", "overrides"),
    [
        pytest.param({"WX_CALLBACK_IP_ALLOWLIST": "maybe"}, None, id="environment"),
        pytest.param({}, {"callback_ip_allowlist": "yes"}, id="not-a-bool"),
    ],
)
def test_settings_allowlist_must_be_a_boolean(
    environ: dict[str, str], overrides: dict[str, Any] | None
) -> None:
    with pytest.raises(ConfigError, match="WX_CALLBACK_IP_ALLOWLIST"):
        load_settings({**GOOD_ENV, **environ}, overrides)


# --- through the app --------------------------------------------------------------------------


def _scrape(app: Flask, name: str, **labels: str) -> float:
    text = app.test_client().get("/internal/metrics").get_data(as_text=True)
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    )


def _config(fake: FakeWeChat, **settings: Any) -> dict[str, Any]:
    config = config_with(app_id=FAKE_APP_ID, app_secret=FAKE_APP_SECRET)
    config["api_base_url"] = fake.url
    config.update(settings)
    return config


def _post(app: Flask, remote_addr: str, forwarded_for: str | None = None) -> Any:
    account = app.extensions["wxserver"].settings.account("default")
    signed = sign_request(account, build_message("text", Content="hi"), account.mode)
    return app.test_client().post(
        account.path,
        query_string=signed.query,
        data=signed.body,
        environ_base={"REMOTE_ADDR": remote_addr},
        headers={} if forwarded_for is None else {"X-Forwarded-For": forwarded_for},
    )


@pytest.fixture
def guarded(make_app: AppFactory) -> Iterator[Flask]:
    """An app with the allow-list on, its list already fetched from the fake platform."""
    with FakeWeChat() as running:
        app = make_app(_config(running, callback_ip_allowlist=True))
        assert app.extensions["wxserver"].allowlist.refresh() is True
        yield app


@pytest.mark.parametrize(
    ("remote_addr", "forwarded_for", "status"),
    [
        pytest.param(INSIDE, None, 200, id="wechat-direct"),
        pytest.param("127.0.0.1", CALLBACK_IPS[2], 200, id="wechat-through-nginx"),
        pytest.param("::1", CALLBACK_IPS[1], 200, id="wechat-through-nginx-ipv6"),
        pytest.param(OUTSIDE, None, 403, id="stranger-direct"),
        pytest.param(OUTSIDE, INSIDE, 403, id="stranger-spoofs-the-header"),
        pytest.param("127.0.0.1", f"{INSIDE}, {OUTSIDE}", 403, id="stranger-prepends"),
        pytest.param("127.0.0.1", "not-an-address", 403, id="garbage-header"),
        pytest.param("127.0.0.1", None, 403, id="local-without-header"),
    ],
)
def test_allowlist_in_the_app(
    guarded: Flask, remote_addr: str, forwarded_for: str | None, status: int
) -> None:
    response = _post(guarded, remote_addr, forwarded_for)
    assert response.status_code == status
    if status == 200:
        assert response.get_data()  # the echo's encrypted reply
    else:
        assert response.content_type.startswith("text/plain")
        assert "not in WeChat's callback IP list" in response.get_data(as_text=True)


def test_allowlist_refusal_is_logged_with_the_address_and_counted(
    guarded: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="wxserver.request"):
        assert _post(guarded, "127.0.0.1", OUTSIDE).status_code == 403
    (record,) = [r for r in caplog.records if r.name == "wxserver.request"]
    assert record.levelno == logging.WARNING
    assert OUTSIDE in record.getMessage()
    assert "outcome=ForbiddenAddressError status=403" in record.getMessage()
    refused = _scrape(
        guarded, "wxserver_refused_total", stage="request", error="ForbiddenAddressError"
    )
    assert refused == 1
    assert _scrape(guarded, "wxserver_requests_total", outcome="ForbiddenAddressError") == 1


def test_allowlist_is_checked_before_the_signature(guarded: Flask) -> None:
    account = guarded.extensions["wxserver"].settings.account("default")
    client = guarded.test_client()
    forged = sign_handshake(account, "echo")
    forged["signature"] = "0" * 40
    outside = client.get(account.path, query_string=forged, environ_base={"REMOTE_ADDR": OUTSIDE})
    inside = client.get(account.path, query_string=forged, environ_base={"REMOTE_ADDR": INSIDE})
    assert outside.status_code == inside.status_code == 403
    assert "callback IP list" in outside.get_data(as_text=True)
    assert "signature" in inside.get_data(as_text=True)
    assert _scrape(guarded, "wxserver_refused_total", stage="request") == 1
    assert _scrape(guarded, "wxserver_refused_total", stage="signature") == 1
    handshake = client.get(
        account.path,
        query_string=sign_handshake(account, "hello"),
        environ_base={"REMOTE_ADDR": INSIDE},
    )
    assert handshake.get_data() == b"hello"


def test_allowlist_is_off_by_default_and_calls_no_api(make_app: AppFactory) -> None:
    with FakeWeChat() as fake:
        app = make_app(_config(fake))
        assert app.extensions["wxserver"].allowlist is None
        assert _post(app, OUTSIDE).status_code == 200
        assert _post(app, "127.0.0.1", OUTSIDE).status_code == 200
        assert fake.calls(PATH) == 0


def test_allowlist_fails_open_in_the_app_when_the_api_is_down(
    make_app: AppFactory, caplog: pytest.LogCaptureFixture
) -> None:
    with FakeWeChat() as fake, caplog.at_level(logging.WARNING, logger="wxserver.allowlist"):
        fake.inject(PATH, status=503)
        app = make_app(_config(fake, callback_ip_allowlist=True))
        assert _post(app, OUTSIDE).status_code == 200
        assert app.extensions["wxserver"].allowlist.join(10)
        assert fake.calls(PATH) == 1
    name = "wxserver_callback_allowlist_events_total"
    assert _scrape(app, name, event="fail_open") == 1
    assert _scrape(app, name, event="refresh_failed") == 1
    assert any(OUTSIDE in r.getMessage() and "unchecked" in r.getMessage() for r in caplog.records)


def test_allowlist_applies_to_official_accounts_only(make_app: AppFactory) -> None:
    with FakeWeChat() as fake:
        config = _config(fake, callback_ip_allowlist=True)
        config["accounts"]["corp"] = {
            "path": "/wecom",
            "kind": "wecom",
            "token": TOKEN,
            "app_id": "ww0000000000testcorp",
            "encoding_aes_key": AES_KEY,
        }
        app = make_app(config)
        assert app.extensions["wxserver"].allowlist.refresh() is True
    corp = app.extensions["wxserver"].settings.account("corp")
    signed = sign_request(corp, build_message("text", Content="hi", AgentID=1), "secure")
    response = app.test_client().post(
        corp.path,
        query_string=signed.query,
        data=signed.body,
        environ_base={"REMOTE_ADDR": OUTSIDE},
    )
    # WeCom calls from addresses getcallbackip does not list: its callbacks are not checked.
    assert response.status_code == 200
    assert _post(app, OUTSIDE).status_code == 403


def test_allowlist_under_gunicorn_workers_uses_the_shared_list(tmp_path: Path) -> None:
    store_url = f"sqlite:///{tmp_path / 'store.db'}"
    env = {
        "WX_ENV": "test",
        "WX_TOKEN": TOKEN,
        "WX_APPID": FAKE_APP_ID,
        "WX_APPSECRET": FAKE_APP_SECRET,
        "WX_ENCODING_AES_KEY": AES_KEY,
        "WX_MODE": "compat",
        "WX_PLUGINS": "wxserver.builtin.echo:handlers",
        "WX_LOAD_ENTRY_POINTS": "false",
        "WX_CALLBACK_IP_ALLOWLIST": "true",
        "WX_STORE_URL": store_url,
    }
    account = load_settings(env).account("default")
    with FakeWeChat() as fake:
        env["WX_API_BASE_URL"] = fake.url
        # Fetched today by some process (the CLI, another machine): the workers only read it.
        store = open_store(store_url)
        with connect(store, FAKE_APP_ID, FAKE_APP_SECRET, base_urls=fake.url) as api:
            assert CallbackAllowlist(store, api.callback_ips).refresh() is True
        statuses: dict[str, set[int]] = {"inside": set(), "outside": set(), "local": set()}
        with gunicorn(env, workers=2) as server, httpx.Client(timeout=10) as http:
            for _ in range(10):
                for name, forwarded in (("inside", INSIDE), ("outside", OUTSIDE), ("local", None)):
                    signed = sign_request(account, build_message("text", Content="x"), "compat")
                    headers = {} if forwarded is None else {"X-Forwarded-For": forwarded}
                    response = http.post(
                        server.url + account.path,
                        params=signed.query,
                        content=signed.body,
                        headers=headers,
                    )
                    statuses[name].add(response.status_code)
        assert fake.calls(PATH) == 1
    assert statuses == {"inside": {200}, "outside": {403}, "local": {403}}
