"""The callback URL of each account: GET handshake and POSTed messages.

Each account's URL is a rule of this blueprint, and :class:`CallbackRoute` answers it from the WSGI
environ alone: the query string, the body stream, the peer's address. The route needs none of
Flask's per-request machinery (request and app contexts, the URL adapter, the session, the
response object), which costs more than the whole protocol pipeline. So the app
(:class:`wxserver.app.WxFlask`) hands a GET or POST to the account's exact path straight to the
route, unless something registered on the app would observe a Flask request (see
``WxFlask.direct_route``); every other request, and those, go through Flask to :func:`callback`,
which calls the same route. Both ways answer byte for byte the same.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Response, current_app, request
from flask.blueprints import BlueprintSetupState

from wxserver.addresses import client_address
from wxserver.allowlist import CallbackAllowlist
from wxserver.endpoint import TEXT, AccountEndpoint, Outcome
from wxserver.errors import BodyTooLargeError, ForbiddenAddressError, ProtocolError
from wxserver.querystring import parse_query, raw_value
from wxserver.settings import Kind
from wxserver.views.errors import INTERNAL_ERROR, protocol_error_text

if TYPE_CHECKING:
    from wxserver.app import WxServer

log = logging.getLogger("wxserver.request")

blueprint = Blueprint("callback", __name__)

Environ = dict[str, Any]
StartResponse = Callable[..., Any]

_STATUS_LINES = {status.value: f"{status.value} {status.phrase}" for status in HTTPStatus}


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


def callback(account: str) -> Response:
    """The Flask view of an account's URL: the same answer as the direct route."""
    state: WxServer = current_app.extensions["wxserver"]
    status, body, content_type = state.routes[account].respond(request.environ)
    return Response(body, status=status, content_type=content_type)


class CallbackRoute:
    """One account's callback URL, answered from the WSGI environ."""

    def __init__(self, state: WxServer, endpoint: AccountEndpoint) -> None:
        self.endpoint = endpoint
        self.name = endpoint.account.name
        self._max_body = state.settings.max_body_size
        self._trusted_proxies = state.settings.trusted_proxies
        # WeCom calls from addresses that getcallbackip does not list.
        self._allowlist: CallbackAllowlist | None = (
            state.allowlist if endpoint.account.kind is Kind.MP else None
        )
        self._reply_budget = endpoint.account.reply_budget
        self._metrics = state.metrics
        self._meter = state.metrics.meter(self.name)

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        """The route as a WSGI app."""
        try:
            status, body, content_type = self.respond(environ)
        except Exception as exc:  # a bug in wxserver: as the Flask error handler answers it
            status, body, content_type = INTERNAL_ERROR.respond(exc)
        start_response(
            _STATUS_LINES[status],
            [("Content-Type", content_type), ("Content-Length", str(len(body)))],
        )
        return [body]

    def respond(self, environ: Environ) -> tuple[int, bytes, str]:
        """Status, body and content type of the answer to one request."""
        started = time.perf_counter()
        method: str = environ.get("REQUEST_METHOD", "GET")
        query_string: str = environ.get("QUERY_STRING", "")
        query = parse_query(query_string)
        inflight = self._metrics.inflight
        inflight.inc()
        try:
            if self._allowlist is not None:
                self._check_address(self._allowlist, environ)
            if method == "GET":
                echostr = raw_value(query_string, "echostr")
                echoed = self.endpoint.handshake(query, echostr)
                outcome = Outcome(echoed, TEXT, outcome="handshake")
            else:
                outcome = self.endpoint.receive(query, lambda: self._read_body(environ))
        except ProtocolError as exc:
            refused = Outcome(b"", TEXT, outcome=type(exc).__name__, reason=str(exc))
            self._finish(method, refused, exc.status, started, error=exc)
            return exc.status, protocol_error_text(exc).encode(), TEXT
        finally:
            inflight.dec()
        self._finish(method, outcome, 200, started)
        return 200, outcome.body, outcome.content_type

    def _check_address(self, allowlist: CallbackAllowlist, environ: Environ) -> None:
        """Refuse a caller outside WeChat's callback IP list, before any signature work."""
        address = client_address(
            environ.get("REMOTE_ADDR") or "",
            environ.get("HTTP_X_FORWARDED_FOR"),
            self._trusted_proxies,
        )
        if not allowlist.allows(address):
            raise ForbiddenAddressError(
                f"{address or 'a peer without an IP address'} is not in WeChat's callback IP "
                "list (WX_CALLBACK_IP_ALLOWLIST); a proxy in front must be in WX_TRUSTED_PROXIES"
            )

    def _read_body(self, environ: Environ) -> bytes:
        limit = self._max_body
        stream = environ["wsgi.input"]
        length = environ.get("CONTENT_LENGTH")
        if length:
            try:
                size = int(length)
            except ValueError:
                raise ProtocolError(f"Content-Length {length[:20]!r} is not a number") from None
            if size > limit:
                raise _too_large(limit)
            # Exactly the declared length, straight from the server's stream; werkzeug's
            # limited stream would allocate and zero two 64 KiB buffers to do the same.
            body: bytes = stream.read(size)
            return body
        # A chunked body: read one byte past the limit from the server's terminated stream to
        # tell "exactly at" from "over" (werkzeug would hand over a silently truncated body).
        if not environ.get("wsgi.input_terminated"):
            return b""
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

    def _finish(
        self,
        method: str,
        outcome: Outcome,
        status: int,
        started: float,
        *,
        error: ProtocolError | None = None,
    ) -> None:
        """Count the request in the metrics and write its log line: the one place for both."""
        seconds = time.perf_counter() - started
        self._meter.request(
            method,
            outcome,
            seconds,
            error=error,
            late=status == 200 and seconds > self._reply_budget,
        )
        _log(self.name, method, outcome, status, seconds)


