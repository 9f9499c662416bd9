"""The token owner when a fetch fails: a rejected token, alerts only a person can fix, back-off.

Platform time is a ``ManualClock`` shared by the fake and the owners, so a 7200-second token
expires exactly when a test moves the clock, and every margin keeps its production value.
"""

from __future__ import annotations

import time

import pytest

from tests.fakewechat import FakeWeChat, ManualClock
from tests.services.tokens.owners import LIFETIME, OwnerFactory
from wxserver.protocol.api_errors import ConfigAlertError, RetryableApiError, TokenInvalidError
from wxserver.services.tokens.owner import STABLE_MARGIN

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
