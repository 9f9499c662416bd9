"""The token centre for business servers (the 中控服务器's passive-refresh interface).

Business servers never fetch the access_token themselves (each fetch by someone else would retire
ours); they ask here, and report a token WeChat rejected so that it is replaced once:

- ``GET  /internal/accounts/<name>/token`` -> ``{"access_token", "expires_at"}``
- ``POST /internal/accounts/<name>/token/refresh`` with ``{"stale_token": "..."}``: WeChat
  rejected that token (40001, 40014, 42001). It is refreshed only if it is still the current one,
  so any number of servers reporting the same token cause one fetch; answers like ``GET .../token``.
- ``GET  /internal/accounts/<name>/jsapi_ticket`` -> ``{"ticket", "expires_at"}``

``expires_at`` is in Unix seconds (null if unknown). Every request carries
``Authorization: Bearer <WX_INTERNAL_SECRET>``. Without that setting the routes do not exist (404,
like any unknown path); a missing or wrong bearer gets 401 with ``WWW-Authenticate``; an unknown
account 404; an account without an AppSecret 409. When WeChat fails: 502 if it answered with an
errcode, 503 if it did not answer, was busy, or a refresh under way did not finish; the JSON names
the ``errcode`` and the ``action`` to take.

These routes live under ``/internal/``, which the public nginx site answers with 404: business
servers call gunicorn on the machine or the private network. The token is never logged.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Response, abort, current_app, jsonify, request

from wxserver.api import WeChatAPI
from wxserver.api_errors import ApiError, ApiUnavailableError, RetryableApiError
from wxserver.settings import Account
from wxserver.tokens import TokenOwner, TokenUnavailableError

if TYPE_CHECKING:
    from wxserver.app import WxServer

log = logging.getLogger("wxserver.internal")

blueprint = Blueprint("internal", __name__, url_prefix="/internal/accounts")

UpstreamError = ApiError | ApiUnavailableError | TokenUnavailableError
UPSTREAM_ERRORS = (ApiError, ApiUnavailableError, TokenUnavailableError)
_REALM = 'Bearer realm="wxserver internal"'


# --- shared by the web-page blueprints (jssdk, oauth) --------------------------------------------


class Refusal(Exception):
    """A request the web layer refuses: its status, a sentence, and any extra headers."""

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})


def server() -> WxServer:
    """The wxserver state of the current app."""
    value: WxServer = current_app.extensions["wxserver"]
    return value


def account_api(name: str) -> tuple[Account, WeChatAPI]:
    """The account called ``name`` and its API client; Refusal 404 or 409 otherwise."""
    endpoint = server().endpoints.get(name)
    if endpoint is None:
        raise Refusal(404, f"There is no account named {name!r}.")
    if endpoint.api is None:
        raise Refusal(
            409,
            f"Account {name!r} has no AppSecret (or is a WeCom app), so this server holds no "
            f"access_token for it; set WX__ACCOUNTS__{name.upper()}__APP_SECRET (WX_APPSECRET "
            "for the default account).",
        )
    return endpoint.account, endpoint.api


def token_owner(name: str) -> TokenOwner:
    """The token owner of the account called ``name``; Refusal 404 or 409 otherwise."""
    _, api = account_api(name)
    if not isinstance(api.tokens, TokenOwner):
        raise Refusal(409, f"Account {name!r} has no token owner on this server.")
    return api.tokens


def upstream_status(error: UpstreamError) -> int:
    """503 when WeChat did not answer, was busy, or a refresh did not finish; 502 otherwise."""
    transient = ApiUnavailableError | TokenUnavailableError | RetryableApiError
    return 503 if isinstance(error, transient) else 502


def upstream_body(error: UpstreamError, *, public: bool) -> dict[str, Any]:
    """The JSON that describes ``error``; ``public`` leaves out what only operators need.

    An action may name this server's IP or its settings: it goes to the log and to the business
    servers, not to the browsers of the public endpoints.
    """
    errcode = error.errcode if isinstance(error, ApiError) else None
    if not public:
        action = error.action if isinstance(error, ApiError) else ""
        return {"error": str(error), "errcode": errcode, "action": action}
    if errcode is None:
        sentence = "WeChat did not answer in time; try again shortly."
    else:
        sentence = f"WeChat refused the request (errcode {errcode}); see the server log."
    return {"error": sentence, "errcode": errcode}


def log_upstream(error: UpstreamError, account: str, what: str) -> None:
    """One warning line for a failed upstream call (the error's text never holds a token)."""
    log.warning("account %s: %s failed: %s", account, what, error)


def json_response(data: Mapping[str, Any], status: int = 200) -> Response:
    """``data`` as JSON that no cache keeps."""
    response = jsonify(data)
    response.status_code = status
    # Tokens and refusals alike: nothing here may be kept by a cache on the way.
    response.headers["Cache-Control"] = "no-store"
    return response


# --- the internal routes ------------------------------------------------------------------------


@blueprint.before_request
def _authenticate() -> None:
    secret = server().settings.internal_secret
    if not secret:
        abort(404)  # off: indistinguishable from a path that does not exist
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    given = given.strip()
    if scheme.lower() == "bearer" and hmac.compare_digest(given.encode(), secret.reveal().encode()):
        return
    challenge = _REALM + (', error="invalid_token"' if given else "")
    raise Refusal(
        401,
        "Send Authorization: Bearer <WX_INTERNAL_SECRET>.",
        {"WWW-Authenticate": challenge},
    )


@blueprint.errorhandler(Refusal)
def _refused(refusal: Refusal) -> Response:
    response = json_response({"error": refusal.message}, refusal.status)
    response.headers.update(refusal.headers)
    return response


def _upstream(error: UpstreamError) -> Response:
    account = (request.view_args or {}).get("name", "-")
    log_upstream(error, str(account), request.path.rsplit("/", 1)[-1])
    return json_response(upstream_body(error, public=False), upstream_status(error))


for _error in UPSTREAM_ERRORS:
    blueprint.register_error_handler(_error, _upstream)


def _answer(owner: TokenOwner, key: str, value: str, *, ticket: bool) -> Response:
    record = owner.record(ticket=ticket)
    # Another process may have refreshed since ``value`` was read: a stored record that is
    # newer is the better answer; its expiry belongs to it only.
    if record is not None and record.value != value and time.time() < record.expires_at:
        value = record.value
    expires_at = int(record.expires_at) if record is not None and record.value == value else None
    return json_response({key: value, "expires_at": expires_at})


@blueprint.get("/<name>/token")
def token(name: str) -> Response:
    """The account's current access_token."""
    owner = token_owner(name)
    return _answer(owner, "access_token", owner.current(), ticket=False)


@blueprint.post("/<name>/token/refresh")
def refresh(name: str) -> Response:
    """Replace ``stale_token`` if it is still the current token; answer the one to use."""
    owner = token_owner(name)
    body = request.get_json(silent=True)
    stale = body.get("stale_token") if isinstance(body, dict) else None
    if not isinstance(stale, str) or not stale:
        raise Refusal(
            400,
            'Send the JSON {"stale_token": "<the access_token WeChat rejected>"} '
            "with Content-Type: application/json.",
        )
    value = owner.invalidate(stale)
    outcome = "it was replaced" if value != stale else "WeChat handed the same token back"
    log.info("account %s: a business server reported its access_token stale; %s", name, outcome)
    return _answer(owner, "access_token", value, ticket=False)


@blueprint.get("/<name>/jsapi_ticket")
def jsapi_ticket(name: str) -> Response:
    """The account's current jsapi_ticket (for servers that sign JS-SDK pages themselves)."""
    owner = token_owner(name)
    return _answer(owner, "ticket", owner.jsapi_ticket(), ticket=True)
