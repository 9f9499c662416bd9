"""Web-page authorization (网页授权): who is the WeChat user opening this page?

- ``GET /oauth/<account>/authorize?scope=snsapi_base|snsapi_userinfo&next=<url>`` redirects (302)
  to WeChat's consent page with a fresh ``state`` (``wxserver.oauth.LoginStates``: in the store,
  single use, 10 minutes, bound to the account, the scope, the next URL and this browser through
  the ``wxserver_oauth`` cookie). ``scope`` defaults to ``snsapi_base`` (the openid, silently);
  ``snsapi_userinfo`` asks the user for their profile. ``next`` is a path on this site or an
  http(s) URL within the account's JS-SDK safe domains; without it, ``WX_OAUTH_NEXT``.
- ``GET /oauth/<account>/callback?code=...&state=...`` is where WeChat sends the browser back: the
  state is checked, the code exchanged for the openid (and, for ``snsapi_userinfo``, the profile
  fetched), and the ``OAuthResult`` handed on:

  1. to application code, if a login handler is set (``set_login_handler``): it gets the result
     and may return a response (sign the user in, render a page); None falls through to 2.
  2. to the next URL, by a redirect that adds ``wx_oauth=<token>``: the result signed with
     ``WX_INTERNAL_SECRET`` (``wxserver.oauth.OpenIdTokens``, whose docstring says how a business
     page verifies it), valid two minutes. Never the raw openid, which anybody could forge.

The callback URL (``https://<this host>/oauth/<account>/callback``) must be on the account's
网页授权域名 in the MP console. Why ``/oauth/<account>/...`` rather than the callback path: see
``wxserver.web.jssdk``. Refusals are plain sentences, since a person reads them in WeChat's browser:
bad scope or next 400, unknown/expired/reused state or one started in another browser 400, the
user declining 403, a bad or used code 400, unknown account 404, no AppSecret (or neither a login
handler nor ``WX_INTERNAL_SECRET`` to hand the result on with) 409, WeChat failing 502/503.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from urllib.parse import urlencode

from flask import Blueprint, Flask, current_app, redirect, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.wrappers import Response as BaseResponse

from wxserver.protocol.api_errors import OtherApiError
from wxserver.services.oauth import (
    LoginStates,
    OAuthResult,
    OpenIdTokens,
    Scope,
    authorize_url,
    new_browser_id,
    safe_next,
)
from wxserver.web.errors import Refusal
from wxserver.web.state import account_api, server

log = logging.getLogger("wxserver.oauth")

blueprint = Blueprint("oauth", __name__, url_prefix="/oauth")

LOGIN_HANDLER = "wxserver.oauth_login"
BROWSER_COOKIE = "wxserver_oauth"
RESULT_PARAM = "wx_oauth"
_BROWSER_RE = re.compile(r"[0-9a-f]{32}")
# 40029: the code is invalid or expired; 40163: it was already used.
_BAD_CODE = frozenset({40029, 40163})

LoginHandler = Callable[[OAuthResult], ResponseReturnValue | None]


def set_login_handler(app: Flask, handler: LoginHandler) -> LoginHandler:
    """Make ``handler`` receive every completed sign-in of ``app``; returns it unchanged.

    The handler runs inside the callback request (``flask.session`` and ``request`` work) and
    returns a response, or None to let the browser go on to the next URL with the signed token.
    """
    app.extensions[LOGIN_HANDLER] = handler
    return handler


def with_token(next_url: str, token: str) -> str:
    """``next_url`` with ``wx_oauth=<token>`` added to its query (any fragment kept last)."""
    base, hash_mark, fragment = next_url.partition("#")
    separator = "" if base.endswith(("?", "&")) else "&" if "?" in base else "?"
    return f"{base}{separator}{urlencode({RESULT_PARAM: token})}{hash_mark}{fragment}"


def _login_handler() -> LoginHandler | None:
    handler: LoginHandler | None = current_app.extensions.get(LOGIN_HANDLER)
    return handler


@blueprint.get("/<account>/authorize")
def authorize(account: str) -> BaseResponse:
    """Send the browser to WeChat's consent page."""
    settings, _ = account_api(account)
    try:
        scope = Scope(request.args.get("scope", Scope.BASE))
    except ValueError:
        raise Refusal(400, "scope must be snsapi_base or snsapi_userinfo.") from None
    next_url = request.args.get("next", "")
    if next_url and not safe_next(next_url, settings.jssdk_domains):
        raise Refusal(
            400,
            "next must be a path on this site (/...) or an http(s) URL within the account's "
            f"domains: {', '.join(settings.jssdk_domains) or '(none configured)'}.",
        )
    next_url = next_url or settings.oauth_next
    if _login_handler() is None:
        if not next_url:
            raise Refusal(400, "Pass ?next=<where to go after signing in>, or set WX_OAUTH_NEXT.")
        if not server().settings.internal_secret:
            raise Refusal(
                409,
                "Set WX_INTERNAL_SECRET, which signs the result handed to the next URL, or "
                "register a login handler in the application.",
            )
    # One id per browser, kept across sign-ins, so that two tabs do not undo each other.
    browser = request.cookies.get(BROWSER_COOKIE, "")
    if not _BROWSER_RE.fullmatch(browser):
        browser = new_browser_id()
    states = LoginStates(server().store)
    state = states.issue(account, scope, next_url, browser)
    callback_url = url_for(".callback", account=account, _external=True)
    response = redirect(authorize_url(settings.app_id, callback_url, scope, state), 302)
    response.headers["Cache-Control"] = "no-store"
    response.set_cookie(
        BROWSER_COOKIE,
        browser,
        max_age=int(states.ttl),
        path=f"/oauth/{account}/",
        secure=request.is_secure,
        httponly=True,
        # Lax: sent on the top-level GET that WeChat's redirect back makes.
        samesite="Lax",
    )
    return response


@blueprint.get("/<account>/callback")
def callback(account: str) -> BaseResponse:
    """Complete a sign-in: check the state, exchange the code, hand the result on."""
    settings, api = account_api(account)
    state = request.args.get("state", "")
    if not state:
        raise Refusal(400, "This address lacks its state parameter: start the sign-in again.")
    pending = LoginStates(server().store).consume(
        account, state, request.cookies.get(BROWSER_COOKIE, "")
    )
    code = request.args.get("code", "")
    if not code:
        # WeChat comes back with the state alone when the user declines.
        raise Refusal(403, "The sign-in was not authorised in WeChat.")
    try:
        grant = api.oauth_exchange_code(code)
    except OtherApiError as error:
        if error.errcode not in _BAD_CODE:
            raise
        raise Refusal(400, "The sign-in code is invalid or already used: sign in again.") from None
    profile = api.oauth_userinfo(grant) if pending.scope is Scope.USERINFO else None
    result = OAuthResult(
        openid=grant.openid,
        unionid=grant.unionid or (profile or {}).get("unionid"),
        scope=pending.scope,
        profile=profile,
        account=account,
        next_url=pending.next_url,
    )
    log.info("account %s: web sign-in completed (%s)", account, pending.scope)
    handler = _login_handler()
    if handler is not None:
        answer = handler(result)
        if answer is not None:
            return current_app.make_response(answer)
    secret = server().settings.internal_secret
    if not pending.next_url or not secret:
        raise Refusal(
            409, "The sign-in has nowhere to go: set WX_OAUTH_NEXT and WX_INTERNAL_SECRET."
        )
    token = OpenIdTokens(secret.reveal(), settings.app_id).dumps(result)
    response = redirect(with_token(pending.next_url, token), 302)
    response.headers["Cache-Control"] = "no-store"
    return response
