"""The callback URL of each account: GET handshake and POSTed messages."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from flask import Blueprint, Response, current_app, request
from flask.blueprints import BlueprintSetupState

from wxserver.allowlist import client_address
from wxserver.endpoint import TEXT, AccountEndpoint, Outcome
from wxserver.errors import BodyTooLargeError, ForbiddenAddressError, ProtocolError
from wxserver.metrics import WECHAT_DEADLINE, Metrics, refusal_stage
from wxserver.settings import Kind
from wxserver.views.errors import protocol_error_response

if TYPE_CHECKING:
    from wxserver.app import WxServer

log = logging.getLogger("wxserver.request")

blueprint = Blueprint("callback", __name__)


@blueprint.record
def _add_account_rules(setup: BlueprintSetupState) -> None:
    # One rule per configured account, each on its own path.
    for name, endpoint in setup.app.extensions["wxserver"].endpoints.items():
        setup.add_url_rule(
            endpoint.account.path,
            endpoint=f"account_{name}",
            view_func=callback,
            methods=["GET", "POST"],
            defaults={"account": name},
        )


def _raw_echostr() -> bytes | None:
    # echostr goes back byte for byte, so it is taken from the raw query string, where
    # request.args would have decoded it as UTF-8 and replaced what does not decode.
    for key, value in parse_qsl(request.query_string.decode("latin-1"), encoding="latin-1"):
        if key == "echostr":
            return value.encode("latin-1")
    return None


def _too_large(limit: int) -> BodyTooLargeError:
    return BodyTooLargeError(f"the body is larger than {limit} bytes (WX_MAX_BODY_SIZE)")


def _read_body() -> bytes:
    limit: int = current_app.config["MAX_CONTENT_LENGTH"]
    length = request.content_length
    if length is not None:
        if length > limit:
            raise _too_large(limit)
        # A known length within the limit: read exactly that from the server's stream. Werkzeug's
        # limited stream would allocate and zero two 64 KiB buffers per request to do the same.
        body: bytes = request.environ["wsgi.input"].read(length)
        return body
    # A chunked body: werkzeug would silently stop at the limit and hand over a truncated body,
    # so read one byte past it from the server's terminated stream to tell "exactly at" from "over".
    if not request.environ.get("wsgi.input_terminated"):
        return b""
    stream = request.environ["wsgi.input"]
    parts: list[bytes] = []
    size = 0
    while size <= limit:
        chunk = stream.read(limit + 1 - size)
        if not chunk:
            break
        parts.append(chunk)
        size += len(chunk)
    if size > limit:
        raise _too_large(limit)
    return b"".join(parts)


def _check_address(state: WxServer, endpoint: AccountEndpoint) -> None:
    """Refuse a caller outside WeChat's callback IP list, before any signature work.

    Only Official Accounts: WeCom calls from other addresses, which getcallbackip does not list.
    """
    if state.allowlist is None or endpoint.account.kind is not Kind.MP:
        return
    address = client_address(
        request.remote_addr or "",
        request.headers.get("X-Forwarded-For"),
        state.settings.trusted_proxies,
    )
    if not state.allowlist.allows(address):
        raise ForbiddenAddressError(
            f"{address or 'a peer without an IP address'} is not in WeChat's callback IP list "
            "(WX_CALLBACK_IP_ALLOWLIST); a proxy in front must be in WX_TRUSTED_PROXIES"
        )


def callback(account: str) -> Response:
    """Answer WeChat for ``account``."""
    started = time.perf_counter()
    state = current_app.extensions["wxserver"]
    endpoint: AccountEndpoint = state.endpoints[account]
    query = request.args.to_dict()
    with state.metrics.inflight.track_inprogress():
        try:
            _check_address(state, endpoint)
            if request.method == "GET":
                echoed = endpoint.handshake(query, _raw_echostr())
                outcome = Outcome(echoed, TEXT, outcome="handshake")
            else:
                outcome = endpoint.receive(query, _read_body)
        except ProtocolError as exc:
            response = protocol_error_response(exc)
            refused = Outcome(b"", TEXT, outcome=type(exc).__name__, reason=str(exc))
            _finish(state.metrics, endpoint, refused, response.status_code, started, error=exc)
            return response
    response = Response(outcome.body, status=200, content_type=outcome.content_type)
    _finish(state.metrics, endpoint, outcome, 200, started)
    return response


def _finish(
    metrics: Metrics,
    endpoint: AccountEndpoint,
    outcome: Outcome,
    status: int,
    started: float,
    *,
    error: ProtocolError | None = None,
) -> None:
    """Count the request in the metrics and write its log line: the one place for both."""
    seconds = time.perf_counter() - started
    account = endpoint.account.name
    metrics.requests.labels(
        account, request.method, outcome.mode, outcome.msg_type, outcome.outcome
    ).inc()
    metrics.request_seconds.labels(account).observe(seconds)
    if outcome.handler_seconds is not None:
        metrics.handler_seconds.labels(account, outcome.handler).observe(outcome.handler_seconds)
    if error is not None:
        metrics.refused.labels(account, refusal_stage(error), type(error).__name__).inc()
    if outcome.duplicate:
        metrics.duplicates.labels(account).inc()
    if outcome.outcome in ("handler-error", "reply-error"):
        metrics.handler_errors.labels(account, outcome.handler).inc()
        metrics.alarm_signals.labels(account, "invalid_response").inc()
    if status == 200 and seconds > endpoint.account.reply_budget:
        metrics.late_replies.labels(account).inc()
    if seconds >= WECHAT_DEADLINE:
        metrics.alarm_signals.labels(account, "request_timeout").inc()
    _log(account, outcome, status, seconds)


def _log(account: str, outcome: Outcome, status: int, seconds: float) -> None:
    duration_ms = seconds * 1000
    fields = {
        "account": account,
        "method": request.method,
        "mode": outcome.mode,
        "type": outcome.msg_type,
        "event": outcome.event,
        "event_key": outcome.event_key,
        "msg_id": outcome.msg_id,
        "handler": outcome.handler,
        "outcome": outcome.outcome,
        "status": status,
        "duration_ms": round(duration_ms, 2),
    }
    text = " ".join(f"{key}=%s" for key in fields)
    if outcome.reason:
        # The sentence goes last and quoted: it is the one field with spaces in it.
        fields["reason"] = outcome.reason
        text += " reason=%r"
    log.log(
        logging.WARNING if status >= 400 else logging.INFO,
        text,
        *fields.values(),
        extra={"fields": fields},
    )
