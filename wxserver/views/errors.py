"""The one place where errors become HTTP responses: plain sentences, never a traceback."""

from __future__ import annotations

import logging

from flask import Flask, Response
from werkzeug.exceptions import HTTPException

from wxserver.errors import CryptoError, ProtocolError, SignatureError, XmlError

log = logging.getLogger("wxserver.request")


def protocol_error_response(exc: ProtocolError) -> Response:
    """A 4xx with the error's sentence (and official code, where it has one) as plain text."""
    code = (
        getattr(exc, "code", None)
        if isinstance(exc, CryptoError | SignatureError | XmlError)
        else None
    )
    text = f"{exc}" + (f" (code {code})" if code is not None else "")
    return Response(text + "\n", status=exc.status, content_type="text/plain; charset=utf-8")


def _http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    return Response(
        f"{exc.name}: {exc.description}\n", status=status, content_type="text/plain; charset=utf-8"
    )


def _unexpected(exc: Exception) -> Response:
    # Reached only by a bug in wxserver itself; handler errors are answered `success` earlier.
    log.exception("unexpected error: %s", type(exc).__name__)
    return Response(
        "Internal error; the server log has the details.\n",
        status=500,
        content_type="text/plain; charset=utf-8",
    )


def register(app: Flask) -> None:
    """Install the error handlers on ``app``."""
    app.register_error_handler(ProtocolError, protocol_error_response)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
