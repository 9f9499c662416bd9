"""Health checks for process managers and load balancers.

``GET /healthz`` (liveness) answers as long as a worker can serve a request at all; it does no
I/O, so a slow or failing store never gets a working process restarted. ``GET /readyz``
(readiness) answers 200 only when the configuration is in place and the store answers a write
and a read; otherwise 503 with the reason in one plain-text line, so traffic is sent elsewhere
until it recovers.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading

from flask import Blueprint, Flask, Response, current_app

from wxserver.web.responses import text_response

log = logging.getLogger("wxserver.health")

blueprint = Blueprint("health", __name__)

# Short, so probe keys never pile up in a shared store; long enough to read back at once.
PROBE_TTL = 30.0


@blueprint.get("/healthz")
def healthz() -> Response:
    """Liveness: this process serves requests."""
    return text_response("ok", 200)


def _configuration_problem(app: Flask) -> str | None:
    state = app.extensions.get("wxserver")
    if state is None:
        return "not configured: the app was not built by wxserver.create_app"
    accounts = state.settings.accounts
    if not accounts and state.component is None:
        return "not configured: no account is configured"
    missing = [account.name for account in accounts if account.name not in state.accounts]
    if missing:
        return f"not configured: no callback endpoint for account {', '.join(missing)}"
    return None


def _store_problem(app: Flask) -> str | None:
    store = app.extensions["wxserver"].store
    # One key per process and thread, so concurrent probes never read each other's value.
    key = f"health:probe:{os.getpid()}:{threading.get_ident()}"
    value = secrets.token_hex(8).encode()
    try:
        store.set(key, value, ttl=PROBE_TTL)
        read = store.get(key)
    except Exception as exc:
        # The exception's text may name a host or a password-bearing URL: it goes to the log,
        # and only its type to the unauthenticated caller.
        log.warning("readiness: the store failed the probe: %s: %s", type(exc).__name__, exc)
        return f"store unavailable: {type(exc).__name__}"
    if read != value:
        log.warning("readiness: the store returned %r for the probe key, not the value set", read)
        return "store unavailable: a value written could not be read back"
    return None


@blueprint.get("/readyz")
def readyz() -> Response:
    """Readiness: configured, and the store answers."""
    problem = _configuration_problem(current_app) or _store_problem(current_app)
    if problem is not None:
        return text_response(problem, 503)
    return text_response("ready", 200)
