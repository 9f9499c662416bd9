"""Apps for the tests of the web pages' routes (internal, JS-SDK, OAuth), wired to a fake WeChat."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from flask import Flask

from tests.fakewechat import APP_ID as FAKE_APP_ID
from tests.fakewechat import APP_SECRET as FAKE_APP_SECRET
from tests.fakewechat import FakeWeChat
from tests.support import HERMETIC_ENV, TOKEN, config_with
from wxserver import create_app
from wxserver.services.api.client import WeChatAPI
from wxserver.services.tokens import TokenOwner

SECRET = "internal-secret-0123456789abcdef"

AppBuilder = Callable[..., Flask]


def owner_of(app: Flask, account: str = "default") -> TokenOwner:
    api = app.extensions["wxserver"].accounts[account].api
    assert isinstance(api, WeChatAPI)
    assert isinstance(api.tokens, TokenOwner)
    return api.tokens


def wired_app(
    fake: FakeWeChat,
    *,
    secret: str = SECRET,
    base_url: str | None = None,
    others: Mapping[str, Mapping[str, Any]] | None = None,
    **account: Any,
) -> Flask:
    """An app whose default account talks to ``fake``, with the web-page and internal routes.

    ``others`` adds accounts by name; they get the fake's credentials unless they say otherwise.
    """
    account.setdefault("app_id", FAKE_APP_ID)
    account.setdefault("app_secret", FAKE_APP_SECRET)
    config = config_with(**account)
    for name, settings in (others or {}).items():
        credentials = {"token": TOKEN, "app_id": FAKE_APP_ID, "app_secret": FAKE_APP_SECRET}
        config["accounts"][name] = {**credentials, **settings}
    config["api_base_url"] = base_url or fake.url
    config["internal_secret"] = secret
    app = create_app(config, environ=HERMETIC_ENV)
    for services in app.extensions["wxserver"].accounts.values():
        if services.api is not None:
            # The production back-off, shortened so that the failure tests stay fast.
            services.api.backoff = 0.01
            owner_of(app, services.account.name).backoff = 0.01
    return app


def close_apis(app: Flask) -> None:
    """Close the API clients' pooled connections."""
    for services in app.extensions["wxserver"].accounts.values():
        if services.api is not None:
            services.api.close()
