"""The bodies the web layer answers with outside the callback: JSON and plain sentences."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Response, jsonify

PLAIN = "text/plain; charset=utf-8"


def json_response(data: Mapping[str, Any], status: int = 200) -> Response:
    """``data`` as JSON that no cache keeps."""
    response = jsonify(data)
    response.status_code = status
    # Tokens and refusals alike: nothing here may be kept by a cache on the way.
    response.headers["Cache-Control"] = "no-store"
    return response


def text_response(message: str, status: int = 200) -> Response:
    """One sentence as plain text that no cache keeps (a health answer, a sign-in refusal)."""
    response = Response(message + "\n", status=status, content_type=PLAIN)
    response.headers["Cache-Control"] = "no-store"
    return response
