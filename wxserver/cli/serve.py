"""``wxserver run`` and ``wxserver worker``: the Procfile's two processes.

``run`` replaces the process with gunicorn started as the Procfile starts it, with the settings
shipped in the package (``-c python:wxserver.web.gunicorn_conf``), so ``wxserver run`` from any
directory and a production deployment serve alike: same worker settings, same metrics set-up
(which must happen before any metrics code is imported), same graceful shutdown.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import click

from wxserver.cli.common import reported_start
from wxserver.services import heartbeat
from wxserver.services.account import handler_set_names
from wxserver.services.config import load_settings
from wxserver.services.logs import configure_logging
from wxserver.services.plugins import load_handler_sets
from wxserver.services.queue import consumer_options
from wxserver.web.app import create_app
from wxserver.web.gunicorn_conf import listen_address

# gunicorn's settings, found wherever the package is installed.
GUNICORN_SETTINGS = "python:wxserver.web.gunicorn_conf"
APP = "wxserver:create_app()"


def gunicorn_command(settings: str = GUNICORN_SETTINGS) -> list[str]:
    """The command line that serves the app."""
    found = shutil.which("gunicorn", path=str(Path(sys.executable).parent)) or shutil.which(
        "gunicorn"
    )
    if found is None:
        raise click.ClickException("gunicorn is not installed in this environment")
    return [found, "-c", settings, APP]


def serve(bind: str, *, workers: int | None = None) -> None:
    """Replace this process with gunicorn bound to ``bind``."""
    os.environ["WX_BIND"] = bind
    if workers is not None:
        os.environ["WEB_CONCURRENCY"] = str(workers)
    command = gunicorn_command()
    os.execv(command[0], command)  # noqa: S606 - the command is built above, not from input


@click.command()
@click.option("--env", help="Configuration to use (config/<env>.toml); default: $WX_ENV.")
@click.option("--bind", help="host:port to listen on; default: WX_BIND, $PORT, the setting.")
@click.option("--workers", type=int, help="gunicorn worker processes; default: WEB_CONCURRENCY.")
def run(env: str | None, bind: str | None, workers: int | None) -> None:
    """Serve with gunicorn, as the Procfile does, on the configured address."""
    if env:
        os.environ["WX_ENV"] = env
    # Checked here too, so that a bad setting or plugin stops before gunicorn starts.
    with reported_start():
        settings = load_settings(require_file=bool(env))
        for account in settings.accounts:
            load_handler_sets(
                account.plugins,
                use_entry_points=settings.load_entry_points,
                search_path=settings.plugin_path,
            )
        if settings.component is not None:
            load_handler_sets(
                settings.component.authorizers_account().plugins,
                use_entry_points=settings.load_entry_points,
                search_path=settings.plugin_path,
            )
    try:
        address = bind or listen_address(os.environ, settings.bind)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    serve(address, workers=workers)


@click.command()
@click.option("--env", help="Configuration to use (config/<env>.toml); default: $WX_ENV.")
@click.option("--threads", default=32, show_default=True, help="Jobs run at once.")
def worker(env: str | None, threads: int) -> None:
    """Run deferred handlers (the Procfile's worker): consume the job queue beside the store."""
    if env:
        os.environ["WX_ENV"] = env
    with reported_start():
        load_settings(require_file=bool(env))
        app = create_app()
    huey = app.extensions["wxserver"].huey
    if huey is None:
        raise click.ClickException(
            "the memory:// store keeps jobs inside the web process, which runs them itself; "
            "use an lmdb://, sqlite:// or redis:// store (WX_STORE_URL) for a separate worker"
        )
    options = {**consumer_options(), "workers": threads}
    state = app.extensions["wxserver"]
    # huey reports start-up, job failures and shutdown on its own loggers, written like ours.
    configure_logging(state.settings.log_format, ("wxserver", "huey"))
    heartbeat.start(state.store, handler_set_names(state.accounts))
    huey.create_consumer(**options).run()
