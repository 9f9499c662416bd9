"""The one place where errors become HTTP responses: plain sentences, never a traceback."""

from __future__ import annotations

import logging

from flask import Flask, Response
from werkzeug.exceptions import HTTPException

from wxserver.errors import CryptoError, ProtocolError, SignatureError, XmlError

log = logging.getLogger("wxserver.request")


PLAIN = "text/plain; charset=utf-8"


def protocol_error_text(exc: ProtocolError) -> str:
    """The error's sentence, and its official code where it has one, as one line."""
    code = (
        getattr(exc, "code", None)
        if isinstance(exc, CryptoError | SignatureError | XmlError)
        else None
    )
    return f"{exc}" + (f" (code {code})" if code is not None else "") + "\n"


def protocol_error_response(exc: ProtocolError) -> Response:
    """A 4xx with the error's sentence (and official code, where it has one) as plain text."""
    return Response(protocol_error_text(exc), status=exc.status, content_type=PLAIN)


def _http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    return Response(f"{exc.name}: {exc.description}\n", status=status, content_type=PLAIN)


class _InternalError:
    """The answer to a bug in wxserver itself; handler errors are answered `success` earlier."""

    body = b"Internal error; the server log has the details.\n"

    def respond(self, exc: Exception) -> tuple[int, bytes, str]:
        """Log ``exc`` with its traceback; return status, body and content type of the 500."""
        log.error("unexpected error: %s", type(exc).__name__, exc_info=exc)
        return 500, self.body, PLAIN


INTERNAL_ERROR = _InternalError()


def _unexpected(exc: Exception) -> Response:
    status, body, content_type = INTERNAL_ERROR.respond(exc)
    return Response(body, status=status, content_type=content_type)


def register(app: Flask) -> None:
    """Install the error handlers on ``app``."""
    app.register_error_handler(ProtocolError, protocol_error_response)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
