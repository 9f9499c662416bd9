"""``wxserver run`` and ``wxserver worker``: the Procfile's two processes.

``run`` replaces the process with ``gunicorn -c config/gunicorn.conf.py 'wxserver:create_app()'``,
so ``wxserver run`` and a production deployment serve alike: same worker settings, same metrics
set-up (which must happen before any metrics code is imported), same graceful shutdown.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
from pathlib import Path

import click

from wxserver.cli.common import handler_sets, settings_for
from wxserver.protocol.errors import WxServerError
from wxserver.services.jobs import consumer_options
from wxserver.web.app import create_app

CONFIG_FILE = Path("config/gunicorn.conf.py")
APP = "wxserver:create_app()"


def gunicorn_command(config_file: Path = CONFIG_FILE) -> list[str]:
    """The command line that serves the app."""
    found = shutil.which("gunicorn", path=str(Path(sys.executable).parent)) or shutil.which(
        "gunicorn"
    )
    if found is None:
        raise FileNotFoundError("gunicorn is not installed in this environment")
    command = [found]
    if config_file.is_file():
        command += ["-c", str(config_file)]
    return [*command, APP]


def serve(bind: str, *, workers: int | None = None, config_file: Path = CONFIG_FILE) -> None:
    """Replace this process with gunicorn bound to ``bind``."""
    os.environ["WX_BIND"] = bind
    if workers is not None:
        os.environ["WEB_CONCURRENCY"] = str(workers)
    command = gunicorn_command(config_file)
    os.execv(command[0], command)  # noqa: S606 - the command is built above, not from input


@click.command()
@click.option("--env", help="Configuration to use (config/<env>.toml); default: $WX_ENV.")
@click.option("--bind", help="host:port to listen on; default: the 'bind' setting.")
@click.option("--workers", type=int, help="gunicorn worker processes; default: the config file's.")
def run(env: str | None, bind: str | None, workers: int | None) -> None:
    """Serve with gunicorn, as the Procfile does, on the configured address."""
    if env:
        os.environ["WX_ENV"] = env
    settings = settings_for(env)
    # Checked here too, so a bad plugin is one clear line rather than gunicorn's boot traceback.
    for account in settings.accounts:
        handler_sets(settings, account)
    if settings.component is not None:
        handler_sets(settings, settings.component.authorizers_account())
    serve(bind or settings.bind, workers=workers)


@click.command()
@click.option("--env", help="Configuration to use (config/<env>.toml); default: $WX_ENV.")
@click.option("--threads", default=32, show_default=True, help="Jobs run at once.")
def worker(env: str | None, threads: int) -> None:
    """Run deferred handlers (the Procfile's worker): consume the job queue beside the store."""
    if env:
        os.environ["WX_ENV"] = env
    settings_for(env)
    try:
        app = create_app()
    except WxServerError as exc:
        raise click.ClickException(str(exc)) from None
    huey = app.extensions["wxserver"].huey
    if huey is None:
        raise click.ClickException(
            "the memory:// store keeps jobs inside the web process, which runs them itself; "
            "use an lmdb://, sqlite:// or redis:// store (WX_STORE_URL) for a separate worker"
        )
    options = {**consumer_options(), "workers": threads}
    # huey reports start-up, job failures and shutdown on its own loggers.
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    huey.create_consumer(**options).run()
