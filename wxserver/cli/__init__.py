"""The ``wxserver`` command: one click group, and every command registered on it here."""

from __future__ import annotations

import os
from pathlib import Path

import click

from wxserver.cli.config import check_config, new_keys
from wxserver.cli.diagnostics import api_ip, callback_ip, doctor, net_check, token
from wxserver.cli.menu import menu
from wxserver.cli.pay import pay
from wxserver.cli.serve import run, worker
from wxserver.cli.simulate import simulate
from wxserver.services.startup import DEBUG_ENV


@click.group()
@click.version_option(package_name="wxserver")
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    help="The TOML settings file ($WX_CONFIG); default: config/<env>.toml.",
)
@click.option("--debug", is_flag=True, help="Show the traceback of a failure ($WX_DEBUG=1).")
def main(config_file: str | None, debug: bool) -> None:
    """wxserver: a webhook server for WeChat Official Accounts."""
    # Through the environment, so that gunicorn, which `run` becomes, reads them too.
    if config_file:
        os.environ["WX_CONFIG"] = str(Path(config_file).absolute())
    if debug:
        os.environ[DEBUG_ENV] = "1"


for _command in (
    run,
    worker,
    check_config,
    new_keys,
    simulate,
    doctor,
    token,
    callback_ip,
    api_ip,
    net_check,
    menu,
    pay,
):
    main.add_command(_command)

__all__ = ["main"]
