"""Run gunicorn exactly as the Procfile does, for ``wxserver run``.

The process is replaced by ``gunicorn -c config/gunicorn.conf.py 'wxserver:create_app()'``, so
``wxserver run`` and a production deployment serve alike: same worker settings, same metrics set-up
(which must happen before any metrics code is imported), same graceful shutdown.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

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
