"""``GET /internal/metrics``: the Prometheus scrape endpoint.

Under ``/internal/``, which the public nginx site never proxies: scrape it from the machine itself
(gunicorn listens on 127.0.0.1) or from a private network.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app
from prometheus_client import CONTENT_TYPE_LATEST

blueprint = Blueprint("metrics", __name__)


@blueprint.get("/internal/metrics")
def scrape() -> Response:
    """Every metric, summed over the gunicorn workers."""
    body = current_app.extensions["wxserver"].metrics.exposition()
    return Response(body, content_type=CONTENT_TYPE_LATEST)
