"""``GET /jssdk/<account>/config?url=<page URL>``: the ``wx.config`` parameters of a web page.

This replaces the seeds' getConfig.php. The page sends its own address, percent-encoded,
``encodeURIComponent(location.href.split('#')[0])``, and gets
``{"appId", "timestamp", "nonceStr", "signature", "url"}`` (``url`` is the address that was
signed, to compare with the page's when WeChat reports "invalid signature"). The jsapi_ticket
comes from the account's token owner, so every worker shares one ticket and one refresh.

Why ``/jssdk/<account>/...`` and not under the account's callback path: the callback paths are
served on plain http too (WeChat may call port 80), while everything outside them is https-only
at nginx; and a prefix of its own never collides with another account's callback path.

Refusals (JSON ``{"error": "<sentence>"}``): no or malformed ``url`` (not http(s), no host) 400;
a host outside the account's JS-SDK safe domains (``WX_JSSDK_DOMAINS``, the MP console's
JS接口安全域名) 403, naming them; unknown account 404; account without AppSecret 409; WeChat
failing 502/503. The domain rule (``wxserver.oauth.domain_allows``): an entry covers its host and
subdomains on the default port; a page on another port needs the port in the entry.

CORS, by hand (a dozen lines; flask-cors is not a dependency and would not read the allowed
origins per account): ``Access-Control-Allow-Origin`` echoes the request's ``Origin`` only when
it is one of the account's ``cors_origins`` (``WX_CORS_ORIGINS``), never ``*``; ``Vary: Origin``
always; no credentials. ``OPTIONS`` answers the preflight: 204 for an allowed origin, 403 otherwise.
"""

from __future__ import annotations

import secrets
import string
import time
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, request

from wxserver.protocol.signature import jsapi_signature
from wxserver.services.oauth import domain_allows, web_url
from wxserver.web.errors import Refusal
from wxserver.web.responses import json_response
from wxserver.web.state import account_api, server, token_owner

blueprint = Blueprint("jssdk", __name__, url_prefix="/jssdk")

_NONCE_ALPHABET = string.ascii_letters + string.digits
# How long a browser may reuse a preflight answer.
PREFLIGHT_MAX_AGE = 600


@dataclass(frozen=True, slots=True)
class JsSdkConfig:
    """The parameters ``wx.config`` needs, for the page at ``url``."""

    app_id: str
    timestamp: int
    nonce_str: str
    signature: str
    url: str

    def as_json(self) -> dict[str, Any]:
        """The JSON object, with the key names ``wx.config`` uses."""
        return {
            "appId": self.app_id,
            "timestamp": self.timestamp,
            "nonceStr": self.nonce_str,
            "signature": self.signature,
            "url": self.url,
        }


def sign_page(*, app_id: str, ticket: str, url: str, nonce_str: str, timestamp: int) -> JsSdkConfig:
    """Sign the page at ``url`` (its ``#fragment`` dropped) for ``wx.config``."""
    page = url.split("#", 1)[0]
    signature = jsapi_signature(ticket=ticket, noncestr=nonce_str, timestamp=timestamp, url=page)
    return JsSdkConfig(app_id, timestamp, nonce_str, signature, page)


def new_nonce(length: int = 16) -> str:
    """A random nonceStr of letters and digits, as the official samples make it."""
    return "".join(secrets.choice(_NONCE_ALPHABET) for _ in range(length))


def now() -> int:
    """The timestamp to sign with, in Unix seconds."""
    return int(time.time())


def _normal_origin(origin: str) -> str:
    return origin.strip().rstrip("/").lower()


def _allowed_origin(name: str) -> str | None:
    """The request's Origin if the account allows it, else None."""
    origin = request.headers.get("Origin", "")
    services = server().accounts.get(name)
    if not origin or services is None:
        return None
    allowed = {_normal_origin(item) for item in services.account.cors_origins}
    return origin if _normal_origin(origin) in allowed else None


@blueprint.after_request
def _cors(response: Response) -> Response:
    # Every answer may differ by Origin, refusals included, so caches must key on it.
    response.vary.add("Origin")
    origin = _allowed_origin(str((request.view_args or {}).get("account", "")))
    if origin is not None:
        response.headers["Access-Control-Allow-Origin"] = origin
    return response


def _preflight(name: str) -> Response:
    if name not in server().accounts:
        raise Refusal(404, f"There is no account named {name!r}.")
    if _allowed_origin(name) is None:
        raise Refusal(403, "This origin may not call the JS-SDK config endpoint (WX_CORS_ORIGINS).")
    response = Response(status=204)
    response.headers["Access-Control-Allow-Methods"] = "GET"
    response.headers["Access-Control-Allow-Headers"] = "X-Requested-With"
    response.headers["Access-Control-Max-Age"] = str(PREFLIGHT_MAX_AGE)
    return response


@blueprint.route("/<account>/config", methods=["GET", "OPTIONS"])
def config(account: str) -> Response:
    """The signed ``wx.config`` parameters for the page named by ``?url=``."""
    if request.method == "OPTIONS":
        return _preflight(account)
    settings, _ = account_api(account)
    url = request.args.get("url", "")
    parts = web_url(url)
    if parts is None:
        raise Refusal(
            400,
            "Pass the page's address as ?url=, an http(s) URL percent-encoded with "
            "encodeURIComponent(location.href.split('#')[0]).",
        )
    if not settings.jssdk_domains:
        raise Refusal(
            403,
            f"Account {account!r} has no JS-SDK safe domains; set WX_JSSDK_DOMAINS to the "
            "JS接口安全域名 entered in the MP console.",
        )
    if not domain_allows(settings.jssdk_domains, url):
        raise Refusal(
            403,
            f"The page's host {parts.netloc!r} is not within the JS-SDK safe domains of account "
            f"{account!r}: {', '.join(settings.jssdk_domains)}.",
        )
    ticket = token_owner(account).jsapi_ticket()
    signed = sign_page(
        app_id=settings.app_id, ticket=ticket, url=url, nonce_str=new_nonce(), timestamp=now()
    )
    return json_response(signed.as_json())
