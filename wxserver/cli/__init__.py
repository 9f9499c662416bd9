"""The ``wxserver`` command: one click group, and every command registered on it here."""

from __future__ import annotations

import click

from wxserver.cli.config import check_config, new_keys
from wxserver.cli.diagnostics import api_ip, callback_ip, doctor, net_check, token
from wxserver.cli.menu import menu
from wxserver.cli.pay import pay
from wxserver.cli.serve import run, worker
from wxserver.cli.simulate import simulate


@click.group()
@click.version_option(package_name="wxserver")
def main() -> None:
    """wxserver: a webhook server for WeChat Official Accounts."""


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
