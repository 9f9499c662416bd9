"""The ceiling: a bare WSGI function that reads the body and answers ``success``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

_BODY = b"success"
_HEADERS = [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(_BODY)))]


def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """Read the request body (as every real handler must) and answer a constant."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if length:
        environ["wsgi.input"].read(length)
    start_response("200 OK", list(_HEADERS))
    return [_BODY]
