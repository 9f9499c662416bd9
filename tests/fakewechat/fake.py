"""A fake of api.weixin.qq.com: the platform's token rules, on a clock the test controls."""

from __future__ import annotations

import argparse
import json
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

from tests.fakewechat.component import COMPONENT_ENDPOINTS, FakeComponent
from tests.fakewechat.endpoints import ENDPOINTS, Route
from tests.fakewechat.pay import FakePay, Raw
from tests.fakewechat.server import Handler, Server
from tests.fakewechat.state import (
    APP_ID,
    APP_SECRET,
    FORCE_REFRESH_INTERVAL,
    Fault,
    Sent,
    State,
    Token,
)


class FakeWeChat:
    """The fake platform; ``with FakeWeChat() as fake:`` serves it on a free port."""

    def __init__(
        self,
        *,
        app_id: str = APP_ID,
        app_secret: str = APP_SECRET,
        clock: Callable[[], float] = time.time,
        token_lifetime: float = 7200.0,
        rotate_before: float = 300.0,
        overlap: float = 300.0,
        ticket_lifetime: int = 7200,
        port: int = 0,
    ) -> None:
        self.app_id = app_id
        self.app_secret = app_secret
        self.clock = clock
        self.token_lifetime = token_lifetime
        self.rotate_before = rotate_before
        self.overlap = overlap
        self.ticket_lifetime = ticket_lifetime
        self._lock = threading.Lock()
        self._state = State()
        # The merchant API (/v3/...), when a test sets one up.
        self.pay: FakePay | None = None
        # The Open Platform component's side of the platform.
        self.component = FakeComponent(self, token_lifetime)
        self._server = Server(("127.0.0.1", port), Handler)
        self._server.fake = self
        self._thread: threading.Thread | None = None
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    # --- life cycle -----------------------------------------------------------------------

    def start(self) -> FakeWeChat:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.close_all()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> FakeWeChat:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def base_url(self, host: str) -> str:
        """A base URL reaching this fake as the "host" ``host`` (seen in ``served_by``)."""
        return f"{self.url}/_host/{host}"

    # --- what tests read and control ------------------------------------------------------

    def calls(self, path: str) -> int:
        """How many requests reached ``path`` (faulted ones included)."""
        with self._lock:
            return self._state.calls[path]

    def token_fetches(self) -> int:
        """Requests to either token endpoint."""
        return self.calls("/cgi-bin/stable_token") + self.calls("/cgi-bin/token")

    @property
    def tokens_issued(self) -> int:
        """Distinct access_tokens created so far."""
        with self._lock:
            return self._state.tokens_issued

    def calls_per_token(self) -> list[int]:
        """How many calls each access_token authorised, in the order the tokens were issued."""
        with self._lock:
            return [token.calls for token in self._state.tokens.values()]

    @property
    def served_by(self) -> list[tuple[str, str]]:
        """(host alias, path) of every request, in order."""
        with self._lock:
            return list(self._state.served_by)

    @property
    def sent(self) -> list[Sent]:
        """Every message accepted by a send endpoint, in order."""
        with self._lock:
            return list(self._state.sent)

    def stats(self) -> dict[str, Any]:
        """Counts for ``GET /_fake/stats``."""
        with self._lock:
            return {
                "calls": dict(self._state.calls),
                "tokens_issued": self._state.tokens_issued,
                "tickets_issued": self._state.tickets_issued,
                "sent": len(self._state.sent),
            }

    def inject(
        self,
        path: str,
        *,
        errcode: int | None = None,
        errmsg: str = "",
        status: int | None = None,
        delay: float | None = None,
        close: bool = False,
        times: int = 1,
        host: str = "",
    ) -> None:
        """Make the next ``times`` calls to ``path`` fail in the given way."""
        if errcode is not None:
            fault = Fault("errcode", errcode, errmsg or f"injected {errcode}", host)
        elif status is not None:
            fault = Fault("status", status, host=host)
        elif delay is not None:
            fault = Fault("delay", delay, host=host)
        elif close:
            fault = Fault("close", host=host)
        else:
            raise ValueError("inject needs errcode, status, delay or close")
        with self._lock:
            self._state.faults[path].extend([fault] * times)

    def revoke_current_token(self) -> None:
        """Another system force-refreshed: the current stable token stops working now."""
        with self._lock:
            if self._state.stable is not None:
                self._state.stable.revoked = True
                self._state.stable = None

    def oauth_code(self, openid: str) -> str:
        """A one-time code, as the OAuth page would hand to the browser for ``openid``."""
        code = secrets.token_urlsafe(16)
        with self._lock:
            self._state.oauth_codes[code] = openid
        return code

    def pay_request(self, method: str, path: str, headers: Any, raw: bytes) -> Raw:
        """Answer a merchant API request with ``pay`` (counted like every other call)."""
        assert self.pay is not None
        with self._lock:
            self._state.calls[path] += 1
            return self.pay.handle(method, path, headers, raw)

    # --- the platform ---------------------------------------------------------------------

    def _issue(self, now: float) -> Token:
        token = Token(secrets.token_urlsafe(96), now + self.token_lifetime)
        self._state.tokens[token.value] = token
        self._state.tokens_issued += 1
        return token

    def handle(self, host: str, method: str, path: str, query: dict[str, str], raw: bytes) -> Any:
        """Answer one request: a JSON-able dict, or a Fault the handler acts out."""
        with self._lock:
            self._state.calls[path] += 1
            self._state.served_by.append((host, path))
            queue = self._state.faults.get(path)
            if queue and queue[0].host in ("", host):
                fault = queue.popleft()
                if fault.kind == "errcode":
                    return {"errcode": int(fault.value), "errmsg": fault.errmsg}
                if fault.kind != "delay":
                    return fault
                delay = fault.value
            else:
                delay = 0.0
        if delay:
            time.sleep(delay)
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            return {"errcode": 47001, "errmsg": "data format error"}
        route = _ROUTES.get((method, path))
        if route is None:
            return {"errcode": 404, "errmsg": f"no such fake endpoint {method} {path}"}
        with self._lock:
            now = self.clock()
            if route.needs_token:
                problem = self._check_token(query.get("access_token", ""), now)
                if problem:
                    return problem
            answer = route.handler(self, now, query, body)
            if path.startswith("/cgi-bin/message/") and answer.get("errcode", 0) == 0:
                token = self._state.tokens.get(query.get("access_token", ""))
                sender = token.app_id if token is not None else ""
                self._state.sent.append(Sent(path, body, raw, sender))
            return answer

    def _check_token(self, value: str, now: float) -> dict[str, Any] | None:
        if not value:
            return {"errcode": 41001, "errmsg": "access_token missing"}
        token = self._state.tokens.get(value)
        if token is None or token.revoked:
            return {
                "errcode": 40001,
                "errmsg": "invalid credential, access_token is invalid or not latest",
            }
        if now >= token.expires_at:
            return {"errcode": 42001, "errmsg": "access_token expired"}
        token.calls += 1
        return None

    def _credentials_problem(self, appid: str, secret: str) -> dict[str, Any] | None:
        if appid != self.app_id:
            return {"errcode": 40013, "errmsg": "invalid appid"}
        if secret != self.app_secret:
            return {"errcode": 40125, "errmsg": "invalid appsecret"}
        return None

    def stable_token(
        self, now: float, query: dict[str, str], body: dict[str, Any]
    ) -> dict[str, Any]:
        problem = self._credentials_problem(body.get("appid", ""), body.get("secret", ""))
        if problem:
            return problem
        current = self._state.stable
        if body.get("force_refresh"):
            if now - self._state.last_force < FORCE_REFRESH_INTERVAL:
                return {"errcode": 45011, "errmsg": "api minute-quota reach limit"}
            self._state.last_force = now
            if current is not None:
                current.revoked = True
            current = None
        if current is None or current.revoked or current.expires_at - now <= self.rotate_before:
            current = self._state.stable = self._issue(now)
        return {"access_token": current.value, "expires_in": int(current.expires_at - now)}

    def classic_token(
        self, now: float, query: dict[str, str], body: dict[str, Any]
    ) -> dict[str, Any]:
        if query.get("grant_type") != "client_credential":
            return {"errcode": 40002, "errmsg": "invalid grant_type"}
        problem = self._credentials_problem(query.get("appid", ""), query.get("secret", ""))
        if problem:
            return problem
        previous = self._state.classic
        if previous is not None:
            previous.expires_at = min(previous.expires_at, now + self.overlap)
        token = self._state.classic = self._issue(now)
        return {"access_token": token.value, "expires_in": int(self.token_lifetime)}

    def ticket(self, now: float, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        if query.get("type") != "jsapi":
            return {"errcode": 40097, "errmsg": "invalid args"}
        self._state.tickets_issued += 1
        ticket = f"ticket-{self._state.tickets_issued}-{secrets.token_urlsafe(40)}"
        return {"errcode": 0, "errmsg": "ok", "ticket": ticket, "expires_in": self.ticket_lifetime}

    def oauth_token(
        self, now: float, query: dict[str, str], body: dict[str, Any]
    ) -> dict[str, Any]:
        problem = self._credentials_problem(query.get("appid", ""), query.get("secret", ""))
        if problem:
            return problem
        code = query.get("code", "")
        if code in self._state.user_tokens:
            return {"errcode": 40163, "errmsg": "code been used"}
        openid = self._state.oauth_codes.pop(code, None)
        if openid is None:
            return {"errcode": 40029, "errmsg": "invalid code"}
        token = secrets.token_urlsafe(32)
        self._state.user_tokens[code] = token
        self._state.user_tokens[token] = openid
        return {
            "access_token": token,
            "expires_in": 7200,
            "refresh_token": secrets.token_urlsafe(32),
            "openid": openid,
            "scope": "snsapi_userinfo",
        }

    def userinfo(self, now: float, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        openid = self._state.user_tokens.get(query.get("access_token", ""))
        if openid is None or openid != query.get("openid"):
            return {"errcode": 40001, "errmsg": "invalid credential, access_token is invalid"}
        return {"openid": openid, "nickname": "测试用户", "sex": 0, "privilege": [], "city": ""}


_ROUTES: dict[tuple[str, str], Route] = {
    ("POST", "/cgi-bin/stable_token"): Route(FakeWeChat.stable_token, needs_token=False),
    ("GET", "/cgi-bin/token"): Route(FakeWeChat.classic_token, needs_token=False),
    ("GET", "/cgi-bin/ticket/getticket"): Route(FakeWeChat.ticket),
    ("GET", "/sns/oauth2/access_token"): Route(FakeWeChat.oauth_token, needs_token=False),
    ("GET", "/sns/userinfo"): Route(FakeWeChat.userinfo, needs_token=False),
    **ENDPOINTS,
    **COMPONENT_ENDPOINTS,
}


def main() -> None:
    """Serve the fake alone: ``python -m tests.fakewechat --port 8765 --token-lifetime 2``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token-lifetime", type=float, default=7200.0)
    parser.add_argument("--rotate-before", type=float, default=300.0)
    options = parser.parse_args()
    fake = FakeWeChat(
        port=options.port,
        token_lifetime=options.token_lifetime,
        rotate_before=options.rotate_before,
    )
    print(fake.url, flush=True)  # the parent process reads the URL from here
    fake._server.serve_forever()
