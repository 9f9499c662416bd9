"""The application factory: layered config -> Settings -> store, routers, plugins, blueprints."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import Flask

from wxserver.api import DEFAULT_BASE_URLS, WeChatAPI
from wxserver.endpoint import AccountEndpoint
from wxserver.logs import configure_logging
from wxserver.metrics import Metrics
from wxserver.plugins import load_handler_sets
from wxserver.routing import HandlerSet, Router
from wxserver.settings import Account, Kind, Settings, TokenMode, load_settings
from wxserver.store import Store, open_store
from wxserver.tokens import connect
from wxserver.views import callback, errors, health
from wxserver.views import metrics as metrics_views

EXTENSION = "wxserver"


@dataclass(frozen=True, slots=True)
class WxServer:
    """What the app holds in ``app.extensions["wxserver"]``: no module-level state anywhere."""

    settings: Settings
    store: Store
    endpoints: Mapping[str, AccountEndpoint]
    metrics: Metrics


def create_app(
    config: Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
) -> Flask:
    """Build the WSGI app. ``config`` overrides every other layer (tests use it)."""
    settings = load_settings(os.environ if environ is None else environ, config)
    configure_logging(settings.log_format)
    store = open_store(settings.store_url.reveal())
    metrics = Metrics()
    cache: dict[tuple[str, ...], list[HandlerSet]] = {}
    endpoints: dict[str, AccountEndpoint] = {}
    for account in settings.accounts:
        if account.plugins not in cache:
            cache[account.plugins] = load_handler_sets(
                account.plugins, use_entry_points=settings.load_entry_points
            )
        router = Router(cache[account.plugins])
        endpoints[account.name] = AccountEndpoint(
            account, router, store, api=api_client(settings, account, store, metrics)
        )

    app = Flask("wxserver")
    # Werkzeug enforces this for Content-Length and chunked bodies alike.
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_size
    app.extensions[EXTENSION] = WxServer(
        settings=settings, store=store, endpoints=endpoints, metrics=metrics
    )
    app.register_blueprint(callback.blueprint)
    app.register_blueprint(health.blueprint)
    app.register_blueprint(metrics_views.blueprint)
    errors.register(app)
    return app


def api_client(
    settings: Settings, account: Account, store: Store, metrics: Metrics | None = None
) -> WeChatAPI | None:
    """The account's API client with its token owner, or None without an AppSecret.

    WeCom apps use another API (qyapi) and get none here.
    """
    if not account.app_secret or account.kind is Kind.WECOM:
        return None
    app_id = account.app_id
    api = connect(
        store,
        app_id,
        account.app_secret.reveal(),
        base_urls=settings.api_base_url or DEFAULT_BASE_URLS,
        stable=account.token_mode is TokenMode.STABLE,
        on_refresh=None
        if metrics is None
        else lambda credential, result: metrics.token_refreshes.labels(
            app_id, credential, result
        ).inc(),
    )
    if metrics is not None:
        api.on_error = lambda error: metrics.api_errors.labels(app_id, str(error.errcode)).inc()
    return api


def state(app: Flask) -> WxServer:
    """Return the wxserver state of ``app``."""
    value: WxServer = app.extensions[EXTENSION]
    return value
