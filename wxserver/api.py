"""The WeChat API client: base-URL failover, bounded retries, typed errors, typed calls.

One ``httpx.Client`` per instance keeps connections to WeChat open between calls; share one
instance per process. Its behaviour on failure, in order:

- A transport error or a 5xx (or an answer that is not JSON) moves on to the next base URL:
  api.weixin.qq.com, then the disaster-recovery api2, then the Shanghai, Shenzhen and Hong Kong
  entry points. Always names, never pinned IPs: WeChat retires IPs (48017 after the 2023 change).
  A request that must not be repeated (a message send, an OAuth code exchange) moves on only when
  it certainly never left this machine (connection refused, connect timeout); after a read
  timeout it may already have been delivered, so it raises ``ApiUnavailableError`` with
  ``outcome_unknown`` instead of sending the message twice.
- -1 (busy) and 45011 (too frequent) are retried on the same host after a short, doubling
  back-off, a few times per call in all; a -1 that outlasts that moves on to the next host,
  a 45011 does not (the limit belongs to the account, not to the host).
- Every other ``errcode != 0`` raises its typed error from ``wxserver.api_errors``.
- Calls that need an access_token ask the token provider (the ``TokenOwner``); when WeChat rejects
  the token (40001, 40014, 42001) the client tells the owner which token failed, takes the one
  it returns and retries once. A second rejection is raised: refreshing in a loop burns quota.
"""

from __future__ import annotations

import collections
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from wxserver.api_errors import (
    ApiError,
    ApiUnavailableError,
    RetryableApiError,
    TokenInvalidError,
    classify,
)

log = logging.getLogger("wxserver.api")

DEFAULT_BASE_URLS = (
    "https://api.weixin.qq.com",
    "https://api2.weixin.qq.com",
    "https://sh.api.weixin.qq.com",
    "https://sz.api.weixin.qq.com",
    "https://hk.api.weixin.qq.com",
)

# Raised before a single byte of the request left: safe to send again anywhere.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)
_Params = Callable[[], dict[str, str]]
# The connection broke without an answer (a kept-alive one the server had closed, typically).
_STALE = (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError)


def _mask(secret: str) -> str:
    return f"{secret[:6]}…({len(secret)} chars)" if secret else "''"


@dataclass(frozen=True, slots=True)
class Grant:
    """A credential (access_token or jsapi_ticket) and its lifetime in seconds."""

    value: str = field(repr=False)
    expires_in: int

    def __repr__(self) -> str:
        return f"Grant(value={_mask(self.value)}, expires_in={self.expires_in})"


@dataclass(frozen=True, slots=True)
class OAuthGrant:
    """What /sns/oauth2/access_token returns for a web page's OAuth code."""

    openid: str
    scope: str
    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_in: int
    unionid: str | None = None


