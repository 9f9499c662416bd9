"""The application factory: layered config -> Settings -> store, routers, plugins, blueprints."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from flask import Flask
from flask.signals import (
    got_request_exception,
    request_finished,
    request_started,
    request_tearing_down,
)
from huey import Huey

from wxserver.allowlist import CallbackAllowlist
from wxserver.answering import Answerer
from wxserver.api import DEFAULT_BASE_URLS, WeChatAPI
from wxserver.endpoint import AccountEndpoint
from wxserver.errors import ConfigError
from wxserver.jobs import HueyJobs, Job, Jobs, ThreadJobs, make_huey
from wxserver.logs import configure_logging
from wxserver.metrics import Metrics
from wxserver.netcheck import NetworkCheck
from wxserver.plugins import load_handler_sets
from wxserver.routing import HandlerSet, Router
from wxserver.settings import Account, Kind, Settings, TokenMode, load_settings
from wxserver.store import Store, open_store
from wxserver.tokens import connect
from wxserver.views import callback, errors, health, internal, jssdk, oauth
from wxserver.views import metrics as metrics_views

EXTENSION = "wxserver"


@dataclass(frozen=True, slots=True)
class WxServer:
    """What the app holds in ``app.extensions["wxserver"]``: no module-level state anywhere."""

    settings: Settings
    store: Store
    endpoints: Mapping[str, AccountEndpoint]
    metrics: Metrics
    jobs: Jobs
    # The job queue that ``wxserver worker`` consumes; None with the in-process store.
    huey: Huey | None = None
    # WeChat's callback IP list when WX_CALLBACK_IP_ALLOWLIST is on.
    allowlist: CallbackAllowlist | None = None
    # WeChat's hourly check of each account's callback URL (accounts with an API client).
    netchecks: Mapping[str, NetworkCheck] = field(default_factory=dict)
    # Each account's callback URL, by account name.
    routes: Mapping[str, callback.CallbackRoute] = field(default_factory=dict)


class WxFlask(Flask):
    """Flask, with each account's callback URL answered straight from the WSGI environ.

    A GET or POST to an account's exact path goes to its :class:`~wxserver.views.callback.
    CallbackRoute` without a Flask request, as long as nothing registered on the app would see
    the difference: no app-wide or callback-blueprint request hooks, and no receivers of the
    request signals (an error tracker, a tracer). Otherwise, and for
    every other request, Flask routes as usual and the blueprint's view calls the same route.
    """

    _direct: dict[str, callback.CallbackRoute] | None = None

    def wsgi_app(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        """Answer one request (see the class docstring)."""
        direct = self._direct
        if direct is None:
            direct = self._direct = self._direct_routes()
        route = direct.get(environ.get("PATH_INFO", ""))
        if (
            route is not None
            and environ.get("REQUEST_METHOD") in _DIRECT_METHODS
            and not _request_signals_observed()
        ):
            return route(environ, start_response)
        return super().wsgi_app(environ, start_response)

    def _direct_routes(self) -> dict[str, callback.CallbackRoute]:
        # Decided at the first request: Flask refuses set-up (hooks, rules) after it, so the
        # decision stays true. The flag is Flask's own, set here because a direct answer never
        # reaches the code in Flask that sets it.
        self._got_first_request = True
        scopes = (None, callback.blueprint.name)
        hooks = (
            self.before_request_funcs,
            self.after_request_funcs,
            self.teardown_request_funcs,
            self.url_value_preprocessors,
        )
        if any(registry.get(scope) for registry in hooks for scope in scopes):
            return {}
        routes = state(self).routes
        return {route.endpoint.account.path: route for route in routes.values()}


_DIRECT_METHODS = frozenset({"GET", "POST"})


def _request_signals_observed() -> bool:
    return bool(
        request_started.receivers
        or request_finished.receivers
        or got_request_exception.receivers
        or request_tearing_down.receivers
    )


class _Finisher:
    """Hands each job to the answerer of its account."""

    def __init__(self, answerers: Mapping[str, Answerer]) -> None:
        self._answerers = answerers

    def finish(self, job: Job) -> None:
        self._answerers[job.account].finish(job)

    def watch(self, job: Job) -> bool | None:
        return self._answerers[job.account].watch(job)


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
    answerers: dict[str, Answerer] = {}
    finisher = _Finisher(answerers)
    huey = make_huey(settings.store_url.reveal())
    jobs: Jobs = (
        HueyJobs(huey, lambda: finisher) if huey is not None else ThreadJobs(lambda: finisher)
    )
    for account in settings.accounts:
        if account.plugins not in cache:
            cache[account.plugins] = load_handler_sets(
                account.plugins, use_entry_points=settings.load_entry_points
            )
        router = Router(cache[account.plugins])
        answerers[account.name] = Answerer(
            account,
            router,
            store,
            api=api_client(settings, account, store, metrics),
            jobs=lambda: jobs,
            metrics=metrics,
            wechat_timeout=settings.wechat_timeout,
            dedup_ttl=settings.dedup_ttl,
        )
        endpoints[account.name] = AccountEndpoint(answerers[account.name])

    app = WxFlask("wxserver")
    # Werkzeug enforces this for Content-Length and chunked bodies alike.
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_size
    app.extensions[EXTENSION] = WxServer(
        settings=settings,
        store=store,
        endpoints=endpoints,
        metrics=metrics,
        jobs=jobs,
        huey=huey,
        netchecks={
            name: NetworkCheck(store, endpoint.api)
            for name, endpoint in endpoints.items()
            if endpoint.api is not None
        },
    )
    if settings.callback_ip_allowlist:
        allowlist = callback_allowlist(endpoints, store, metrics)
        app.extensions[EXTENSION] = replace(state(app), allowlist=allowlist)
    app.extensions[EXTENSION] = replace(
        state(app),
        routes={
            name: callback.CallbackRoute(state(app), endpoint)
            for name, endpoint in endpoints.items()
        },
    )
    app.register_blueprint(callback.blueprint)
    app.register_blueprint(health.blueprint)
    app.register_blueprint(internal.blueprint)
    app.register_blueprint(jssdk.blueprint)
    app.register_blueprint(oauth.blueprint)
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


def callback_allowlist(
    endpoints: Mapping[str, AccountEndpoint], store: Store, metrics: Metrics
) -> CallbackAllowlist:
    """WeChat's callback IP list, fetched with the first account that has an API client.

    The list is the platform's, the same for every Official Account, so one serves them all.
    """
    apis = [endpoint.api for endpoint in endpoints.values() if endpoint.api is not None]
    if not apis:  # load_settings refuses this configuration; a clear error all the same
        raise ConfigError("WX_CALLBACK_IP_ALLOWLIST", "is on, but no account has an AppSecret", "")
    api = apis[0]
    return CallbackAllowlist(
        store, api.callback_ips, on_event=lambda event: metrics.allowlist_events.labels(event).inc()
    )


def state(app: Flask) -> WxServer:
    """Return the wxserver state of ``app``."""
    value: WxServer = app.extensions[EXTENSION]
    return value
