"""A fake of api.weixin.qq.com: a real HTTP server on 127.0.0.1 for the API and token tests.

It keeps the platform's token rules, on a clock the test controls:

- ``POST /cgi-bin/stable_token`` returns the same token while it has more than ``rotate_before``
  seconds left, then a new one (the old one stays valid until its own expiry);
  ``force_refresh`` revokes the current token at once (at most once per 30 s, else 45011).
- ``GET /cgi-bin/token`` issues a new token on every call and retires the previous one
  ``overlap`` seconds later.
- Every other ``/cgi-bin`` endpoint checks its access_token: 40001 when unknown or revoked,
  42001 when expired.

Time is ``clock()`` in platform seconds: the wall clock with a short ``token_lifetime`` (a token
that expires in a second or two), or a ``ManualClock`` that a test moves by hand, so that a
7200-second token expires exactly when the test says while every margin keeps its production
value.

Tests read what happened from ``calls`` (per path) and ``sent``, and make the next calls fail with
``inject(path, ...)``: an errcode, an HTTP status, a delay, or a connection closed without an
answer. The same is available over HTTP for other processes: ``GET /_fake/stats``,
``POST /_fake/inject``. A base URL may carry a host alias, ``fake.base_url("api2")``, so that
failover between "hosts" is visible in ``served_by``. ``python -m tests.fakewechat`` runs it alone.
"""

from __future__ import annotations

import argparse
import collections
import json
import multiprocessing
import secrets
import socket
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

APP_ID = "wx0000000000fakeapp"
APP_SECRET = "fakesecret0123456789abcdef012345"
CALLBACK_IPS = ["101.226.103.0", "101.226.62.77", "203.205.239.82"]
API_IPS = ["101.89.47.18", "109.244.145.35"]
FORCE_REFRESH_INTERVAL = 30.0