class _Gate:
    """A counting semaphore that serves waiters first come, first served.

    threading.Semaphore lets a thread that releases take the slot straight back, so with many
    threads some wait for ever; here a released slot goes to the longest waiter.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._free = size
        self._guard = threading.Lock()
        self._waiters: collections.deque[threading.Event] = collections.deque()

    def acquire(self, timeout: float | None) -> bool:
        with self._guard:
            if self._free and not self._waiters:
                self._free -= 1
                return True
            turn = threading.Event()
            self._waiters.append(turn)
        if turn.wait(timeout):
            return True
        with self._guard:
            if turn.is_set():  # handed over just as the wait ran out
                return True
            self._waiters.remove(turn)
            return False

    def release(self) -> None:
        with self._guard:
            if self._waiters:
                self._waiters.popleft().set()  # the slot passes on, _free is unchanged
            else:
                self._free += 1


@dataclass(frozen=True, slots=True)
class _Lane:
    client: httpx.Client
    gate: _Gate


class TokenProvider(Protocol):
    """Where the client gets the access_token: the one owner of it (``TokenOwner``)."""

    def current(self) -> str:
        """A valid access_token."""
        ...

    def invalidate(self, token: str) -> str:
        """Report that WeChat rejected ``token``; return the token to use instead."""
        ...


class WeChatAPI:
    """A client of api.weixin.qq.com for one account (AppID and AppSecret)."""

    def __init__(
        self,
        app_id: str,
        app_secret: str,
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
        if not urls:
            raise ValueError("WeChatAPI needs at least one base URL")
        self.app_id = app_id
        self._secret = app_secret
        self.base_urls = tuple(url.rstrip("/") for url in urls)
        self.tokens = tokens
        # Told of every errcode WeChat returns (metrics count them by errcode).
        self.on_error = on_error
        self.busy_retries = busy_retries
        self.backoff = backoff
        self._timeout = httpx.Timeout(
            connect=connect_timeout, read=read_timeout, write=read_timeout, pool=read_timeout
        )
        self._sizes = {"api": max_connections, "credentials": 2}
        self._pid = 0
        self._lanes: dict[str, _Lane] = {}  # opened on first use, see _lane()
        self._opening = threading.Lock()

    def __repr__(self) -> str:
        return f"WeChatAPI(app_id={self.app_id!r}, base_urls={self.base_urls!r})"

    def close(self) -> None:
        """Close the pooled connections."""
        with self._opening:
            lanes, self._lanes = self._lanes, {}
        if self._pid == os.getpid():
            for lane in lanes.values():
                lane.client.close()

    def _lane(self, name: str) -> _Lane:
        # Two pools per process. Token and ticket fetches have their own small one, so that a
        # refresh, which every other process may be waiting for, never queues behind ordinary
        # calls. And one per process: connections opened before a fork (gunicorn forks its
        # workers after building the app) must not be shared with the children.
        pid = os.getpid()
        with self._opening:
            if self._pid != pid:
                self._lanes, self._pid = {}, pid
            lane = self._lanes.get(name)
            if lane is None:
                size = self._sizes[name]
                limits = httpx.Limits(max_connections=size, max_keepalive_connections=size)
                client = httpx.Client(timeout=self._timeout, limits=limits, trust_env=False)
                lane = self._lanes[name] = _Lane(client, _Gate(size))
            return lane

    def _request(
        self, lane_name: str, method: str, base: str, path: str, params: _Params, **options: Any
    ) -> httpx.Response:
        # At most as many requests as connections enter the pool; the others wait here.
        # httpcore's pool can close a connection it has just given to a queued request when
        # many threads wait on it (encode/httpcore#1110), so its queue is kept empty.
        lane = self._lane(lane_name)
        if not lane.gate.acquire(timeout=self._timeout.pool):
            busy = f"all {lane.gate.size} connections stayed busy for {self._timeout.pool} s"
            raise ApiUnavailableError(path, [busy])
        try:
            # The parameters (the access_token) are read only now that a connection is free:
            # a token read before a long wait may have expired by the time it is sent.
            return lane.client.request(method, base + path, params=params(), **options)
        finally:
            lane.gate.release()

    def __enter__(self) -> WeChatAPI:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- the request machinery ------------------------------------------------------------

    def call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
        token: bool = True,
        idempotent: bool = True,
    ) -> dict[str, Any]:
        """Call ``path``; return the JSON answer or raise its typed error.

        For APIs without a typed method below. ``token`` adds the access_token (healing a
        rejected one once); ``idempotent=False`` forbids repeating the request after it may
        have been received.
        """
        fixed = dict(params or {})
        if not token:
            return self._send(method, path, lambda: fixed, body, idempotent=idempotent)
        tokens = self.tokens
        if tokens is None:
            raise RuntimeError("this WeChatAPI has no token provider: set api.tokens")
        used = ""

        def current() -> dict[str, str]:
            nonlocal used
            used = tokens.current()
            return {**fixed, "access_token": used}

        try:
            return self._send(method, path, current, body, idempotent=idempotent)
        except TokenInvalidError as error:
            log.info(
                "%s rejected the access_token (%s); asking for a fresh one", path, error.errcode
            )
            fresh = {**fixed, "access_token": tokens.invalidate(used)}
        return self._send(method, path, lambda: fresh, body, idempotent=idempotent)

    def _send(
        self,
        method: str,
        path: str,
        params: _Params,
        body: Mapping[str, Any] | None,
        *,
        idempotent: bool = True,
        lane: str = "api",
    ) -> dict[str, Any]:
        # ensure_ascii=False: some endpoints (menus, messages) show \u escapes literally.
        content = None if body is None else json.dumps(body, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json; charset=utf-8"} if content else {}
        attempts: list[str] = []
        busy = index = 0
        stale_retry = idempotent
        while index < len(self.base_urls):
            base = self.base_urls[index]
            try:
                response = self._request(
                    lane, method, base, path, params, content=content, headers=headers
                )
            except httpx.TransportError as exc:
                attempts.append(f"{base}: {type(exc).__name__} {exc}".rstrip())
                if not idempotent and not isinstance(exc, _NOT_SENT):
                    raise ApiUnavailableError(path, attempts, outcome_unknown=True) from exc
                if stale_retry and isinstance(exc, _STALE):
                    # A kept-alive connection closed under the request: once more, on a new one.
                    stale_retry = False
                    continue
                log.warning("%s%s failed (%s); trying the next base URL", base, path, attempts[-1])
                index += 1
                continue
            data = _json(response)
            if data is None:
                attempts.append(f"{base}: HTTP {response.status_code}, no JSON answer")
                log.warning("%s%s answered HTTP %s", base, path, response.status_code)
                index += 1
                continue
            errcode = data.get("errcode", 0)
            if not isinstance(errcode, int) or errcode == 0:
                return data
            error = classify(errcode, str(data.get("errmsg", "")), path=path)
            if self.on_error is not None:
                self.on_error(error)
            if isinstance(error, RetryableApiError):
                if busy < self.busy_retries:
                    time.sleep(self.backoff * 2**busy)
                    busy += 1
                    continue
                if errcode == -1 and index + 1 < len(self.base_urls):
                    attempts.append(f"{base}: errcode -1")
                    index += 1
                    continue
            raise error
        raise ApiUnavailableError(path, attempts)

    # --- credentials (used by the TokenOwner; everyone else asks the owner) ----------------

    def fetch_access_token(self, *, stable: bool = True, force_refresh: bool = False) -> Grant:
        """Fetch an access_token from WeChat. Only the token owner should call this."""
        credentials = {"appid": self.app_id, "secret": self._secret}
        if stable:
            body = {
                "grant_type": "client_credential",
                **credentials,
                "force_refresh": force_refresh,
            }
            # A forced refresh revokes the current token and is allowed 20 times a day: once.
            data = self._send(
                "POST",
                "/cgi-bin/stable_token",
                dict,
                body,
                idempotent=not force_refresh,
                lane="credentials",
            )
        else:
            params = {"grant_type": "client_credential", **credentials}
            data = self._send("GET", "/cgi-bin/token", lambda: params, None, lane="credentials")
        return _grant(data, "access_token")

    def fetch_jsapi_ticket(self, access_token: str | None = None) -> Grant:
        """Fetch a jsapi_ticket with ``access_token`` (or the provider's token, healed once)."""
        params = {"type": "jsapi"}
        if access_token is None:
            data = self.call("GET", "/cgi-bin/ticket/getticket", params=params)
        else:
            params["access_token"] = access_token
            data = self._send(
                "GET", "/cgi-bin/ticket/getticket", lambda: params, None, lane="credentials"
            )
        return _grant(data, "ticket")

    # --- customer-service messages (within the window a user's action opens) ------------

    def send_custom(
        self, openid: str, msgtype: str, content: Mapping[str, Any], *, kf_account: str = ""
    ) -> None:
        """Send a customer-service message of type ``msgtype`` with body ``content``."""
        body: dict[str, Any] = {"touser": openid, "msgtype": msgtype, msgtype: dict(content)}
        if kf_account:
            body["customservice"] = {"kf_account": kf_account}
        self.call("POST", "/cgi-bin/message/custom/send", body=body, idempotent=False)

    def send_text(self, openid: str, content: str, *, kf_account: str = "") -> None:
        """A text message (may contain <a href> links)."""
        self.send_custom(openid, "text", {"content": content}, kf_account=kf_account)

    def send_image(self, openid: str, media_id: str) -> None:
        """An uploaded image."""
        self.send_custom(openid, "image", {"media_id": media_id})

    def send_voice(self, openid: str, media_id: str) -> None:
        """An uploaded voice clip."""
        self.send_custom(openid, "voice", {"media_id": media_id})

    def send_video(
        self,
        openid: str,
        media_id: str,
        thumb_media_id: str,
        title: str = "",
        description: str = "",
    ) -> None:
        """An uploaded video."""
        video = {"media_id": media_id, "thumb_media_id": thumb_media_id}
        video |= {"title": title, "description": description}
        self.send_custom(openid, "video", video)

    def send_music(
        self,
        openid: str,
        *,
        title: str,
        description: str,
        music_url: str,
        hq_music_url: str,
        thumb_media_id: str,
    ) -> None:
        """A music card."""
        music = {"title": title, "description": description, "musicurl": music_url}
        music |= {"hqmusicurl": hq_music_url, "thumb_media_id": thumb_media_id}
        self.send_custom(openid, "music", music)

    def send_news(
        self, openid: str, *, title: str, description: str, url: str, pic_url: str
    ) -> None:
        """A link card: one article (WeChat delivers nothing when given more)."""
        article = {"title": title, "description": description, "url": url, "picurl": pic_url}
        self.send_custom(openid, "news", {"articles": [article]})

    def send_mpnews(self, openid: str, media_id: str) -> None:
        """An article stored as material (图文素材)."""
        self.send_custom(openid, "mpnews", {"media_id": media_id})

    def send_msgmenu(
        self, openid: str, *, head: str, options: Sequence[tuple[str, str]], tail: str = ""
    ) -> None:
        """A menu of (id, text) options; a click comes back as a text message with bizmsgmenuid."""
        menu = {"head_content": head, "tail_content": tail}
        self.send_custom(
            openid, "msgmenu", {**menu, "list": [{"id": i, "content": c} for i, c in options]}
        )

    def send_miniprogrampage(
        self, openid: str, *, title: str, appid: str, pagepath: str, thumb_media_id: str
    ) -> None:
        """A mini program card."""
        page = {"title": title, "appid": appid, "pagepath": pagepath}
        self.send_custom(openid, "miniprogrampage", {**page, "thumb_media_id": thumb_media_id})

    def typing(self, openid: str, typing: bool = True) -> None:
        """Show (or stop showing) "typing…" to the user."""
        body = {"touser": openid, "command": "Typing" if typing else "CancelTyping"}
        self.call("POST", "/cgi-bin/message/custom/typing", body=body)

    def send_template(
        self,
        openid: str,
        template_id: str,
        data: Mapping[str, str | Mapping[str, str]],
        *,
        url: str = "",
        miniprogram: Mapping[str, str] | None = None,
        client_msg_id: str = "",
    ) -> int:
        """Send a template message; return its msgid. Plain strings become {"value": ...}."""
        fields = {k: {"value": v} if isinstance(v, str) else dict(v) for k, v in data.items()}
        body: dict[str, Any] = {"touser": openid, "template_id": template_id, "data": fields}
        body |= {k: v for k, v in (("url", url), ("client_msg_id", client_msg_id)) if v}
        if miniprogram:
            body["miniprogram"] = dict(miniprogram)
        answer = self.call("POST", "/cgi-bin/message/template/send", body=body, idempotent=False)
        return int(answer.get("msgid", 0))

    # --- network diagnostics (B10) --------------------------------------------------------

    def callback_ips(self) -> list[str]:
        """The IPs WeChat calls this server from (for an inbound allow-list; refresh daily)."""
        return [str(ip) for ip in self.call("GET", "/cgi-bin/getcallbackip").get("ip_list", [])]

    def api_domain_ips(self) -> list[str]:
        """The IPs behind api.weixin.qq.com (for an outbound firewall; refresh daily)."""
        data = self.call("GET", "/cgi-bin/get_api_domain_ip")
        return [str(ip) for ip in data.get("ip_list", [])]

    def check_callback(self, action: str = "all", operator: str = "DEFAULT") -> dict[str, Any]:
        """Ask WeChat to resolve and ping this account's callback URL (dns, ping or all)."""
        body = {"action": action, "check_operator": operator}
        return self.call("POST", "/cgi-bin/callback/check", body=body)

    # --- menu -----------------------------------------------------------------------------

    def create_menu(self, menu: Mapping[str, Any]) -> None:
        """Replace the custom menu with ``menu`` ({"button": [...]})."""
        self.call("POST", "/cgi-bin/menu/create", body=menu)

    def get_menu(self) -> dict[str, Any]:
        """The menu as set through the API (menu/get)."""
        return self.call("GET", "/cgi-bin/menu/get")

    def get_current_menu(self) -> dict[str, Any]:
        """The menu users see now, whether set through the API or the MP console."""
        return self.call("GET", "/cgi-bin/get_current_selfmenu_info")

    # --- web page OAuth (no global access_token: these use the user's own token) ---------

    def oauth_exchange_code(self, code: str) -> OAuthGrant:
        """Exchange the ``code`` a user brought back from the OAuth page; codes work once."""
        params = {"appid": self.app_id, "secret": self._secret, "code": code}
        params["grant_type"] = "authorization_code"
        data = self.call(
            "GET", "/sns/oauth2/access_token", params=params, token=False, idempotent=False
        )
        return OAuthGrant(
            openid=str(data["openid"]),
            scope=str(data.get("scope", "")),
            access_token=str(data["access_token"]),
            refresh_token=str(data.get("refresh_token", "")),
            expires_in=int(data.get("expires_in", 0)),
            unionid=data.get("unionid"),
        )

    def oauth_userinfo(self, grant: OAuthGrant, lang: str = "zh_CN") -> dict[str, Any]:
        """The user's profile, for an ``snsapi_userinfo`` grant."""
        params = {"access_token": grant.access_token, "openid": grant.openid, "lang": lang}
        # A 40001/42001 here concerns the user's token, not ours: raised, never healed.
        return self.call("GET", "/sns/userinfo", params=params, token=False)


def _json(response: httpx.Response) -> dict[str, Any] | None:
    if response.status_code >= 500:
        return None
    try:
        data = json.loads(response.content)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _grant(data: Mapping[str, Any], key: str) -> Grant:
    value, expires_in = data.get(key), data.get("expires_in")
    if not isinstance(value, str) or not value or not isinstance(expires_in, int):
        raise ApiUnavailableError(f"{key} answer", [f"unexpected fields {sorted(data)}"])
    return Grant(value, expires_in)
