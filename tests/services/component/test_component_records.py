"""What a component keeps in the store: its ticket, its authorizers, its alarms."""

from __future__ import annotations

import pytest

from tests.fakewechat import FakeWeChat, ManualClock
from tests.services.component.conftest import ComponentFactory
from wxserver.protocol.api_errors import ApiError
from wxserver.services.component import ComponentServices
from wxserver.services.component.alarms import MESSAGE_FAILURE, REFUSED_PUSH, Alarms
from wxserver.services.component.authorizers import BUCKETS, DURABLE, Authorizers
from wxserver.services.component.tickets import TICKET_LIFETIME, TicketBox
from wxserver.services.store import MemoryStore


def test_ticket_box_keeps_the_latest_ticket_and_its_age(clock: ManualClock) -> None:
    box = TicketBox(MemoryStore(), "wxcomponent", clock=clock)
    assert (box.read(), box.current(), box.age()) == (None, None, None)
    box.keep("ticket@@@one")
    clock.advance(90)
    box.keep("ticket@@@two")
    clock.advance(30)
    assert box.current() == "ticket@@@two"
    assert box.age() == 30
    assert "ticket@@@two" not in repr(box.read())


def test_ticket_box_forgets_a_ticket_after_twelve_hours() -> None:
    now = [1000.0]
    store = MemoryStore(clock=lambda: now[0])
    box = TicketBox(store, "wxcomponent")
    box.keep("ticket@@@old")
    now[0] += TICKET_LIFETIME + 1
    assert box.current() is None


def test_authorizers_add_list_remove_and_version() -> None:
    authorizers = Authorizers(MemoryStore(), "wxcomponent")
    assert (authorizers.app_ids(), authorizers.version()) == ([], 0)
    for n in range(200):
        authorizers.add(f"wx{n:016x}", f"refresh-{n}")
    assert len(authorizers.app_ids()) == 200
    assert authorizers.version() == 200
    assert authorizers.refresh_token("wx0000000000000007") == "refresh-7"
    authorizers.add("wx0000000000000007", "refresh-7-updated")  # updateauthorized
    assert authorizers.version() == 200  # the list did not change
    assert authorizers.refresh_token("wx0000000000000007") == "refresh-7-updated"
    assert authorizers.remove("wx0000000000000007")
    assert not authorizers.remove("wx0000000000000007")
    assert "wx0000000000000007" not in authorizers.app_ids()
    assert authorizers.refresh_token("wx0000000000000007") is None


def test_authorizers_list_is_spread_over_buckets_and_durable() -> None:
    store = MemoryStore()
    authorizers = Authorizers(store, "wxc")
    for n in range(1000):
        authorizers.add(f"wx{n:016x}", "r")
    sizes = [
        len((store.get(f"component:wxc:authorizers:{b}") or b"").split(b"\n"))
        for b in range(BUCKETS)
    ]
    assert min(sizes) > 0
    assert max(sizes) < 3 * 1000 / BUCKETS
    assert DURABLE >= 10 * 365 * 86400


def test_alarms_count_a_day_and_keep_the_last_reason(clock: ManualClock) -> None:
    alarms = Alarms(MemoryStore(), "wxc", clock=clock)
    assert alarms.tally(REFUSED_PUSH) is None
    alarms.record(REFUSED_PUSH, "SignatureError: first")
    clock.advance(60)
    alarms.record(REFUSED_PUSH, "CryptoError: second")
    tally = alarms.tally(REFUSED_PUSH)
    assert tally is not None
    assert (tally.count, tally.last_at, tally.last_reason) == (2, clock(), "CryptoError: second")
    assert alarms.tally(MESSAGE_FAILURE) is None


def test_component_api_heals_a_rejected_component_token_once(
    component: ComponentServices, fake: FakeWeChat
) -> None:
    component.owner.current()
    fake.inject("/cgi-bin/component/api_query_auth", errcode=40001)
    authorization = component.authorize(fake.component.authorization_code("wxaaaaaaaaaaaaaaaa"))
    assert authorization.app_id == "wxaaaaaaaaaaaaaaaa"
    assert fake.calls("/cgi-bin/component/api_component_token") == 2


def test_component_authorization_code_works_once(
    component: ComponentServices, fake: FakeWeChat
) -> None:
    code = fake.component.authorization_code("wxaaaaaaaaaaaaaaaa")
    component.authorize(code)
    with pytest.raises(ApiError) as refused:
        component.authorize(code)
    assert refused.value.errcode == 61009


def test_component_asks_for_a_ticket_only_without_one_and_once_between_processes(
    make_component: ComponentFactory, fake: FakeWeChat
) -> None:
    services = make_component()
    other = make_component(store=services.store)
    assert services.ensure_ticket()
    assert not other.ensure_ticket()  # asked a moment ago by the first
    assert fake.calls("/cgi-bin/component/api_start_push_ticket") == 1
    services.tickets.keep(fake.component.ticket())
    services.store.delete(f"component:{services.app_id}:ticket-asked")
    assert not services.ensure_ticket()  # a ticket is held
    assert fake.calls("/cgi-bin/component/api_start_push_ticket") == 1
