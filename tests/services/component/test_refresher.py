"""The authorizer token refresher in one process: every token refreshed once, in time, spread."""

from __future__ import annotations

import collections
import itertools

from tests.fakewechat import FakeWeChat, ManualClock
from wxserver.services.api.client import Grant
from wxserver.services.component import ComponentServices
from wxserver.services.component.refresher import RETRY
from wxserver.services.component.tokens import MARGIN, SETTLE

LIFETIME = 7200.0
STEP = 30.0


def seed(component: ComponentServices, fake: FakeWeChat, app_ids: list[str]) -> None:
    """Authorizers that all authorized at this moment: their tokens fetched now."""
    now = fake.clock()
    for app_id in app_ids:
        token, refresh_token = fake.component.authorize(app_id, now)
        component.authorizers.add(app_id, refresh_token)
        component.token_owner(app_id).adopt(Grant(token, int(LIFETIME)))


def run(component: ComponentServices, clock: ManualClock, seconds: float) -> int:
    fetched = 0
    for _ in range(int(seconds / STEP)):
        clock.advance(STEP)
        fetched += component.refresher.tick()
    return fetched


def test_refresher_refreshes_each_token_once_before_it_expires(
    component: ComponentServices, fake: FakeWeChat, clock: ManualClock
) -> None:
    start = clock()
    app_ids = [f"wx{n:016x}" for n in range(300)]
    seed(component, fake, app_ids)
    assert component.refresher.tick() == 0  # nothing is due yet
    fetched = run(component, clock, LIFETIME)
    refreshes = fake.component.refreshes()
    assert fetched == len(refreshes)
    first = {app_id: when for when, app_id in reversed(refreshes)}
    assert sorted(first) == app_ids
    assert all(start + SETTLE <= when <= start + LIFETIME - MARGIN for when in first.values())
    by_app: dict[str, list[float]] = collections.defaultdict(list)
    for when, app_id in refreshes:
        by_app[app_id].append(when)
    gaps = [b - a for times in by_app.values() for a, b in itertools.pairwise(times)]
    assert all(gap >= SETTLE for gap in gaps)  # never a token refreshed twice


def test_refresher_notices_a_new_authorizer_and_forgets_a_removed_one(
    component: ComponentServices, fake: FakeWeChat, clock: ManualClock
) -> None:
    seed(component, fake, ["wxaaaaaaaaaaaaaaaa", "wxbbbbbbbbbbbbbbbb"])
    component.refresher.tick()
    assert component.refresher.due() == 2
    seed(component, fake, ["wxcccccccccccccccc"])
    component.authorizers.remove("wxaaaaaaaaaaaaaaaa")
    run(component, clock, LIFETIME)
    refreshed = {app_id for _, app_id in fake.component.refreshes()}
    assert refreshed == {"wxbbbbbbbbbbbbbbbb", "wxcccccccccccccccc"}


def test_refresher_retries_a_failed_refresh(
    component: ComponentServices, fake: FakeWeChat, clock: ManualClock
) -> None:
    seed(component, fake, ["wxaaaaaaaaaaaaaaaa"])
    component.refresher.tick()
    record = component.token_owner("wxaaaaaaaaaaaaaaaa").record()
    assert record is not None
    fake.inject("/cgi-bin/component/api_authorizer_token", errcode=61023)
    clock.advance(record.refresh_at - clock())
    component.refresher.tick()
    assert fake.component.refreshes() == []
    clock.advance(RETRY)
    assert component.refresher.tick() == 1
    assert len(fake.component.refreshes()) == 1


def test_refresher_spreads_the_first_fetch_of_missing_tokens(
    component: ComponentServices, fake: FakeWeChat, clock: ManualClock
) -> None:
    app_ids = [f"wx{n:016x}" for n in range(200)]
    for app_id in app_ids:  # authorized, but no token held (a store that lost them)
        _, refresh_token = fake.component.authorize(app_id, clock())
        component.authorizers.add(app_id, refresh_token)
    component.refresher.tick()
    assert len(fake.component.refreshes()) < 10
    run(component, clock, LIFETIME)
    per_minute = collections.Counter(int(when // 60) for when, _ in fake.component.refreshes())
    assert {app_id for _, app_id in fake.component.refreshes()} == set(app_ids)
    assert max(per_minute.values()) <= 10
