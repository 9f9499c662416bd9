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
    state = current_app.extensions["wxserver"]
    for check in state.netchecks.values():
        check.run_in_background()  # at most hourly across every process; never waited for
        last = check.last()
        if last is not None:
            state.metrics.callback_check.labels(check.api.app_id, "dns").set(int(last.dns_ok))
            state.metrics.callback_check.labels(check.api.app_id, "ping").set(int(last.ping_ok))
    if state.component is not None:
        state.component.observe()
        state.component.start()
    body = state.metrics.exposition()
    return Response(body, content_type=CONTENT_TYPE_LATEST)