def _too_large(limit: int) -> BodyTooLargeError:
    return BodyTooLargeError(f"the body is larger than {limit} bytes (WX_MAX_BODY_SIZE)")


# The fields of the request log line, in order; the sentence of a refusal goes last, quoted, as the
# one field with spaces in it.
_FIELDS = (
    "account",
    "method",
    "mode",
    "type",
    "event",
    "event_key",
    "msg_id",
    "handler",
    "outcome",
    "status",
    "duration_ms",
)
_LINE = " ".join(f"{name}=%s" for name in _FIELDS)
_LINE_WITH_REASON = _LINE + " reason=%r"


def _log(account: str, method: str, outcome: Outcome, status: int, seconds: float) -> None:
    level = logging.WARNING if status >= 400 else logging.INFO
    if not log.isEnabledFor(level):
        return
    values: tuple[object, ...] = (
        account,
        method,
        outcome.mode,
        outcome.msg_type,
        outcome.event,
        outcome.event_key,
        outcome.msg_id,
        outcome.handler,
        outcome.outcome,
        status,
        round(seconds * 1000, 2),
    )
    fields: dict[str, object] = dict(zip(_FIELDS, values, strict=True))
    line = _LINE
    if outcome.reason:
        fields["reason"] = outcome.reason
        values += (outcome.reason,)
        line = _LINE_WITH_REASON
    log.handle(_record(level, line, values, fields))


class _Template(threading.local):
    """Per thread, the attributes of a request's log record that do not change from one request
    to the next (names, process, thread, source), as logging itself computed them. Thread-local,
    so it goes with its thread (a server may start one per request)."""

    attributes: dict[str, Any] | None = None


_template = _Template()


def _forget_template() -> None:
    # The thread that forks lives on in the child, with the parent's process in its template.
    global _template  # noqa: PLW0603 - replaced whole at fork
    _template = _Template()


os.register_at_fork(after_in_child=_forget_template)


def _record(level: int, line: str, values: tuple[object, ...], fields: dict[str, object]) -> Any:
    """A standard LogRecord, as ``log.makeRecord`` makes it, with a third of the work.

    Making a record computes a dozen attributes (thread and process names, the source file's
    name); here they are copied from the first record this thread made. Only the time, the level
    and the message are new. Made here rather than by ``log.log()``, which would also walk the
    stack to find the caller on every request: this is the caller.
    """
    template = _template.attributes
    if template is None:
        first = log.makeRecord(log.name, level, __file__, 0, "", (), None, "respond")
        template = _template.attributes = dict(first.__dict__)
    record = logging.LogRecord.__new__(logging.LogRecord)
    record.__dict__.update(template)
    now = time.time()
    record.created = now
    record.msecs = int((now - int(now)) * 1000) + 0.0
    record.relativeCreated = template["relativeCreated"] + (now - template["created"]) * 1000
    record.levelno = level
    record.levelname = logging.getLevelName(level)
    record.msg = line
    record.args = values
    record.fields = fields
    return record


__all__ = ["CallbackRoute", "blueprint", "callback"]
