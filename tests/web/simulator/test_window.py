"""The customer-service window: 5 messages in 48 h after a message, 3 in a minute after a click."""

from __future__ import annotations

import pytest

from wxserver.web.simulator.window import (
    NOT_FOLLOWING,
    OUT_OF_COUNT,
    OUT_OF_WINDOW,
    ServiceWindow,
)

OPENID = "oSimulatedTester"


class Clock:
    def __init__(self) -> None:
        self.now = 5_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def window(clock: Clock) -> ServiceWindow:
    return ServiceWindow(clock)


def spend(window: ServiceWindow, times: int) -> list[tuple[int, str] | None]:
    return [window.spend(OPENID) for _ in range(times)]


def test_window_closed_for_a_user_who_did_nothing(window: ServiceWindow) -> None:
    assert window.spend(OPENID) == OUT_OF_WINDOW


def test_window_after_a_message_allows_five_for_48_hours(
    window: ServiceWindow, clock: Clock
) -> None:
    window.acted(OPENID, "text")
    clock.now += 47 * 3600
    assert spend(window, 6) == [None] * 5 + [OUT_OF_COUNT]
    clock.now += 3600
    assert window.spend(OPENID) == OUT_OF_WINDOW


@pytest.mark.parametrize("event", ["CLICK", "subscribe", "SCAN", "scancode_push"])
def test_window_after_a_click_follow_or_scan_allows_three_in_a_minute(
    window: ServiceWindow, clock: Clock, event: str
) -> None:
    window.acted(OPENID, "event", event)
    assert spend(window, 4) == [None, None, None, OUT_OF_COUNT]
    window.acted(OPENID, "event", event)
    clock.now += 61
    assert window.spend(OPENID) == OUT_OF_WINDOW


@pytest.mark.parametrize("event", ["LOCATION", "VIEW", "pic_weixin"])
def test_window_other_events_open_nothing(window: ServiceWindow, event: str) -> None:
    window.acted(OPENID, "event", event)
    assert window.spend(OPENID) == OUT_OF_WINDOW


def test_window_a_message_window_outlives_a_click_window(
    window: ServiceWindow, clock: Clock
) -> None:
    window.acted(OPENID, "text")
    window.acted(OPENID, "event", "CLICK")
    clock.now += 120
    assert spend(window, 5) == [None] * 5


def test_window_unfollowed_user_gets_nothing_until_following_again(window: ServiceWindow) -> None:
    window.acted(OPENID, "text")
    window.acted(OPENID, "event", "unsubscribe")
    assert window.spend(OPENID) == NOT_FOLLOWING
    assert window.following(OPENID) is False
    window.acted(OPENID, "event", "subscribe")
    assert window.following(OPENID) is True
    assert window.spend(OPENID) is None


def test_window_a_message_means_the_user_follows(window: ServiceWindow) -> None:
    window.acted(OPENID, "event", "unsubscribe")
    window.acted(OPENID, "text")
    assert window.following(OPENID) is True
