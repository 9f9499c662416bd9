"""The one place where errors become HTTP responses: plain sentences, never a traceback.

Every blueprint's errors go through :func:`problem`, which maps an error to its status and the
sentence to show; how it is shown depends only on the blueprint: JSON for the token centre and
the JS-SDK endpoint, plain text elsewhere. The callback URL's refusals, answered with or without
a Flask request, come from :func:`refusal_text`. Handler errors never get here: they are
answered ``success`` long before.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, NamedTuple

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from wxserver.protocol.api_errors import ApiError, ApiUnavailableError, RetryableApiError
from wxserver.protocol.errors import (
    CryptoError,
    ProtocolError,
    SignatureError,
    WxServerError,
    XmlError,
)
from wxserver.services.oauth import InvalidStateError
from wxserver.services.tokens import TokenUnavailableError
from wxserver.web.responses import PLAIN, json_response

log = logging.getLogger("wxserver.request")
upstream_log = logging.getLogger("wxserver.internal")

INTERNAL_ERROR = b"Internal error; the server log has the details.\n"
UPSTREAM_ERRORS = (ApiError, ApiUnavailableError, TokenUnavailableError)


class Refusal(WxServerError):
    """A request the web layer refuses: its status, a sentence, and any extra headers."""

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})


class Problem(NamedTuple):
    """What to answer for an error: status, sentence, JSON fields beside it, headers."""

    status: int
    sentence: str
    fields: Mapping[str, Any]
    headers: Mapping[str, str]


class _Style(NamedTuple):
    json: bool
    # Whether the answer goes to browsers (True) or to operators' business servers (False).
    public: bool


_TEXT = _Style(json=False, public=True)
# Blueprint -> how its errors are shown; text for the others.
_STYLES = {
    "internal": _Style(json=True, public=False),
    "jssdk": _Style(json=True, public=True),
}


def refusal_text(error: ProtocolError) -> bytes:
    """The body of a callback refusal: the error's sentence and its official code, one line."""
    code = (
        getattr(error, "code", None)
        if isinstance(error, CryptoError | SignatureError | XmlError)
        else None
    )
    return (f"{error}" + (f" (code {code})" if code is not None else "") + "\n").encode()


def upstream_status(error: Exception) -> int:
    """503 when WeChat did not answer, was busy, or a refresh did not finish; 502 otherwise."""
    transient = ApiUnavailableError | TokenUnavailableError | RetryableApiError
    return 503 if isinstance(error, transient) else 502


def _upstream(error: Exception, *, public: bool) -> Problem:
    """What to say of a failed WeChat call; ``public`` leaves out what only operators need.

    An action may name this server's IP or its settings: it goes to the log and to the business
    servers, not to the browsers of the public endpoints.
    """
    account = (request.view_args or {}).get("name") or (request.view_args or {}).get("account")
    # The error's text never holds a token.
    upstream_log.warning(
        "account %s: %s failed: %s", account or "-", request.path.rsplit("/", 1)[-1], error
    )
    errcode = error.errcode if isinstance(error, ApiError) else None
    if not public:
        action = error.action if isinstance(error, ApiError) else ""
        fields = {"errcode": errcode, "action": action}
        return Problem(upstream_status(error), str(error), fields, {})
    if errcode is None:
        sentence = "WeChat did not answer in time; try again shortly."
    else:
        sentence = f"WeChat refused the request (errcode {errcode}); see the server log."
    return Problem(upstream_status(error), sentence, {"errcode": errcode}, {})


def problem(error: Exception, *, public: bool = True) -> Problem:
    """The status and sentence of any error a view raised; a 500 (logged) for a bug."""
    if isinstance(error, Refusal):
        return Problem(error.status, error.message, {}, error.headers)
    if isinstance(error, ProtocolError):
        return Problem(error.status, refusal_text(error).decode().rstrip("\n"), {}, {})
    if isinstance(error, InvalidStateError):
        return Problem(400, f"This sign-in cannot be completed: {error}.", {}, {})
    if isinstance(error, UPSTREAM_ERRORS):
        return _upstream(error, public=public)
    if isinstance(error, HTTPException):
        return Problem(error.code or 500, f"{error.name}: {error.description}", {}, {})
    log.error("unexpected error: %s", type(error).__name__, exc_info=error)
    return Problem(500, INTERNAL_ERROR.decode().rstrip("\n"), {}, {})


def _respond(error: Exception) -> Response:
    style = _STYLES.get(request.blueprint or "", _TEXT)
    found = problem(error, public=style.public)
    if style.json and not isinstance(error, HTTPException):
        response = json_response({"error": found.sentence, **found.fields}, found.status)
    else:
        response = Response(found.sentence + "\n", status=found.status, content_type=PLAIN)
        if isinstance(error, _NO_STORE):
            response.headers["Cache-Control"] = "no-store"
    response.headers.update(found.headers)
    return response


# What a person reads on a sign-in page, or a business server acts on: never kept by a cache.
_NO_STORE = (Refusal, InvalidStateError, *UPSTREAM_ERRORS)


def register(app: Flask) -> None:
    """Answer every error of every blueprint of ``app`` through :func:`problem`."""
    app.register_error_handler(Exception, _respond)