class ManualClock:
    """Platform time that moves only when ``advance`` is called.

    It lives in shared memory, so processes forked after its creation read the same time: the
    fake and the token owners of every worker see a token expire at the same instant.
    """

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = multiprocessing.get_context("fork").RawValue("d", start)

    def __call__(self) -> float:
        now: float = self._now.value
        return now

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``."""
        self._now.value += seconds


@dataclass
class Token:
    """An access_token the fake has issued; ``calls`` counts the calls it authorised."""

    value: str
    expires_at: float
    revoked: bool = False
    calls: int = 0


@dataclass(frozen=True)
class Fault:
    """What the next call to a path gets instead of (or before) its normal answer."""

    kind: str  # "errcode", "status", "delay" or "close"
    value: float = 0
    errmsg: str = ""
    host: str = ""  # only calls through this alias; "" for any


@dataclass
class Sent:
    """A message the fake accepted."""

    path: str
    body: dict[str, Any]
    raw: bytes


@dataclass
class _State:
    calls: collections.Counter[str] = field(default_factory=collections.Counter)
    served_by: list[tuple[str, str]] = field(default_factory=list)
    faults: dict[str, collections.deque[Fault]] = field(
        default_factory=lambda: collections.defaultdict(collections.deque)
    )
    tokens: dict[str, Token] = field(default_factory=dict)  # in the order issued
    stable: Token | None = None
    classic: Token | None = None
    last_force: float = float("-inf")
    tokens_issued: int = 0
    tickets_issued: int = 0
    sent: list[Sent] = field(default_factory=list)
    menu: dict[str, Any] | None = None
    oauth_codes: dict[str, str] = field(default_factory=dict)
    user_tokens: dict[str, str] = field(default_factory=dict)


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
        self._state = _State()
        self._server = _Server(("127.0.0.1", port), _Handler)
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
                self._state.sent.append(Sent(path, body, raw))
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


def _ok(**extra: Any) -> dict[str, Any]:
    return {"errcode": 0, "errmsg": "ok", **extra}


def _custom_send(
    fake: FakeWeChat, now: float, q: dict[str, str], b: dict[str, Any]
) -> dict[str, Any]:
    msgtype = b.get("msgtype")
    if not b.get("touser") or not isinstance(msgtype, str) or not isinstance(b.get(msgtype), dict):
        return {"errcode": 40008, "errmsg": "invalid message type"}
    return _ok()


def _typing(fake: FakeWeChat, now: float, q: dict[str, str], b: dict[str, Any]) -> dict[str, Any]:
    if b.get("command") not in ("Typing", "CancelTyping") or not b.get("touser"):
        return {"errcode": 40001, "errmsg": "invalid command"}
    return _ok()


def _template(fake: FakeWeChat, now: float, q: dict[str, str], b: dict[str, Any]) -> dict[str, Any]:
    if not b.get("template_id"):
        return {"errcode": 40037, "errmsg": "invalid template_id"}
    return _ok(msgid=1_000_000 + len(fake._state.sent))


def _callback_check(
    fake: FakeWeChat, now: float, q: dict[str, str], b: dict[str, Any]
) -> dict[str, Any]:
    if b.get("action") not in ("dns", "ping", "all"):
        return {"errcode": 40202, "errmsg": "invalid action"}
    if b.get("check_operator") not in ("CHINANET", "UNICOM", "CAP", "DEFAULT"):
        return {"errcode": 40203, "errmsg": "invalid check operator"}
    answer: dict[str, Any] = {}
    if b["action"] in ("dns", "all"):
        answer["dns"] = [{"ip": "111.161.64.40", "real_operator": "UNICOM"}]
    if b["action"] in ("ping", "all"):
        answer["ping"] = [
            {"ip": "111.161.64.40", "from_operator": "UNICOM", "package_loss": "0%", "time": "23ms"}
        ]
    return answer


def _menu_create(
    fake: FakeWeChat, now: float, q: dict[str, str], b: dict[str, Any]
) -> dict[str, Any]:
    if not isinstance(b.get("button"), list):
        return {"errcode": 40016, "errmsg": "invalid button size"}
    fake._state.menu = b
    return _ok()


def _menu_get(fake: FakeWeChat, now: float, q: dict[str, str], b: dict[str, Any]) -> dict[str, Any]:
    if fake._state.menu is None:
        return {"errcode": 46003, "errmsg": "menu no exist"}
    return {"menu": fake._state.menu}


def _current_menu(
    fake: FakeWeChat, now: float, q: dict[str, str], b: dict[str, Any]
) -> dict[str, Any]:
    menu = fake._state.menu
    return {"is_menu_open": int(menu is not None), "selfmenu_info": menu or {"button": []}}


@dataclass(frozen=True)
class _Route:
    handler: Callable[[FakeWeChat, float, dict[str, str], dict[str, Any]], dict[str, Any]]
    needs_token: bool = True


_ROUTES: dict[tuple[str, str], _Route] = {
    ("POST", "/cgi-bin/stable_token"): _Route(FakeWeChat.stable_token, needs_token=False),
    ("GET", "/cgi-bin/token"): _Route(FakeWeChat.classic_token, needs_token=False),
    ("GET", "/cgi-bin/ticket/getticket"): _Route(FakeWeChat.ticket),
    ("POST", "/cgi-bin/message/custom/send"): _Route(_custom_send),
    ("POST", "/cgi-bin/message/custom/typing"): _Route(_typing),
    ("POST", "/cgi-bin/message/template/send"): _Route(_template),
    ("GET", "/cgi-bin/getcallbackip"): _Route(lambda f, n, q, b: {"ip_list": CALLBACK_IPS}),
    ("GET", "/cgi-bin/get_api_domain_ip"): _Route(lambda f, n, q, b: {"ip_list": API_IPS}),
    ("POST", "/cgi-bin/callback/check"): _Route(_callback_check),
    ("POST", "/cgi-bin/menu/create"): _Route(_menu_create),
    ("GET", "/cgi-bin/menu/get"): _Route(_menu_get),
    ("GET", "/cgi-bin/get_current_selfmenu_info"): _Route(_current_menu),
    ("GET", "/sns/oauth2/access_token"): _Route(FakeWeChat.oauth_token, needs_token=False),
    ("GET", "/sns/userinfo"): _Route(FakeWeChat.userinfo, needs_token=False),
}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # Hundreds of clients connect at once in the concurrency tests; the default backlog is 5.
    request_queue_size = 2048
    fake: FakeWeChat

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        self.open_connections: set[socket.socket] = set()
        self.guard = threading.Lock()
        super().__init__(address, handler)

    def close_all(self) -> None:
        """Close kept-alive connections so their threads end with the server."""
        with self.guard:
            for connection in list(self.open_connections):
                with suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (timeout tests) breaks its pipe: expected, not worth a traceback.
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as WeChat's servers and httpx's pool expect
    timeout = 30
    server: _Server

    def setup(self) -> None:
        super().setup()
        with self.server.guard:
            self.server.open_connections.add(self.connection)

    def finish(self) -> None:
        with self.server.guard:
            self.server.open_connections.discard(self.connection)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def _serve(self, method: str) -> None:
        url = urlsplit(self.path)
        path, host = url.path, "default"
        if path.startswith("/_host/"):
            _, _, host, rest = path.split("/", 3)
            path = "/" + rest
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        query = dict(parse_qsl(url.query))
        fake = self.server.fake
        if path == "/_fake/stats":
            self._json(200, fake.stats())
            return
        if path == "/_fake/inject":
            spec = json.loads(raw)
            fake.inject(spec.pop("path"), **spec)
            self._json(200, {"ok": True})
            return
        answer = fake.handle(host, method, path, query, raw)
        if isinstance(answer, Fault):
            if answer.kind == "close":
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            self._json(int(answer.value), {"error": "injected status"})
            return
        self._json(200, answer)

    def _json(self, status: int, data: Any) -> None:
        body = json.dumps(data, ensure_ascii=False).encode()
        self.send_response(status)
        # WeChat labels its JSON text/plain; the client must not depend on the content type.
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def remote_stats(url: str) -> dict[str, Any]:
    """``FakeWeChat.stats()`` of a fake running in another process."""
    data: dict[str, Any] = httpx.get(f"{url}/_fake/stats", timeout=5).json()
    return data


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


if __name__ == "__main__":
    main()
