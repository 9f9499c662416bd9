"""The application factory: settings -> metrics -> store -> accounts -> jobs -> routes.

``create_app`` reads the layered configuration and hands it to :func:`init_app`, which builds
each part once, in that order, every part from the ones before it, and stores the result in
``app.extensions["wxserver"]`` (see :mod:`wxserver.web.state`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

from flask import Flask

from wxserver.protocol.callback import CallbackProtocol, Kind
from wxserver.protocol.errors import ConfigError, WxServerError
from wxserver.protocol.handlers import HandlerSet
from wxserver.protocol.routing import Router
from wxserver.protocol.wire import wire_of
from wxserver.services.account import AccountServices
from wxserver.services.allowlist import CallbackAllowlist
from wxserver.services.answering import Answerer
from wxserver.services.api.account import api_client
from wxserver.services.background import Background
from wxserver.services.config import Settings, load_settings
from wxserver.services.config.environment import unknown_names
from wxserver.services.config.model import COMPONENT
from wxserver.services.delivery import Delivery
from wxserver.services.jobs import HueyJobs, Jobs, ThreadJobs
from wxserver.services.logs import configure_logging
from wxserver.services.metrics import Metrics
from wxserver.services.netcheck import NetworkCheck
from wxserver.services.pay.merchant import pay_pipeline
from wxserver.services.plugins import load_handler_sets
from wxserver.services.queue import make_huey
from wxserver.services.startup import report_when_uncaught
from wxserver.services.store import Store, open_shared_store
from wxserver.web import callback, component, errors, health, internal, jssdk, oauth, pay
from wxserver.web import metrics as metrics_views
from wxserver.web.component import ComponentSite
from wxserver.web.direct import WxFlask
from wxserver.web.pipeline import CallbackPipeline
from wxserver.web.state import EXTENSION, WxServer

log = logging.getLogger("wxserver.config")


def create_app(
    config: Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
) -> Flask:
    """Build the WSGI app. ``config`` overrides every other layer (tests use it).

    A bad setting or plugin raises its WxServerError; if nothing catches it, the process ends
    with the one-paragraph report instead of a traceback (see :mod:`wxserver.services.startup`).
    """
    environ = os.environ if environ is None else environ
    try:
        settings = load_settings(environ, config)
        configure_logging(settings.log_format)
        for note in unknown_names(environ):
            log.warning("%s", note)
        app = WxFlask("wxserver")
        init_app(app, settings)
    except WxServerError as exc:
        report_when_uncaught(exc)
        raise
    return app


def init_app(app: WxFlask, settings: Settings) -> WxServer:
    """Build wxserver's parts for ``settings`` on ``app``, each once, in dependency order."""
    # Werkzeug enforces this for Content-Length and chunked bodies alike.
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_size
    metrics = Metrics()
    store = open_shared_store(
        settings.store_url.reveal(), settings.store_fallback_url, on_change=metrics.store_state
    )
    accounts = account_services(settings, store, metrics)
    background = Background()
    deliveries = {name: Delivery(services, background) for name, services in accounts.items()}
    site = ComponentSite.build(settings, store, metrics, background)
    if site is not None:
        deliveries[COMPONENT] = site.delivery
    huey = make_huey(settings.store_url.reveal())
    jobs: Jobs = HueyJobs(huey, deliveries) if huey is not None else ThreadJobs(deliveries)
    allowlist = (
        callback_allowlist(accounts, store, metrics) if settings.callback_ip_allowlist else None
    )
    routes = {
        name: callback.CallbackRoute(
            CallbackPipeline(_protocol(services), Answerer(services, deliveries[name], jobs)),
            settings,
            metrics,
            allowlist,
        )
        for name, services in accounts.items()
    }
    # WeChat Pay's notify URL, handled by the pay rules of every account's handler sets.
    merchant = settings.pay
    notify = (
        pay_pipeline(
            merchant,
            store,
            metrics,
            [hs for services in accounts.values() for hs in services.router.handler_sets],
            huey,
        )
        if merchant is not None
        else None
    )
    server = WxServer(
        settings=settings,
        store=store,
        metrics=metrics,
        accounts=accounts,
        jobs=jobs,
        huey=huey,
        allowlist=allowlist,
        netchecks={
            name: NetworkCheck(store, services.api)
            for name, services in accounts.items()
            if services.api is not None
        },
        pay=notify,
        component=None if site is None else site.services,
    )
    app.extensions[EXTENSION] = server
    app.register_blueprint(callback.blueprint(routes))
    app.register_blueprint(health.blueprint)
    app.register_blueprint(internal.blueprint)
    app.register_blueprint(jssdk.blueprint)
    app.register_blueprint(oauth.blueprint)
    app.register_blueprint(metrics_views.blueprint)
    if merchant is not None and notify is not None:
        app.register_blueprint(pay.blueprint(notify, merchant.path, settings.max_body_size))
    errors.register(app)
    direct, messages = list(routes.values()), None
    if site is not None:
        events, messages = site.routes(settings, metrics, jobs)
        app.register_blueprint(component.blueprint(site.services.component, events, messages))
        direct.append(events)
    app.serve_directly(direct, messages)
    return server


def account_services(
    settings: Settings, store: Store, metrics: Metrics
) -> dict[str, AccountServices]:
    """Each account's handler sets, API client and store, by account name."""
    # Accounts naming the same plugins share one load of them.
    loaded: dict[tuple[str, ...], list[HandlerSet]] = {}
    services: dict[str, AccountServices] = {}
    for account in settings.accounts:
        if account.plugins not in loaded:
            loaded[account.plugins] = load_handler_sets(
                account.plugins,
                use_entry_points=settings.load_entry_points,
                search_path=settings.plugin_path,
            )
        services[account.name] = AccountServices(
            account,
            Router(loaded[account.plugins]),
            store,
            api_client(settings, account, store, metrics),
            metrics,
            dedup_ttl=settings.dedup_ttl,
            wechat_timeout=settings.wechat_timeout,
        )
    return services


def _protocol(services: AccountServices) -> CallbackProtocol:
    account = services.account
    return CallbackProtocol(
        name=account.name,
        token=account.token.reveal(),
        app_id=account.app_id,
        encoding_aes_keys=account.encoding_aes_keys,
        kind=account.kind,
        mode=account.mode,
        tolerance=account.timestamp_tolerance,
        wire=wire_of(account.format),
    )


def callback_allowlist(
    accounts: Mapping[str, AccountServices], store: Store, metrics: Metrics
) -> CallbackAllowlist:
    """WeChat's callback IP list, fetched with the first Official Account that has an API client.

    The list is the platform's, the same for every Official Account, so one serves them all.
    """
    apis = [
        services.api
        for services in accounts.values()
        if services.api is not None and services.account.kind is Kind.MP
    ]
    if not apis:  # load_settings refuses this configuration; a clear error all the same
        raise ConfigError("WX_CALLBACK_IP_ALLOWLIST", "is on, but no account has an AppSecret", "")
    return CallbackAllowlist(
        store,
        apis[0].callback_ips,
        on_event=lambda event: metrics.allowlist_events.labels(event).inc(),
    )
