"""An Open Platform component's two URLs, on the same callback route and pipeline as an account.

- The authorization-event URL (``component.path``, default ``/wechat/component``): the pushes
  carry ``InfoType`` instead of a message (component_verify_ticket, authorized,
  updateauthorized, unauthorized). :class:`EventPipeline` checks and opens them with the
  component's Token and key exactly as a secure-mode account's message, hands the fields to
  :meth:`~wxserver.services.component.ComponentServices.on_event` and answers ``success``.
- The message URL (``component.message_path``, default ``/wechat/component/$APPID$``): every
  authorizer's messages, opened with the component's Token and key by a
  :class:`~wxserver.web.pipeline.CallbackPipeline` of its own (the AppID from the path on the
  message), answered by the component's handler sets with an API client bound to the authorizer.

Every refusal at the first URL and every failure at the second is counted in the metrics and in
the store, for ``wxserver doctor`` (see :mod:`wxserver.services.component.alarms`).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from flask import Blueprint, Response, request

from wxserver.protocol.callback import CallbackProtocol, Kind, Mode
from wxserver.protocol.errors import ProtocolError
from wxserver.protocol.replies import SUCCESS
from wxserver.protocol.routing import Router
from wxserver.protocol.wire import wire_of
from wxserver.services.account import AccountServices
from wxserver.services.answering import Answerer
from wxserver.services.api.client import DEFAULT_BASE_URLS
from wxserver.services.background import Background
from wxserver.services.component import ComponentServices
from wxserver.services.component.alarms import MESSAGE_FAILURE
from wxserver.services.config import Account, Component, Settings
from wxserver.services.config.model import COMPONENT
from wxserver.services.delivery import Delivery
from wxserver.services.jobs import Jobs
from wxserver.services.metrics import Metrics
from wxserver.services.plugins import load_handler_sets
from wxserver.services.store import Store
from wxserver.web.callback import STATUS_LINES, CallbackRoute, Environ, StartResponse
from wxserver.web.pipeline import TEXT, CallbackPipeline, Result

# An authorizer's AppID in the message URL: refused (404) if it could not be one.
_APP_ID = re.compile(r"[A-Za-z0-9]{1,32}")
# Outcomes of an authorizer's message that WeChat sees as a failed or late push.
_FAILED = frozenset({"handler-error", "reply-error", "internal-error", "late"})


def _protocol(component: Component, name: str) -> CallbackProtocol:
    return CallbackProtocol(
        name=name,
        token=component.token.reveal(),
        app_id=component.app_id,
        encoding_aes_keys=component.encoding_aes_keys,
        kind=Kind.COMPONENT,
        mode=Mode.SECURE,
        tolerance=component.timestamp_tolerance,
        wire=wire_of(component.format),
    )


class EventPipeline:
    """The authorization-event URL: verify, open, act on the InfoType, answer ``success``."""

    def __init__(self, services: ComponentServices) -> None:
        self.services = services
        component = services.component
        self.protocol = _protocol(component, COMPONENT)
        # The account-shaped view of the URL that the route reads: its name, path and budget.
        self._account = replace(component.authorizers_account(), path=component.path)

    @property
    def account(self) -> Account:
        """The component's stand-in account, at the authorization-event path."""
        return self._account

    def handshake(self, query: Mapping[str, str], echostr: bytes | None) -> Result:
        """A GET handshake, signed with the component's Token."""
        return Result(200, self.protocol.handshake(query, echostr, time.time()), TEXT, "handshake")

    def admit(self, query: Mapping[str, str]) -> float:
        """msg_signature present, ``signature`` (when sent) and the timestamp checked."""
        self.services.start()
        arrived = time.time()
        self.protocol.admit(query, arrived)
        return arrived

    def answer(
        self, arrived: float, query: Mapping[str, str], body: bytes, authorizer: str | None = None
    ) -> Result:
        """Open the push and act on it; always ``success`` once it is opened."""
        # Not a message (InfoType, no MsgType): its fields are the raw of an UnknownMessage.
        message, mode, _ = self.protocol.open(query, body)
        fields = message.raw
        outcome = self.services.on_event(fields)
        info_type = str(fields.get("InfoType") or "-")
        return Result(200, SUCCESS, TEXT, outcome, mode, info_type)

    def refused(self, error: ProtocolError) -> Result:
        """A refused push: counted (推送component_verify_ticket失败) and answered as any refusal."""
        self.services.refused(f"{type(error).__name__}: {error}")
        return CallbackPipeline.refused(error)


