"""The fake's Open Platform component: its tickets, its token, authorization codes, authorizers.

- ``POST /cgi-bin/component/api_component_token`` issues a component_access_token for a ticket
  the fake pushed (or handed out with ``ticket()``); 61006 for any other ticket.
- ``POST /cgi-bin/component/api_start_push_ticket`` pushes a fresh ticket, encrypted with the
  component's Token and key, to the server set with ``push_to`` (from a thread, as WeChat would).
- ``POST /cgi-bin/component/api_query_auth`` exchanges a code from ``authorization_code`` once.
- ``POST /cgi-bin/component/api_authorizer_token`` refreshes an authorizer's token for its
  current refresh token (61023 for any other), and logs when (``refreshes``).

Authorizer tokens live among the fake's access tokens, so ``/cgi-bin/message/custom/send``
accepts them and ``Sent.app_id`` names the authorizer that sent a message.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from tests.fakewechat.endpoints import Route
from tests.fakewechat.state import Token
from wxserver.protocol.simulate import Account, sign_request

if TYPE_CHECKING:
    from tests.fakewechat.fake import FakeWeChat

COMPONENT_APP_ID = "wx00000fakecomponent"
COMPONENT_SECRET = "fakecomponentsecret0123456789abc"


@dataclass
class ComponentState:
    """What the fake component remembers; read and changed under ``FakeWeChat``'s lock."""

    tickets: set[str] = field(default_factory=set)
    tokens: dict[str, Token] = field(default_factory=dict)
    codes: dict[str, str] = field(default_factory=dict)  # authorization code -> AppID
    refresh_tokens: dict[str, str] = field(default_factory=dict)  # AppID -> refresh token
    current: dict[str, str] = field(default_factory=dict)  # AppID -> its latest access token
    # (platform time, AppID) of every api_authorizer_token call that issued a token.
    refreshes: list[tuple[float, str]] = field(default_factory=list)
    pushes: list[int] = field(default_factory=list)  # the HTTP status of each ticket push


