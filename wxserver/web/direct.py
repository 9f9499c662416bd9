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

An Open Platform component's message URL is answered the same way: a path that is its prefix, an
AppID and its suffix goes to the authorizers' route with that AppID, only after the checks above
and only when the AppID could be one (anything else is left to Flask, which answers 404). The
exact-path lookup comes first, so an account's request never pays for it. Measured with ``python
-m bench.component --callgrind``: 1.146 M instructions per authorizer message through Flask,
0.793 M straight (353 k saved, 31%). ``tests/web/test_direct_component.py`` holds both ways to
the same answers.
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

from wxserver.services.config.model import APPID_PLACEHOLDER
from wxserver.web.callback import CallbackRoute
from wxserver.web.component import AuthorizerRoute

_DIRECT_METHODS = frozenset({"GET", "POST"})


class WxFlask(Flask):
    """Flask, with each account's callback URL answered from the WSGI environ (see the module)."""

    def __init__(self, import_name: str, **options: Any) -> None:
        super().__init__(import_name, **options)
        self.direct_routes: dict[str, CallbackRoute] = {}
        # A component's message URL: (the path before the AppID, the path after it, its route).
        self.authorizer_route: tuple[str, str, AuthorizerRoute] | None = None

    def serve_directly(
        self, routes: Iterable[CallbackRoute], authorizers: AuthorizerRoute | None = None
    ) -> None:
        """Answer these routes' paths from the environ whenever nothing would see a difference;
        and ``authorizers``, a component's message route, on every path its URL matches."""
        self.direct_routes = {route.path: route for route in routes}
        if authorizers is not None:
            before, _, after = authorizers.path.partition(APPID_PLACEHOLDER)
            self.authorizer_route = (before, after, authorizers)

    def wsgi_app(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        """Answer one request (see the module docstring)."""
        path = environ.get("PATH_INFO", "")
        route = self.direct_routes.get(path)
        if route is None:
            if self.authorizer_route is not None:
                before, after, authorizers = self.authorizer_route
                if path.startswith(before) and path.endswith(after):
                    app_id = path[len(before) : len(path) - len(after)]
                    if authorizers.takes(app_id) and not self._observed(environ):
                        return authorizers.answer(environ, start_response, app_id)
            return super().wsgi_app(environ, start_response)
        if self._observed(environ):
            return super().wsgi_app(environ, start_response)
        return route(environ, start_response)

    def _observed(self, environ: dict[str, Any]) -> bool:
        """Whether something registered on the app would see a request that skipped Flask.

        Checked on every request: app-wide request hooks and signal receivers, which a Flask
        request would run. The callback blueprints' own hooks need no check: they are
        registered when the app is built, and Flask refuses hooks on them after that.
        """
        return bool(
            environ.get("REQUEST_METHOD") not in _DIRECT_METHODS
            or self.before_request_funcs.get(None)
            or self.after_request_funcs.get(None)
            or self.teardown_request_funcs.get(None)
            or self.url_value_preprocessors.get(None)
            or request_started.receivers
            or request_finished.receivers
            or got_request_exception.receivers
            or request_tearing_down.receivers
        )
