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

from flask import Blueprint, Response, abort, request

from wxserver.services.tokens import TokenOwner
from wxserver.web.errors import Refusal
from wxserver.web.responses import json_response
from wxserver.web.state import server, token_owner

log = logging.getLogger("wxserver.internal")

blueprint = Blueprint("internal", __name__, url_prefix="/internal/accounts")

_REALM = 'Bearer realm="wxserver internal"'


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
