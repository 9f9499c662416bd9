"""``wxserver simulate --web``: serve the simulator's chat page on 127.0.0.1 until stopped."""

from __future__ import annotations

import logging
import signal
import socket
import sys
from pathlib import Path
from types import FrameType

import click
from werkzeug.serving import make_server

from wxserver.services.config import Account, Settings
from wxserver.web.simulator import ProductionSettingsError, create_simulator
from wxserver.web.simulator.actions import ActionError
from wxserver.web.simulator.app import EXTENSION
from wxserver.web.simulator.guard import HOST

DEFAULT_PORT = 8100


def _stop(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # SIGTERM stops as Ctrl-C does: the server closes, the command ends


def _check_free(port: int) -> None:
    # Werkzeug would print its own two lines and exit; a busy port is one line here.
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as werkzeug binds
        try:
            probe.bind((HOST, port))
        except OSError as exc:
            raise click.ClickException(f"cannot listen on {HOST}:{port}: {exc.strerror}") from None


def serve_page(
    settings: Settings,
    account: Account,
    url: str,
    port: int,
    server_log: Path | None,
    *,
    openid: str | None = None,
    mode: str | None = None,
) -> None:
    """Serve the page for ``account`` against ``url`` on 127.0.0.1:``port`` until stopped.

    ``openid`` and ``mode`` are the page's first OpenID and mode.
    """
    try:
        app = create_simulator(
            settings, account, url, port=port, server_log=server_log, openid=openid, mode=mode
        )
    except ProductionSettingsError as exc:
        raise click.ClickException(f"the simulator refuses to start: {exc}") from None
    except ActionError as exc:
        raise click.BadParameter(str(exc), param_hint="--from-user") from None
    _check_free(port)
    server = make_server(HOST, port, app, threaded=True)
    # One line per message of our own instead of one per HTTP request (the page polls).
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    log = logging.getLogger("wxserver.simulator")
    log.setLevel(logging.INFO)
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    log.addHandler(handler)
    click.echo(f"Simulator on http://{HOST}:{port}/ playing WeChat against {url}")
    click.echo(
        f"Late replies: start the server with WX_API_BASE_URL=http://{HOST}:{port} "
        "and any WX_APPSECRET. Ctrl-C stops."
    )
    previous = signal.signal(signal.SIGTERM, _stop)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        server.server_close()
        app.extensions[EXTENSION].player.close()
        log.removeHandler(handler)
        click.echo("Simulator stopped.")
