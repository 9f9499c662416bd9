"""The component's token and its authorizers' tokens: fetched, adopted, spread over time."""

from __future__ import annotations

import pytest

from tests.fakewechat import FakeWeChat, ManualClock
from tests.services.component.conftest import ComponentFactory
from wxserver.protocol.api_errors import ApiError
from wxserver.services.component import ComponentServices
from wxserver.services.component.api import NotAuthorizedError, TicketMissingError
from wxserver.services.component.tokens import MARGIN, SETTLE, phase, spread_refresh_time

AUTHORIZER = "wx1234567890abcdef"
LIFETIME = 7200.0


def test_phase_is_a_fraction_fixed_by_the_app_id() -> None:
    values = [phase(f"wx{n:016x}") for n in range(2000)]
    assert all(0 <= value < 1 for value in values)
    assert phase("wxabc") == phase("wxabc")
    # Spread evenly: each tenth of the period holds about a tenth of the authorizers.
    tenths = [sum(1 for v in values if k / 10 <= v < (k + 1) / 10) for k in range(10)]
    assert min(tenths) > 150
    assert max(tenths) < 250


@pytest.mark.parametrize("fetched_at", [0.0, 1_700_000_000.0, 1_700_003_333.3])
def test_spread_refresh_time_lies_between_settle_and_margin(fetched_at: float) -> None:
    for n in range(500):
        due = spread_refresh_time(f"wx{n:016x}", fetched_at, LIFETIME)
        assert fetched_at + SETTLE <= due <= fetched_at + LIFETIME - MARGIN


def test_spread_refresh_time_keeps_each_app_id_at_its_phase() -> None:
    period = LIFETIME - SETTLE - MARGIN
    first = spread_refresh_time(AUTHORIZER, 1_700_000_000.0, LIFETIME)
    second = spread_refresh_time(AUTHORIZER, first, LIFETIME)
    assert second - first == pytest.approx(period)


def test_spread_refresh_time_of_a_short_token_is_half_way() -> None:
    assert spread_refresh_time(AUTHORIZER, 100.0, 600.0) == 400.0


def test_component_token_needs_a_ticket(make_component: ComponentFactory) -> None:
    services = make_component()
    with pytest.raises(TicketMissingError, match="component_verify_ticket"):
        services.owner.current()


def test_component_token_with_an_unknown_ticket_is_refused(
    make_component: ComponentFactory,
) -> None:
    services = make_component()
    services.tickets.keep("ticket@@@not-one-the-fake-pushed")
    with pytest.raises(ApiError) as refused:
        services.owner.current()
    assert refused.value.errcode == 61006


def test_component_token_is_fetched_once_and_shared(
    component: ComponentServices, make_component: ComponentFactory, fake: FakeWeChat
) -> None:
    token = component.owner.current()
    other = make_component(store=component.store)  # another process on the same store
    assert other.owner.current() == token
    assert fake.calls("/cgi-bin/component/api_component_token") == 1


def test_authorize_keeps_refresh_token_and_adopts_the_returned_token(
    component: ComponentServices, fake: FakeWeChat
) -> None:
    authorization = component.authorize(fake.component.authorization_code(AUTHORIZER))
    assert authorization.app_id == AUTHORIZER
    assert authorization.func_info == (1, 2)
    owner = component.token_owner(AUTHORIZER)
    assert owner.current() == fake.component.state.current[AUTHORIZER]
    assert fake.component.refreshes() == []  # adopted: no api_authorizer_token call


def test_authorizer_token_is_refreshed_with_its_refresh_token_at_its_phase(
    component: ComponentServices, fake: FakeWeChat, clock: ManualClock
) -> None:
    component.authorize(fake.component.authorization_code(AUTHORIZER))
    owner = component.token_owner(AUTHORIZER)
    record = owner.record()
    assert record is not None
    assert record.refresh_at == spread_refresh_time(AUTHORIZER, record.fetched_at, LIFETIME)
    assert not owner.refresh_if_due()
    clock.advance(record.refresh_at - clock() + 1)
    assert owner.refresh_if_due()
    assert owner.current() == fake.component.state.current[AUTHORIZER]
    assert [app_id for _, app_id in fake.component.refreshes()] == [AUTHORIZER]


def test_authorizer_refresh_token_handed_back_is_kept(
    component: ComponentServices, fake: FakeWeChat, clock: ManualClock
) -> None:
    component.authorize(fake.component.authorization_code(AUTHORIZER))
    rotated = "refreshtoken@@@rotated"
    fake.component.state.refresh_tokens[AUTHORIZER] = rotated
    component.authorizers.set_refresh_token(AUTHORIZER, rotated)
    clock.advance(LIFETIME)
    assert component.token_owner(AUTHORIZER).current()
    assert component.authorizers.refresh_token(AUTHORIZER) == rotated


def test_authorizer_without_a_refresh_token_is_not_authorized(component: ComponentServices) -> None:
    with pytest.raises(NotAuthorizedError, match="has not authorized"):
        component.token_owner("wxnotauthorized00").current()


def test_authorizer_clients_share_the_component_connections(component: ComponentServices) -> None:
    first, second = component.client("wxaaaaaaaaaaaaaaaa"), component.client("wxbbbbbbbbbbbbbbbb")
    assert first is component.client("wxaaaaaaaaaaaaaaaa")
    assert first._pool is second._pool is component.api._pool
    assert first.tokens is not second.tokens
