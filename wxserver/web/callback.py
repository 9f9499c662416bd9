"""The callback URL of each account: HTTP in, one pipeline call, HTTP out.

:class:`CallbackRoute` answers an account's URL from the WSGI environ alone: the query string,
the body stream, the peer's address. It reads the body (bounded by WX_MAX_BODY_SIZE, chunked or
not) between the pipeline's checks and the rest of its work, and turns the pipeline's
:class:`~wxserver.web.pipeline.Result` into the response, the request's log line and its metric
samples, in one place for both ways a request arrives: straight from the WSGI server
(:mod:`wxserver.web.direct`) or through Flask, whose view (:meth:`CallbackRoute.view`, on the
blueprint :func:`blueprint` makes) calls the same route.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from http import HTTPStatus
from typing import Any

from flask import Blueprint, Response, request

from wxserver.protocol.callback import Kind
from wxserver.protocol.errors import BodyTooLargeError, ForbiddenAddressError, ProtocolError
from wxserver.protocol.querystring import parse_query, raw_value
from wxserver.protocol.replies import SUCCESS
from wxserver.services.addresses import client_address
from wxserver.services.allowlist import CallbackAllowlist
from wxserver.services.config import Settings
from wxserver.services.metrics import Metrics
from wxserver.web import request_log
from wxserver.web.errors import problem
from wxserver.web.pipeline import TEXT, Pipeline, Result

Environ = dict[str, Any]
StartResponse = Callable[..., Any]

STATUS_LINES = {status.value: f"{status.value} {status.phrase}" for status in HTTPStatus}


class CallbackRoute:
    """One account's callback URL, answered from the WSGI environ."""

    def __init__(
        self,
        pipeline: Pipeline,
        settings: Settings,
        metrics: Metrics,
        allowlist: CallbackAllowlist | None,
    ) -> None:
        self.pipeline = pipeline
        account = pipeline.account
        self.name = account.name
        self.path = account.path
        self._max_body = settings.max_body_size
        self._trusted_proxies = settings.trusted_proxies
        # WeCom calls from addresses that getcallbackip does not list.
        self._allowlist = allowlist if account.kind is Kind.MP else None
        self._reply_budget = account.reply_budget
        self._inflight = metrics.inflight
        self._meter = metrics.meter(self.name)

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        """The route as a WSGI app."""
        status, body, content_type = self.respond(environ)
        start_response(
            STATUS_LINES[status],
            [("Content-Type", content_type), ("Content-Length", str(len(body)))],
        )
        return [body]

    def view(self, account: str) -> Response:
        """The Flask view of the URL: the same answer as the direct route."""
        status, body, content_type = self.respond(request.environ)
        return Response(body, status=status, content_type=content_type)

    def respond(self, environ: Environ, authorizer: str | None = None) -> tuple[int, bytes, str]:
        """Status, body and content type of the answer to one request (``authorizer``: the
        account a component's message is for)."""
        started = time.perf_counter()
        method: str = environ.get("REQUEST_METHOD", "GET")
        query_string: str = environ.get("QUERY_STRING", "")
        query = parse_query(query_string)
        pipeline = self.pipeline
        inflight = self._inflight
        inflight.inc()
        try:
            if self._allowlist is not None:
                self._check_address(self._allowlist, environ)
            if method == "GET":
                result = pipeline.handshake(query, raw_value(query_string, "echostr"))
            else:
                arrived = pipeline.admit(query)
                result = pipeline.answer(arrived, query, self._read_body(environ), authorizer)
        except ProtocolError as exc:
            result = pipeline.refused(exc)
        except Exception as exc:  # a fault of ours: logged with its traceback, and still answered
            problem(exc)
            # A 5xx would make WeChat show the user 该公众号暂时无法提供服务: answer `success`,
            # and let the log line, the metrics and the invalid_response alarm tell the operator.
            result = Result(200, SUCCESS, TEXT, "internal-error", reason=type(exc).__name__)
        finally:
            inflight.dec()
        self._finish(method, result, started)
        environ[request_log.LOGGED] = True
        return result.status, result.body, result.content_type

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

    def _finish(self, method: str, result: Result, started: float) -> None:
        """Count the request in the metrics and write its log line: the one place for both."""
        seconds = time.perf_counter() - started
        status = result.status
        self._meter.request(
            method,
            result,
            seconds,
            error=result.error,
            late=status == 200 and seconds > self._reply_budget,
        )
        request_log.write(self.name, method, result, status, seconds)


def _too_large(limit: int) -> BodyTooLargeError:
    return BodyTooLargeError(f"the body is larger than {limit} bytes (WX_MAX_BODY_SIZE)")


def blueprint(routes: Mapping[str, CallbackRoute]) -> Blueprint:
    """The blueprint of the callback URLs: one rule per account, each on its own path."""
    callbacks = Blueprint("callback", __name__)
    for name, route in routes.items():
        callbacks.add_url_rule(
            route.path,
            endpoint=f"account_{name}",
            view_func=route.view,
            methods=["GET", "POST"],
            defaults={"account": name},
        )
    return callbacks


__all__ = ["CallbackRoute", "blueprint"]
