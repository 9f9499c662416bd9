"""Run the app under gunicorn from Python, for ``wxserver run``.

The settings are those of ``config/gunicorn.conf.py`` (the Procfile's), so ``wxserver run`` and
``gunicorn -c config/gunicorn.conf.py wsgi:app`` serve alike; only the address and the number of
workers can be overridden.
"""

from __future__ import annotations

import runpy
from pathlib import Path
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

from wxserver.app import create_app

CONFIG_FILE = Path("config/gunicorn.conf.py")


class _Gunicorn(BaseApplication):  # type: ignore[misc]  # gunicorn ships no type hints
    def __init__(self, app: Flask, options: dict[str, Any], config_file: Path | None) -> None:
        self._app = app
        self._options = options
        self._config_file = config_file
        super().__init__()

    def load_config(self) -> None:
        if self._config_file is not None and self._config_file.is_file():
            for key, value in runpy.run_path(str(self._config_file)).items():
                if key in self.cfg.settings and value is not None:
                    self.cfg.set(key, value)
        for key, value in self._options.items():
            if value is not None:
                self.cfg.set(key, value)

    def load(self) -> Flask:
        return self._app


def serve(bind: str, *, workers: int | None = None, config_file: Path | None = CONFIG_FILE) -> None:
    """Build the app once (so a bad plugin or setting stops here, clearly) and serve it."""
    app = create_app()
    _Gunicorn(app, {"bind": bind, "workers": workers}, config_file).run()
