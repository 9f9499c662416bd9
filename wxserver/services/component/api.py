"""The Open Platform component's own API (/cgi-bin/component/...), over the shared transport.

Its calls carry ``component_access_token`` rather than an access_token, and two of them have no
token at all: ``api_component_token`` (which needs the component_verify_ticket WeChat pushes) and
``api_start_push_ticket`` (which asks WeChat to push one now). A rejected component token is
healed once, as :class:`~wxserver.services.api.client.WeChatAPI` heals an access_token.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from wxserver.protocol.api_errors import (
    ApiError,
    ApiUnavailableError,
    ConfigAlertError,
    OtherApiError,
    TokenInvalidError,
)
from wxserver.services.api.client import DEFAULT_BASE_URLS, Grant, TokenProvider
from wxserver.services.api.transport import Transport

log = logging.getLogger("wxserver.component")

COMPONENT_GRANT = "/cgi-bin/component/api_component_token"
START_PUSH_TICKET = "/cgi-bin/component/api_start_push_ticket"
QUERY_AUTH = "/cgi-bin/component/api_query_auth"
AUTHORIZER_GRANT = "/cgi-bin/component/api_authorizer_token"


class TicketMissingError(OtherApiError):
    """No component_verify_ticket is held, so no component_access_token can be fetched."""

    def __init__(self, app_id: str) -> None:
        super().__init__(
            61006,
            "no component_verify_ticket held here (not an answer from WeChat)",
            "No component_verify_ticket has arrived in the last 12 hours.",
            f"WeChat pushes one to component {app_id}'s authorization-event URL every 10 "
            "minutes: check that URL and its Token and key in the Open Platform console; the "
            "server asks for one (api_start_push_ticket) when it starts without one.",
        )


class NotAuthorizedError(ConfigAlertError):
    """The store holds no refresh token for an authorizer: it has not authorized the component."""

    def __init__(self, app_id: str, component: str) -> None:
        super().__init__(
            61003,
            "no authorizer_refresh_token held here (not an answer from WeChat)",
            f"Account {app_id} has not authorized component {component}, or withdrew it.",
            "Have the account's administrator authorize the component again (授权页).",
        )


@dataclass(frozen=True, slots=True)
class Authorization:
    """What ``api_query_auth`` returns for an authorization code."""

    app_id: str
    grant: Grant
    refresh_token: str = field(repr=False)
    func_info: tuple[int, ...] = ()


def _grant(data: Mapping[str, Any], key: str, path: str) -> Grant:
    value, expires_in = data.get(key), data.get("expires_in")
    if not isinstance(value, str) or not value or not isinstance(expires_in, int):
        raise ApiUnavailableError(path, [f"unexpected fields {sorted(data)}"])
    return Grant(value, expires_in)


def _func_ids(info: Any) -> tuple[int, ...]:
    ids: list[int] = []
    for item in info if isinstance(info, list) else ():
        category = item.get("funcscope_category") if isinstance(item, dict) else None
        if isinstance(category, dict) and isinstance(category.get("id"), int):
            ids.append(category["id"])
    return tuple(ids)


class ComponentAPI(Transport):
    """The API of one component: its token, its tickets, its authorizers' tokens."""

    def __init__(
        self,
        app_id: str,
        app_secret: str,
        ticket: Callable[[], str | None],
        *,
        base_urls: str | Sequence[str] = DEFAULT_BASE_URLS,
        tokens: TokenProvider | None = None,
        connect_timeout: float = 3.0,
        read_timeout: float = 10.0,
        busy_retries: int = 2,
        backoff: float = 0.2,
        max_connections: int = 32,
        on_error: Callable[[ApiError], None] | None = None,
    ) -> None:
        urls = [base_urls] if isinstance(base_urls, str) else list(base_urls)
        super().__init__(
            tuple(url.rstrip("/") for url in urls),
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            busy_retries=busy_retries,
            backoff=backoff,
            max_connections=max_connections,
            on_error=on_error,
        )
        self.app_id = app_id
        self._secret = app_secret
        self._ticket = ticket
        # The owner of the component_access_token (a TokenOwner with this client as fetcher).
        self.tokens = tokens

    def __repr__(self) -> str:
        return f"ComponentAPI(app_id={self.app_id!r}, base_urls={self.base_urls!r})"

    # --- the component_access_token (for its TokenOwner) ---------------------------------

    def fetch_access_token(self, *, stable: bool = True, force_refresh: bool = False) -> Grant:
        """Fetch a component_access_token with the ticket held. Only its owner calls this."""
        ticket = self._ticket()
        if not ticket:
            raise TicketMissingError(self.app_id)
        body = {
            "component_appid": self.app_id,
            "component_appsecret": self._secret,
            "component_verify_ticket": ticket,
        }
        data = self._send("POST", COMPONENT_GRANT, dict, body, lane="credentials")
        return _grant(data, "component_access_token", COMPONENT_GRANT)

    def fetch_jsapi_ticket(self, access_token: str | None = None) -> Grant:
        """A component has no jsapi_ticket; its authorizers do."""
        raise OtherApiError(48001, "a component has no jsapi_ticket", "No such credential.")

    # --- calls -----------------------------------------------------------------------------

    def call(
        self, path: str, body: Mapping[str, Any], *, idempotent: bool = True
    ) -> dict[str, Any]:
        """POST ``body`` to ``path`` with the component_access_token, healed once."""
        tokens = self.tokens
        if tokens is None:
            raise RuntimeError("this ComponentAPI has no token provider: set api.tokens")
        used = ""

        def current() -> dict[str, str]:
            nonlocal used
            used = tokens.current()
            return {"component_access_token": used}

        try:
            return self._send("POST", path, current, body, idempotent=idempotent)
        except TokenInvalidError as error:
            log.info("%s rejected the component_access_token (%s); refreshing", path, error.errcode)
            fresh = {"component_access_token": tokens.invalidate(used)}
        return self._send("POST", path, lambda: fresh, body, idempotent=idempotent)

    def start_push_ticket(self) -> None:
        """Ask WeChat to push a component_verify_ticket to the authorization-event URL now."""
        body = {"component_appid": self.app_id, "component_secret": self._secret}
        self._send("POST", START_PUSH_TICKET, dict, body, lane="credentials")

    def query_auth(self, code: str) -> Authorization:
        """Exchange an authorization code for the authorizer's tokens (codes work once)."""
        body = {"component_appid": self.app_id, "authorization_code": code}
        data = self.call(QUERY_AUTH, body, idempotent=False)
        info = data.get("authorization_info")
        if not isinstance(info, dict) or not isinstance(info.get("authorizer_appid"), str):
            raise ApiUnavailableError(QUERY_AUTH, [f"unexpected fields {sorted(data)}"])
        return Authorization(
            app_id=info["authorizer_appid"],
            grant=_grant(info, "authorizer_access_token", QUERY_AUTH),
            refresh_token=str(info.get("authorizer_refresh_token") or ""),
            func_info=_func_ids(info.get("func_info")),
        )

    def refresh_authorizer(self, app_id: str, refresh_token: str) -> tuple[Grant, str]:
        """A new authorizer_access_token for ``app_id``, and the refresh token to keep."""
        body = {
            "component_appid": self.app_id,
            "authorizer_appid": app_id,
            "authorizer_refresh_token": refresh_token,
        }
        data = self.call(AUTHORIZER_GRANT, body)
        grant = _grant(data, "authorizer_access_token", AUTHORIZER_GRANT)
        return grant, str(data.get("authorizer_refresh_token") or refresh_token)
