"""Fast path: each account's callback URL answered straight from the WSGI environ.

Standard path: Flask routes the request to the callback blueprint's view, which calls the same
:class:`~wxserver.web.callback.CallbackRoute`. The route needs none of Flask's per-request
machinery (request and app contexts, the URL adapter, the session, the response object), which
costs more than the whole protocol pipeline: measured with ``python -m bench.callgrind`` when it
came in, 1.558 M -> 1.042 M instructions per secure request, a third of it.

So :class:`WxFlask` hands a GET or POST to an account's exact path straight to its route, unless
something registered on the app would see the difference: app-wide or callback-blueprint request
hooks, or receivers of the request signals (an error tracker, a tracer). That is checked on every
request, so a hook registered at any time takes effect at once. Every other request goes through
Flask. ``tests/web/test_direct.py`` holds both ways to the same status, headers and body.
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
# The blueprint of the callback URLs (wxserver.web.callback.blueprint).
_BLUEPRINT = "callback"


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
            route is not None
            and environ.get("REQUEST_METHOD") in _DIRECT_METHODS
            and not self.request_observed()
        ):
            return route(environ, start_response)
        return super().wsgi_app(environ, start_response)

    def request_observed(self) -> bool:
        """Whether a hook or a signal receiver would see a Flask request the direct way skips."""
        # Unrolled: this runs on every callback request.
        before, after = self.before_request_funcs, self.after_request_funcs
        teardown, preprocessors = self.teardown_request_funcs, self.url_value_preprocessors
        return bool(
            request_started.receivers
            or request_finished.receivers
            or got_request_exception.receivers
            or request_tearing_down.receivers
            or before.get(None)
            or before.get(_BLUEPRINT)
            or after.get(None)
            or after.get(_BLUEPRINT)
            or teardown.get(None)
            or teardown.get(_BLUEPRINT)
            or preprocessors.get(None)
            or preprocessors.get(_BLUEPRINT)
        )
