"""Web-page authorization (网页授权) and the rules for web pages, without Flask.

- ``LoginStates``: the OAuth ``state``. Each one is random, kept in the store for ``STATE_TTL``
  seconds, usable once (claimed with ``store.add``, which exactly one process wins), bound to its
  account, its scope, the ``next`` URL chosen when the flow started, and to the browser that
  started it (the digest of a random cookie), so that a code obtained by someone else cannot be
  completed in a victim's browser (login CSRF).
- ``OAuthResult``: what a completed sign-in yields, handed to application code or to the next URL.
- ``OpenIdTokens``: the short-lived signed token that carries an ``OAuthResult`` to the next URL
  instead of the raw openid (see its docstring for how a business page verifies it).
- ``domain_allows`` and ``safe_next``: which page URLs the JS-SDK may sign, and where a sign-in may
  send the browser (no open redirect).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import SplitResult, quote, urlencode, urlsplit

from itsdangerous import BadData, BadSignature, SignatureExpired, TimestampSigner
from itsdangerous.encoding import base64_decode, base64_encode

from wxserver.protocol.errors import WxServerError
from wxserver.services.store import Store

AUTHORIZE_URL = "https://open.weixin.qq.com/connect/oauth2/authorize"
# WeChat's code lives 5 minutes; the user may also linger on the consent page.
STATE_TTL = 600.0
OPENID_SALT = "wxserver.oauth.openid"
# The token only has to survive one redirect; a business page should read it at once.
TOKEN_MAX_AGE = 120
MAX_URL_LENGTH = 4096
_STATE_RE = re.compile(r"[0-9a-f]{32}")
_DEFAULT_PORTS = {"http": 80, "https": 443}


class Scope(StrEnum):
    """What the user is asked for: the openid only, or the profile too (with consent)."""

    BASE = "snsapi_base"
    USERINFO = "snsapi_userinfo"


class InvalidStateError(WxServerError):
    """The ``state`` of a callback is unknown, expired, already used or from another browser."""


class InvalidTokenError(WxServerError):
    """An openid token is malformed, tampered with, expired or for another account."""


@dataclass(frozen=True, slots=True, kw_only=True)
class OAuthResult:
    """A completed sign-in: who the user is, and (for ``snsapi_userinfo``) their profile."""

    openid: str
    unionid: str | None
    scope: Scope
    profile: Mapping[str, Any] | None = None
    account: str = ""
    next_url: str = ""


@dataclass(frozen=True, slots=True)
class PendingLogin:
    """What a ``state`` stands for between the redirect to WeChat and the callback."""

    account: str
    scope: Scope
    next_url: str


def new_browser_id() -> str:
    """A random id for the browser-binding cookie."""
    return secrets.token_hex(16)


def _digest(browser_id: str) -> str:
    return hashlib.sha256(browser_id.encode()).hexdigest()


class LoginStates:
    """Issues and consumes OAuth ``state`` values, shared by every process through ``store``."""

    def __init__(self, store: Store, ttl: float | None = None) -> None:
        self.store = store
        self.ttl = STATE_TTL if ttl is None else ttl

    @staticmethod
    def _key(account: str, state: str) -> str:
        return f"oauth:state:{account}:{state}"

    def issue(self, account: str, scope: Scope, next_url: str, browser_id: str) -> str:
        """Store a new state for ``account`` and return it.

        Hex only: WeChat accepts ``a-zA-Z0-9`` in ``state``, up to 128 bytes.
        """
        state = secrets.token_hex(16)
        record = {"scope": str(scope), "next": next_url, "browser": _digest(browser_id)}
        self.store.set(self._key(account, state), json.dumps(record).encode(), ttl=self.ttl)
        return state

    def consume(self, account: str, state: str, browser_id: str) -> PendingLogin:
        """Claim ``state`` for ``account`` once; raise InvalidStateError otherwise."""
        if not _STATE_RE.fullmatch(state):
            raise InvalidStateError("the state parameter is malformed; start the sign-in again")
        key = self._key(account, state)
        raw = self.store.get(key)
        # The claim is what makes the state single-use across processes: of two callbacks
        # racing with the same state, exactly one adds the key.
        if raw is None or not self.store.add(key + ":used", b"1", ttl=self.ttl):
            raise InvalidStateError(
                "the sign-in link is unknown, expired or already used; start the sign-in again"
            )
        self.store.delete(key)
        try:
            record = json.loads(raw)
            pending = PendingLogin(account, Scope(record["scope"]), str(record["next"]))
            expected = str(record["browser"])
        except (ValueError, KeyError, TypeError):
            raise InvalidStateError("the stored sign-in state is unreadable") from None
        if not hmac.compare_digest(expected, _digest(browser_id)):
            raise InvalidStateError(
                "the sign-in was started in another browser; start the sign-in again here"
            )
        return pending


def authorize_url(app_id: str, redirect_uri: str, scope: Scope, state: str) -> str:
    """WeChat's consent page URL.

    The parameters must come in exactly this order: the platform matches the link strictly and
    shows an error page otherwise. ``redirect_uri`` is percent-encoded in full.
    """
    query = urlencode(
        [
            ("appid", app_id),
            ("redirect_uri", redirect_uri),
            ("response_type", "code"),
            ("scope", str(scope)),
            ("state", state),
        ],
        safe="",
        quote_via=quote,
    )
    return f"{AUTHORIZE_URL}?{query}#wechat_redirect"


# --- page URLs: the JS-SDK safe domains and the next URL ----------------------------------------


@dataclass(frozen=True, slots=True)
class _Rule:
    host: str
    port: int | None
    path: str


def _rule(entry: str) -> _Rule | None:
    text = entry.strip().lower()
    for scheme in ("https://", "http://"):  # tolerated: people paste URLs into the setting
        text = text.removeprefix(scheme)
    host_port, _, path = text.partition("/")
    host, _, port_text = host_port.partition(":")
    if not host or (port_text and not port_text.isdigit()):
        return None
    path = path.strip("/")
    port = int(port_text) if port_text else None
    return _Rule(host.rstrip("."), port, f"/{path}" if path else "")


def _split(url: str) -> SplitResult | None:
    if not url or len(url) > MAX_URL_LENGTH:
        return None
    # A browser's location.href never holds these; a backslash reads as "/" in browsers.
    if any(ord(ch) < 0x21 or ch in "\\\x7f" for ch in url):
        return None
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return None
    return parts


def web_url(url: str) -> SplitResult | None:
    """``url`` split, if it is an absolute http(s) URL with a host; None otherwise."""
    parts = _split(url)
    if parts is None or parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    return parts


def domain_allows(domains: Sequence[str], url: str) -> bool:
    """Whether the page at ``url`` lies within one of ``domains`` (the JS接口安全域名 rule).

    An entry ``example.com`` covers that host and its subdomains (``m.example.com``), on the
    default port of the scheme. A page on another port needs the port in the entry
    (``example.com:8080``), as WeChat requires. An entry with a path (``example.com/mp``, which
    the MP console also accepts) covers that path and below it only.
    """
    parts = web_url(url)
    if parts is None:
        return False
    host = (parts.hostname or "").rstrip(".")
    port = parts.port
    if port == _DEFAULT_PORTS[parts.scheme]:
        port = None
    path = parts.path or "/"
    for entry in domains:
        rule = _rule(entry)
        if rule is None or rule.port != port:
            continue
        if host != rule.host and not host.endswith("." + rule.host):
            continue
        if rule.path and path != rule.path and not path.startswith(rule.path + "/"):
            continue
        return True
    return False


def safe_next(url: str, domains: Sequence[str]) -> bool:
    """Whether a sign-in may send the browser to ``url``: no open redirect.

    Allowed: a path on this site (``/account?tab=1``, never ``//host`` which browsers read as
    another site), or an http(s) URL within ``domains`` (the same rule as ``domain_allows``).
    """
    parts = _split(url)
    if parts is None:
        return False
    if url.startswith("/"):
        return not url.startswith("//") and not parts.scheme and not parts.netloc
    return domain_allows(domains, url)


# --- the signed token for the next URL ----------------------------------------------------------


class OpenIdTokens:
    """Signs an ``OAuthResult`` into a short-lived token for the next URL, and reads it back.

    The token is ``PAYLOAD.TIMESTAMP.SIGNATURE`` (itsdangerous' ``TimestampSigner``), each part
    base64url without padding:

    - PAYLOAD: the JSON object ``{"appid", "account", "openid", "unionid", "scope", "profile"}``;
    - TIMESTAMP: the signing time in Unix seconds, as big-endian bytes without leading zeros;
    - SIGNATURE: ``HMAC-SHA256(key, "PAYLOAD.TIMESTAMP")`` with
      ``key = HMAC-SHA256(WX_INTERNAL_SECRET, "wxserver.oauth.openid")``.

    A business page in Python calls ``OpenIdTokens(secret, app_id).loads(token)``; in another
    language it recomputes SIGNATURE and compares in constant time, checks that TIMESTAMP is at
    most ``TOKEN_MAX_AGE`` seconds old and that ``appid`` is its account's, then sets its own
    session: the token is signed, not encrypted, and it travelled in a URL.
    """

    def __init__(self, secret: str, app_id: str) -> None:
        if not secret:
            raise ValueError("OpenIdTokens needs a secret (WX_INTERNAL_SECRET)")
        self.app_id = app_id
        self._signer = TimestampSigner(
            secret, salt=OPENID_SALT, key_derivation="hmac", digest_method=hashlib.sha256
        )

    def __repr__(self) -> str:
        return f"OpenIdTokens(app_id={self.app_id!r})"

    def dumps(self, result: OAuthResult) -> str:
        """The signed token for ``result``."""
        payload = {
            "appid": self.app_id,
            "account": result.account,
            "openid": result.openid,
            "unionid": result.unionid,
            "scope": str(result.scope),
            "profile": dict(result.profile) if result.profile is not None else None,
        }
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        return self._signer.sign(base64_encode(body)).decode("ascii")

    def loads(self, token: str, *, max_age: int = TOKEN_MAX_AGE) -> OAuthResult:
        """The result signed into ``token``; InvalidTokenError if it is not good now."""
        try:
            body = self._signer.unsign(token, max_age=max_age)
            data = json.loads(base64_decode(body))
        except SignatureExpired:
            raise InvalidTokenError("the sign-in token has expired; sign in again") from None
        except BadSignature:
            raise InvalidTokenError("the sign-in token's signature does not match") from None
        except (ValueError, BadData):
            raise InvalidTokenError("the sign-in token's payload is unreadable") from None
        if not isinstance(data, dict) or data.get("appid") != self.app_id:
            raise InvalidTokenError("the sign-in token was issued for another account")
        try:
            return OAuthResult(
                openid=str(data["openid"]),
                unionid=data.get("unionid"),
                scope=Scope(data["scope"]),
                profile=data.get("profile"),
                account=str(data.get("account", "")),
            )
        except (KeyError, ValueError):
            raise InvalidTokenError("the sign-in token's payload lacks a field") from None
