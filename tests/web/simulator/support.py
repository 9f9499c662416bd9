"""The simulator's unit tests: development settings, and its app served on a free port."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import Flask
from werkzeug.serving import make_server

from tests.servers import ROOT, free_port
from wxserver.services.config import Settings, load_settings
from wxserver.web.simulator import create_simulator


def development(**environ: str) -> Settings:
    """config/development.toml (and its menu), with ``environ`` on top."""
    return load_settings(
        {"WX_ENV": "development", "WX_MENU_FILE": str(ROOT / "config" / "menu.toml"), **environ},
        config_dir=ROOT / "config",
    )


def simulator_app(port: int = 8100, environ: dict[str, str] | None = None) -> Flask:
    """The simulator's app on development settings (``environ`` on top), on ``port``.

    It plays against port 9 on loopback, where nothing listens.
    """
    settings = development(**(environ or {}))
    url = "http://127.0.0.1:9/wechat"
    return create_simulator(settings, settings.account("default"), url, port=port)


@contextmanager
def served(
    url: str = "http://127.0.0.1:9/wechat", server_log: Path | None = None
) -> Iterator[tuple[Flask, str]]:
    """The simulator's app served on 127.0.0.1 by a thread; its app and base URL."""
    port = free_port()
    settings = development()
    app = create_simulator(
        settings, settings.account("default"), url, port=port, server_log=server_log
    )
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield app, f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
