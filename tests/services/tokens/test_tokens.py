"""The token owner against the fake platform: one fetch per expiry, refresh ahead of it, the lock.

Platform time is a ``ManualClock`` shared by the fake and the owners, so a 7200-second token
expires exactly when a test moves the clock, and every margin keeps its production value.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from tests.fakewechat import APP_ID, APP_SECRET, FakeWeChat, ManualClock
from tests.services.tokens.owners import LIFETIME, OwnerFactory
from wxserver.protocol.api_errors import TokenInvalidError
from wxserver.services.api.client import WeChatAPI
from wxserver.services.store import MemoryStore, open_store
from wxserver.services.tokens import TokenOwner, TokenUnavailableError
from wxserver.services.tokens.owner import CLASSIC_MARGIN, STABLE_MARGIN


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
