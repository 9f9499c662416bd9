"""The WeChat API client: typed calls over the transport in ``wxserver.api_transport``.

The transport keeps connections to WeChat open between calls (share one instance per process),
fails over between base URLs, retries busy answers and raises typed errors. On top of it:

- Calls that need an access_token ask the token provider (the ``TokenOwner``); when WeChat rejects
  the token (40001, 40014, 42001) the client tells the owner which token failed, takes the one
  it returns and retries once. A second rejection is raised: refreshing in a loop burns quota.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from wxserver.protocol.api_errors import ApiError, ApiUnavailableError, TokenInvalidError
from wxserver.services.api.transport import Transport

log = logging.getLogger("wxserver.api")

DEFAULT_BASE_URLS = (
    "https://api.weixin.qq.com",
    "https://api2.weixin.qq.com",
    "https://sh.api.weixin.qq.com",
    "https://sz.api.weixin.qq.com",
    "https://hk.api.weixin.qq.com",
)


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


class TokenProvider(Protocol):
    """Where the client gets the access_token: the one owner of it (``TokenOwner``)."""

    def current(self) -> str:
        """A valid access_token."""
        ...

    def invalidate(self, token: str) -> str:
        """Report that WeChat rejected ``token``; return the token to use instead."""
        ...


class WeChatAPI(Transport):
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
        share: Transport | None = None,
    ) -> None:
        urls = [base_urls] if isinstance(base_urls, str) else list(base_urls)
        if not urls:
            raise ValueError("WeChatAPI needs at least one base URL")
        super().__init__(
            tuple(url.rstrip("/") for url in urls),
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            busy_retries=busy_retries,
            backoff=backoff,
            max_connections=max_connections,
            on_error=on_error,
            share=share,
        )
        self.app_id = app_id
        self._secret = app_secret
        self.tokens = tokens

    def __repr__(self) -> str:
        return f"WeChatAPI(app_id={self.app_id!r}, base_urls={self.base_urls!r})"

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


def _grant(data: Mapping[str, Any], key: str) -> Grant:
    value, expires_in = data.get(key), data.get("expires_in")
    if not isinstance(value, str) or not value or not isinstance(expires_in, int):
        raise ApiUnavailableError(f"{key} answer", [f"unexpected fields {sorted(data)}"])
    return Grant(value, expires_in)
