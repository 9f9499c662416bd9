"""One Open Platform component's services: its ticket, token, authorizers and their API clients.

:class:`ComponentServices` is built once with the app. The web layer hands it the authorization
events (:meth:`~ComponentServices.on_event`); the authorizers' messages reach handler sets like an
account's, and a handler reaches the authorizer through the API client bound to it
(:meth:`~ComponentServices.api_for`), which shares the component's connections and asks the
authorizer's own token owner for its token.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from typing import Any

from wxserver.protocol.api_errors import ApiError, ApiUnavailableError
from wxserver.services import forks
from wxserver.services.api.client import DEFAULT_BASE_URLS, WeChatAPI
from wxserver.services.background import Background
from wxserver.services.component.alarms import REFUSED_PUSH, Alarms
from wxserver.services.component.api import Authorization, ComponentAPI
from wxserver.services.component.authorizers import Authorizers
from wxserver.services.component.refresher import AuthorizerRefresher
from wxserver.services.component.tickets import TicketBox
from wxserver.services.component.tokens import AuthorizerFetcher, AuthorizerTokenOwner
from wxserver.services.config import Component
from wxserver.services.metrics import Metrics
from wxserver.services.store import Store
from wxserver.services.tokens import TokenOwner

log = logging.getLogger("wxserver.component")

# API clients kept per process: the authorizers that are busy; others are rebuilt on demand.
CLIENTS = 1024
# Processes starting together ask WeChat for a ticket once between them.
ASK_TICKET_EVERY = 60.0


class ComponentServices:
    """The services of one component, shared by its two URLs, its handlers and its jobs."""

    def __init__(
        self,
        component: Component,
        store: Store,
        *,
        base_urls: str | Sequence[str] = DEFAULT_BASE_URLS,
        metrics: Metrics | None = None,
        background: Background | None = None,
        clock: Callable[[], float] = time.time,
        owner_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.component = component
        self.app_id = app_id = component.app_id
        self.store = store
        self.metrics = metrics
        self.background = background or Background()
        self._clock = clock
        self.tickets = TicketBox(store, app_id, clock=clock)
        self.authorizers = Authorizers(store, app_id, clock=clock)
        self.alarms = Alarms(store, app_id, clock=clock)
        on_error = (
            None
            if metrics is None
            else lambda error: metrics.api_errors.labels(app_id, str(error.errcode)).inc()
        )
        self.api = ComponentAPI(
            app_id,
            component.app_secret.reveal(),
            self.tickets.current,
            base_urls=base_urls,
            on_error=on_error,
        )
        self._owner_options: dict[str, Any] = {"clock": clock, **(owner_options or {})}
        # The component_access_token: fetched anew on each call, so refreshed 10 min early.
        self.owner = TokenOwner(
            store, self.api, app_id, stable=False, on_refresh=self._told, **self._owner_options
        )
        self.api.tokens = self.owner
        self.started: Future[Any] | None = None
        self._started_pid = 0
        self._clients: OrderedDict[str, WeChatAPI] = OrderedDict()
        self._guard = threading.Lock()
        self.refresher = AuthorizerRefresher(
            self.authorizers, self.token_owner, clock=clock, on_failure=self._refresh_failed
        )

    def __repr__(self) -> str:
        return f"ComponentServices(app_id={self.app_id!r}, store={self.store!r})"

    # --- authorizers' clients and tokens --------------------------------------------------

    def client(self, app_id: str) -> WeChatAPI:
        """The API client of authorizer ``app_id``, on its own token owner."""
        with self._guard:
            found = self._clients.get(app_id)
            if found is not None:
                self._clients.move_to_end(app_id)
                return found
        api = WeChatAPI(
            app_id, "", base_urls=self.api.base_urls, share=self.api, on_error=self.api.on_error
        )
        fetcher = AuthorizerFetcher(self.api, self.authorizers, app_id, lambda: api)
        api.tokens = AuthorizerTokenOwner(
            self.store, fetcher, on_refresh=self._told_authorizer, **self._owner_options
        )
        with self._guard:
            api = self._clients.setdefault(app_id, api)
            while len(self._clients) > CLIENTS:
                self._clients.popitem(last=False)
        return api

    def api_for(self, app_id: str | None) -> WeChatAPI | None:
        """The client of the authorizer a message came for; None for no authorizer."""
        return None if not app_id else self.client(app_id)

    def token_owner(self, app_id: str) -> AuthorizerTokenOwner:
        """The owner of authorizer ``app_id``'s tokens."""
        owner = self.client(app_id).tokens
        if not isinstance(owner, AuthorizerTokenOwner):  # client() always sets one
            raise TypeError(f"authorizer {app_id} has no token owner")
        return owner

    # --- authorization events ------------------------------------------------------------

    def on_event(self, fields: Mapping[str, Any]) -> str:
        """Act on a push to the authorization-event URL; the outcome for the log line."""
        info_type = str(fields.get("InfoType") or "")
        if info_type == "component_verify_ticket":
            ticket = str(fields.get("ComponentVerifyTicket") or "")
            if not ticket:
                self.refused("a component_verify_ticket push without ComponentVerifyTicket")
                return "ticket-missing"
            self.tickets.keep(ticket)
            if self.metrics is not None:
                self.metrics.component_tickets.labels(self.app_id, "stored").inc()
            return "ticket"
        authorizer = str(fields.get("AuthorizerAppid") or "")
        if info_type in ("authorized", "updateauthorized"):
            code = str(fields.get("AuthorizationCode") or "")
            if code:
                self.background.submit(self._authorize_quietly, code, authorizer)
            return info_type
        if info_type == "unauthorized" and authorizer:
            self.authorizers.remove(authorizer)
            log.info("authorizer %s withdrew its authorization of %s", authorizer, self.app_id)
            return info_type
        return "ignored"

    def authorize(self, code: str) -> Authorization:
        """Exchange an authorization code: keep the authorizer, its refresh token and token."""
        authorization = self.api.query_auth(code)
        if authorization.refresh_token:
            self.authorizers.add(authorization.app_id, authorization.refresh_token)
        self.token_owner(authorization.app_id).adopt(authorization.grant)
        log.info("authorizer %s authorized component %s", authorization.app_id, self.app_id)
        return authorization

    def _authorize_quietly(self, code: str, authorizer: str) -> None:
        try:
            self.authorize(code)
        except (ApiError, ApiUnavailableError) as error:
            log.error("authorization of %s could not be completed: %s", authorizer or "?", error)

    def refused(self, reason: str) -> None:
        """A push to the authorization-event URL was refused: counted, and kept for doctor."""
        self.alarms.record(REFUSED_PUSH, reason)
        if self.metrics is not None:
            self.metrics.component_tickets.labels(self.app_id, "refused").inc()

    # --- start-up -------------------------------------------------------------------------

    def ensure_ticket(self) -> bool:
        """Ask WeChat to push a ticket when none is held (once between processes); True if
        asked."""
        if self.tickets.read() is not None:
            return False
        if not self.store.add(f"component:{self.app_id}:ticket-asked", b"1", ttl=ASK_TICKET_EVERY):
            return False
        try:
            self.api.start_push_ticket()
        except (ApiError, ApiUnavailableError) as error:
            log.warning("asking WeChat to push a component_verify_ticket failed: %s", error)
            return False
        log.info("no component_verify_ticket held: asked WeChat to push one")
        return True

    def start(self) -> Future[Any] | None:
        """Once in each process: ask for a ticket if none is held (on a thread; ``started``
        tells when it is done), and start the authorizer token refresher.

        Never in the process that builds the app before forking (gunicorn's master with
        preload_app): a thread holding a lock at the fork would leave it held in every worker.
        gunicorn calls this as each worker starts (config/gunicorn.conf.py); the component's
        URLs call it too, for any other server.
        """
        if self._started_pid == forks.pid:  # nearly always: started already
            return self.started
        with self._guard:
            if self._started_pid != forks.pid:
                self._started_pid = forks.pid
                self.started = self.background.submit(self.ensure_ticket)
                self.refresher.run_in_background()
        return self.started

    def observe(self) -> None:
        """Set the gauge a scrape shows: the ticket's age."""
        if self.metrics is None:
            return
        age = self.tickets.age()
        self.metrics.component_ticket_age.labels(self.app_id).set(-1 if age is None else age)

    # --- metrics hooks --------------------------------------------------------------------

    def _told(self, credential: str, result: str) -> None:
        if self.metrics is not None:
            name = "component_access_token" if credential == "access_token" else credential
            self.metrics.token_refreshes.labels(self.app_id, name, result).inc()

    def _told_authorizer(self, credential: str, result: str) -> None:
        # Labelled with the component: one series per result, not one per authorizer.
        if self.metrics is not None:
            self.metrics.token_refreshes.labels(
                self.app_id, f"authorizer_{credential}", result
            ).inc()

    def _refresh_failed(self, app_id: str, error: Exception) -> None:
        if self.metrics is not None:
            self.metrics.token_refreshes.labels(
                self.app_id, "authorizer_access_token", "failed"
            ).inc()