class FakeComponent:
    """The component side of one ``FakeWeChat``."""

    def __init__(self, fake: FakeWeChat, lifetime: float = 7200.0) -> None:
        self.fake = fake
        self.lifetime = lifetime
        self.state = ComponentState()
        self._push: tuple[str, Account] | None = None

    # --- what tests set up and read ------------------------------------------------------

    def push_to(self, url: str, component: Account) -> None:
        """Push tickets to ``url`` (the authorization-event URL), sealed for ``component``."""
        self._push = (url, component)

    def ticket(self) -> str:
        """A ticket the fake accepts, as if it had pushed it."""
        value = f"ticket@@@{secrets.token_urlsafe(48)}"
        with self.fake._lock:
            self.state.tickets.add(value)
        return value

    def authorization_code(self, app_id: str) -> str:
        """A one-time code, as the authorization page gives when ``app_id`` authorizes."""
        code = f"queryauthcode@@@{secrets.token_urlsafe(24)}"
        with self.fake._lock:
            self.state.codes[code] = app_id
        return code

    def authorize(self, app_id: str, now: float) -> tuple[str, str]:
        """``app_id`` authorized earlier: its access token (fetched at ``now``), refresh token."""
        with self.fake._lock:
            return self._issue(app_id, now).value, self.state.refresh_tokens[app_id]

    def refreshes(self) -> list[tuple[float, str]]:
        """Every authorizer token refresh, in order."""
        with self.fake._lock:
            return list(self.state.refreshes)

    def pushes(self) -> list[int]:
        """The HTTP status of every ticket push so far."""
        with self.fake._lock:
            return list(self.state.pushes)

    # --- the platform ---------------------------------------------------------------------

    def _issue(self, app_id: str, now: float) -> Token:
        token = Token(secrets.token_urlsafe(64), now + self.lifetime, app_id=app_id)
        self.fake._state.tokens[token.value] = token
        self.state.current[app_id] = token.value
        self.state.refresh_tokens.setdefault(app_id, f"refreshtoken@@@{secrets.token_urlsafe(32)}")
        return token

    def _component_problem(self, query: dict[str, str], now: float) -> dict[str, Any] | None:
        token = self.state.tokens.get(query.get("component_access_token", ""))
        if token is None:
            return {"errcode": 40001, "errmsg": "invalid credential, component_access_token"}
        if now >= token.expires_at:
            return {"errcode": 42001, "errmsg": "component_access_token expired"}
        return None

    def component_token(self, now: float, q: dict[str, str], b: dict[str, Any]) -> dict[str, Any]:
        if b.get("component_appid") != COMPONENT_APP_ID:
            return {"errcode": 40013, "errmsg": "invalid appid"}
        if b.get("component_appsecret") != COMPONENT_SECRET:
            return {"errcode": 40125, "errmsg": "invalid appsecret"}
        if b.get("component_verify_ticket") not in self.state.tickets:
            return {"errcode": 61006, "errmsg": "component ticket is invalid"}
        token = Token(secrets.token_urlsafe(64), now + self.lifetime, app_id=COMPONENT_APP_ID)
        self.state.tokens[token.value] = token
        return {"component_access_token": token.value, "expires_in": int(self.lifetime)}

    def start_push_ticket(self, now: float, q: dict[str, str], b: dict[str, Any]) -> dict[str, Any]:
        if b.get("component_appid") != COMPONENT_APP_ID:
            return {"errcode": 40013, "errmsg": "invalid appid"}
        if b.get("component_secret") != COMPONENT_SECRET:
            return {"errcode": 40125, "errmsg": "invalid appsecret"}
        value = f"ticket@@@{secrets.token_urlsafe(48)}"
        self.state.tickets.add(value)
        if self._push is not None:
            threading.Thread(target=self._deliver, args=(value,), daemon=True).start()
        return {"errcode": 0, "errmsg": "ok"}

    def _deliver(self, ticket: str) -> None:
        assert self._push is not None
        url, component = self._push
        body = _ticket_push(ticket, int(self.fake.clock()), component.format)
        signed = sign_request(component, body, "secure")
        status = 0
        # A server that asks for a ticket as it starts may not listen yet: WeChat pushes again.
        for _ in range(100):
            try:
                response = httpx.post(url, params=signed.query, content=signed.body, timeout=10)
            except httpx.ConnectError:
                time.sleep(0.1)
                continue
            except httpx.HTTPError:
                break
            status = response.status_code
            break
        with self.fake._lock:
            self.state.pushes.append(status)

    def query_auth(self, now: float, q: dict[str, str], b: dict[str, Any]) -> dict[str, Any]:
        problem = self._component_problem(q, now)
        if problem:
            return problem
        app_id = self.state.codes.pop(str(b.get("authorization_code")), None)
        if app_id is None:
            return {"errcode": 61009, "errmsg": "code is invalid"}
        token = self._issue(app_id, now)
        info = {
            "authorizer_appid": app_id,
            "authorizer_access_token": token.value,
            "expires_in": int(self.lifetime),
            "authorizer_refresh_token": self.state.refresh_tokens[app_id],
            "func_info": [{"funcscope_category": {"id": 1}}, {"funcscope_category": {"id": 2}}],
        }
        return {"authorization_info": info}

    def authorizer_token(self, now: float, q: dict[str, str], b: dict[str, Any]) -> dict[str, Any]:
        problem = self._component_problem(q, now)
        if problem:
            return problem
        app_id = str(b.get("authorizer_appid"))
        if self.state.refresh_tokens.get(app_id) != b.get("authorizer_refresh_token"):
            return {"errcode": 61023, "errmsg": "refresh_token is invalid"}
        token = self._issue(app_id, now)
        self.state.refreshes.append((now, app_id))
        return {
            "authorizer_access_token": token.value,
            "expires_in": int(self.lifetime),
            "authorizer_refresh_token": self.state.refresh_tokens[app_id],
        }


def _ticket_push(ticket: str, now: int, format: str) -> bytes:
    """The plaintext of a ticket push, in the component's format."""
    if format == "json":
        document = {
            "AppId": COMPONENT_APP_ID,
            "CreateTime": now,
            "InfoType": "component_verify_ticket",
            "ComponentVerifyTicket": ticket,
        }
        return json.dumps(document).encode()
    return (
        f"<xml><AppId><![CDATA[{COMPONENT_APP_ID}]]></AppId><CreateTime>{now}</CreateTime>"
        "<InfoType><![CDATA[component_verify_ticket]]></InfoType>"
        f"<ComponentVerifyTicket><![CDATA[{ticket}]]></ComponentVerifyTicket></xml>"
    ).encode()


def _answered_by(method: str) -> Route:
    def handler(fake: FakeWeChat, now: float, q: dict[str, str], b: dict[str, Any]) -> Any:
        return getattr(fake.component, method)(now, q, b)

    return Route(handler, needs_token=False)


# The component's endpoints, answered by the fake's ``component``.
COMPONENT_ENDPOINTS: dict[tuple[str, str], Route] = {
    ("POST", "/cgi-bin/component/api_component_token"): _answered_by("component_token"),
    ("POST", "/cgi-bin/component/api_start_push_ticket"): _answered_by("start_push_ticket"),
    ("POST", "/cgi-bin/component/api_query_auth"): _answered_by("query_auth"),
    ("POST", "/cgi-bin/component/api_authorizer_token"): _answered_by("authorizer_token"),
}
