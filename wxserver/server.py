"""Run the app under gunicorn from Python, for ``wxserver run``."""

from __future__ import annotations

from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

from wxserver.app import create_app


class _Gunicorn(BaseApplication):  # type: ignore[misc]  # gunicorn ships no type hints
    def __init__(self, app: Flask, options: dict[str, Any]) -> None:
        self._app = app
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return self._app


def serve(bind: str, *, workers: int = 2) -> None:
    """Build the app once (so a bad plugin or setting stops here, clearly) and serve it."""
    app = create_app()
    _Gunicorn(
        app,
        {
            "bind": bind,
            "workers": workers,
            "accesslog": "-",
            "access_log_format": '%(h)s "%(r)s" %(s)s %(B)s %(M)sms',
            "timeout": 30,
            "graceful_timeout": 10,
        },
    ).run()
