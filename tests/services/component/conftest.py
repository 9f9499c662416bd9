"""Fixtures of the component's services: the fake platform on a ManualClock, and the services."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.component_player import COMPONENT_KEY, COMPONENT_TOKEN
from tests.fakewechat import COMPONENT_APP_ID, COMPONENT_SECRET, FakeWeChat, ManualClock
from wxserver.services.component import ComponentServices
from wxserver.services.config import Component, load_settings
from wxserver.services.store import MemoryStore, Store

ComponentFactory = Callable[..., ComponentServices]


def component_settings(**overrides: Any) -> Component:
    """The fake's component, as the settings describe it."""
    table = {
        "app_id": COMPONENT_APP_ID,
        "app_secret": COMPONENT_SECRET,
        "token": COMPONENT_TOKEN,
        "encoding_aes_key": COMPONENT_KEY,
        **overrides,
    }
    component = load_settings({"WX_ENV": "test"}, {"component": table}).component
    assert component is not None
    return component


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def fake(clock: ManualClock) -> Iterator[FakeWeChat]:
    with FakeWeChat(clock=clock) as running:
        yield running


@pytest.fixture
def make_component(fake: FakeWeChat, clock: ManualClock) -> Iterator[ComponentFactory]:
    """Services of the fake's component on ``store`` (a fresh MemoryStore by default)."""
    built: list[ComponentServices] = []

    def factory(store: Store | None = None, **options: Any) -> ComponentServices:
        services = ComponentServices(
            component_settings(),
            store if store is not None else MemoryStore(),
            base_urls=fake.url,
            clock=clock,
            owner_options={"backoff": 0.01, **options},
        )
        built.append(services)
        return services

    yield factory
    for services in built:
        services.api.close()


@pytest.fixture
def component(make_component: ComponentFactory, fake: FakeWeChat) -> ComponentServices:
    """Services of the fake's component, holding a ticket the fake accepts."""
    services = make_component()
    services.tickets.keep(fake.component.ticket())
    return services