class AuthorizerRoute(CallbackRoute):
    """The message URL: one route for every authorizer, the AppID taken from the path."""

    def __init__(
        self,
        pipeline: CallbackPipeline,
        settings: Settings,
        metrics: Metrics,
        services: ComponentServices,
    ) -> None:
        super().__init__(pipeline, settings, metrics, None)
        self.services = services

    @staticmethod
    def takes(app_id: str) -> bool:
        """Whether ``app_id`` could be an AppID (anything else is not this route: 404)."""
        return _APP_ID.fullmatch(app_id) is not None

    def view(self, account: str, app_id: str = "") -> Response:
        """The Flask view: the authorizer's AppID from the URL."""
        if not self.takes(app_id):
            return Response("Not Found\n", status=404, content_type=TEXT)
        self.services.start()
        status, body, content_type = self.respond(request.environ, app_id)
        return Response(body, status=status, content_type=content_type)

    def answer(
        self, environ: Environ, start_response: StartResponse, app_id: str
    ) -> Iterable[bytes]:
        """The route as a WSGI app, for an AppID already taken from the path (direct route)."""
        self.services.start()
        status, body, content_type = self.respond(environ, app_id)
        start_response(
            STATUS_LINES[status],
            [("Content-Type", content_type), ("Content-Length", str(len(body)))],
        )
        return [body]

    def _finish(self, method: str, result: Result, started: float) -> None:
        super()._finish(method, result, started)
        if result.status >= 400 or result.outcome in _FAILED:
            reason = result.outcome if result.status < 400 else f"refused-{result.outcome}"
            self.services.alarms.record(MESSAGE_FAILURE, f"{reason}: {result.reason}".rstrip(": "))
            metrics = self.services.metrics
            if metrics is not None:
                metrics.authorizer_failures.labels(self.services.app_id, reason).inc()


@dataclass(frozen=True, slots=True)
class ComponentSite:
    """A component's services and the parts its two URLs are built from."""

    services: ComponentServices
    authorizers: AccountServices
    delivery: Delivery

    @classmethod
    def build(
        cls, settings: Settings, store: Store, metrics: Metrics, background: Background
    ) -> ComponentSite | None:
        """The site of ``settings.component``; None without a component."""
        component = settings.component
        if component is None:
            return None
        services = ComponentServices(
            component,
            store,
            base_urls=settings.api_base_url or DEFAULT_BASE_URLS,
            metrics=metrics,
            background=background,
        )
        sets = load_handler_sets(
            component.handler_sets, use_entry_points=settings.load_entry_points
        )
        authorizers = AccountServices(
            component.authorizers_account(),
            Router(sets),
            store,
            None,
            metrics,
            dedup_ttl=settings.dedup_ttl,
            wechat_timeout=settings.wechat_timeout,
            component=services,
        )
        return cls(services, authorizers, Delivery(authorizers, background))

    def routes(
        self, settings: Settings, metrics: Metrics, jobs: Jobs
    ) -> tuple[CallbackRoute, AuthorizerRoute]:
        """The authorization-event route and the message route."""
        events = CallbackRoute(EventPipeline(self.services), settings, metrics, None)
        answerer = Answerer(self.authorizers, self.delivery, jobs)
        pipeline = CallbackPipeline(_protocol(self.services.component, COMPONENT), answerer)
        return events, AuthorizerRoute(pipeline, settings, metrics, self.services)


def blueprint(component: Component, events: CallbackRoute, messages: AuthorizerRoute) -> Blueprint:
    """The component's two URLs."""
    urls = Blueprint("component", __name__)
    methods = ["GET", "POST"]
    defaults = {"account": COMPONENT}
    urls.add_url_rule(
        component.path, endpoint="events", view_func=events.view, methods=methods, defaults=defaults
    )
    urls.add_url_rule(
        component.message_url_rule(),
        endpoint="messages",
        view_func=messages.view,
        methods=methods,
        defaults=defaults,
    )
    return urls
