"""Shared fixtures: apps built from explicit settings, never from the host's environment."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from tests.support import HERMETIC_ENV, AppFactory, config_with
from wxserver import create_app
from wxserver.testing import WeChatTestClient


@pytest.fixture
def make_app() -> AppFactory:
    """Build an app from BASE_CONFIG merged with the given overrides."""

    def factory(config: dict[str, Any] | None = None, **account: Any) -> Flask:
        return create_app(
            config if config is not None else config_with(**account), environ=HERMETIC_ENV
        )

    return factory


@pytest.fixture
def app(make_app: AppFactory) -> Flask:
    """An app with the echo handlers, in compat mode."""
    return make_app()


@pytest.fixture
def wechat(app: Flask) -> WeChatTestClient:
    """A WeChat stand-in talking to ``app`` in its account's mode."""
    return WeChatTestClient(app)
