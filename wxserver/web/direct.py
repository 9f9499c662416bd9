"""Fast path: each account's callback URL answered straight from the WSGI environ.

Standard path: Flask routes the request to the callback blueprint's view, which calls the same
:class:`~wxserver.web.callback.CallbackRoute`. The route needs none of Flask's per-request
machinery (request and app contexts, the URL adapter, the session, the response object), which
costs more than the whole protocol pipeline. Measured with ``python -m bench.callgrind --targets
wxserver`` (in-process, whole app): 1.101 M instructions per secure request through Flask, 0.770 M
straight (331 k saved, 43% of the request); 0.947 M -> 0.619 M per plaintext one (328 k, 53%).

So :class:`WxFlask` hands a GET or POST to an account's exact path straight to its route, unless
something registered on the app would see the difference: app-wide request hooks, or receivers
of the request signals (an error tracker, a tracer). That is checked on every request, so a hook
registered at any time takes effect at once. Every other request goes through
Flask. ``tests/web/test_direct_route.py`` holds both ways to the same status, headers and body.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask
from flask.signals import (
    got_request_exception,
    request_finished,
    request_started,
    request_tearing_down,
)

from wxserver.web.callback import CallbackRoute

_DIRECT_METHODS = frozenset({"GET", "POST"})


class WxFlask(Flask):
    """Flask, with each account's callback URL answered from the WSGI environ (see the module)."""

    def __init__(self, import_name: str, **options: Any) -> None:
        super().__init__(import_name, **options)
        self.direct_routes: dict[str, CallbackRoute] = {}

    def serve_directly(self, routes: Iterable[CallbackRoute]) -> None:
        """Answer these routes' paths from the environ whenever nothing would see a difference."""
        self.direct_routes = {route.path: route for route in routes}

    def wsgi_app(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        """Answer one request (see the module docstring)."""
        route = self.direct_routes.get(environ.get("PATH_INFO", ""))
        if (
            route is None
            or environ.get("REQUEST_METHOD") not in _DIRECT_METHODS
            # Checked on every request, unrolled: app-wide request hooks and signal receivers,
            # which a Flask request would run. The callback blueprint's own hooks need no check:
            # it is registered when the app is built, and Flask refuses hooks on it after that.
            or self.before_request_funcs.get(None)
            or self.after_request_funcs.get(None)
            or self.teardown_request_funcs.get(None)
            or self.url_value_preprocessors.get(None)
            or request_started.receivers
            or request_finished.receivers
            or got_request_exception.receivers
            or request_tearing_down.receivers
        ):
            return super().wsgi_app(environ, start_response)
        return route(environ, start_response)
