"""Health checks for process managers and load balancers.

``GET /healthz`` (liveness) answers as long as a worker can serve a request at all; it does no
I/O, so a slow or failing store never gets a working process restarted. ``GET /readyz``
(readiness) answers 503, with the reason in one plain-text line, only when nothing can answer: the
configuration is not in place, or no store answers a write and a read. Otherwise it answers 200:
``ready``, or ``ready, degraded:`` followed by one line per problem that leaves messages answered
but not as usual (the shared store out and this machine's standing in; no job worker for the
background work; a worker with other handler sets), each with its fix.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time

from flask import Blueprint, Flask, Response, current_app

from wxserver.services import heartbeat
from wxserver.services.account import handler_set_names
from wxserver.services.store import FallbackStore, Store
from wxserver.web.responses import text_response
from wxserver.web.state import WxServer, server

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


def _probe(store: Store) -> str | None:
    """Why ``store`` fails a write and a read, or None when it answers."""
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
        return type(exc).__name__
    if read != value:
        log.warning("readiness: the store returned %r for the probe key, not the value set", read)
        return "a value written could not be read back"
    return None


def _store_state(store: Store) -> tuple[str | None, str | None]:
    """(why nothing can answer, why the server answers in a degraded way); None where fine."""
    if not isinstance(store, FallbackStore):
        failed = _probe(store)
        return (None if failed is None else f"store unavailable: {failed}"), None
    shared = _probe(store.shared)
    if shared is None:
        return None, None
    local = _probe(store.local)
    if local is not None:
        return f"store unavailable: {shared}; this machine's store too: {local}", None
    return None, (
        f"the shared store cannot be reached ({shared}); this machine's store stands in, so "
        "each message is handled once per machine until it returns"
    )


def _worker_problems(state: WxServer) -> list[str]:
    if state.huey is None:
        return []
    needed = any(
        rule.background for services in state.accounts.values() for rule in services.router.rules
    )
    if not needed:
        try:
            needed = bool(state.huey.pending_count())
        except Exception as exc:  # the queue is out: the store's state says so already
            log.warning("readiness: the job queue failed: %s: %s", type(exc).__name__, exc)
    return heartbeat.problems(
        state.store, handler_set_names(state.accounts), needed=needed, now=time.time()
    )


@blueprint.get("/readyz")
def readyz() -> Response:
    """Readiness: configured, and the store answers; what runs degraded, on the lines after."""
    problem = _configuration_problem(current_app)
    if problem is not None:
        return text_response(problem, 503)
    state = server()
    down, degraded = _store_state(state.store)
    if down is not None:
        return text_response(down, 503)
    notes = ([degraded] if degraded else []) + _worker_problems(state)
    if not notes:
        return text_response("ready", 200)
    return text_response("\n".join(["ready, degraded:", *(f"- {note}" for note in notes)]), 200)
