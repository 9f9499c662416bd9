"""``wxserver menu push`` and ``wxserver menu pull``: the custom menu kept as a TOML file.

The file is the account's ``menu_file`` (``config/menu.toml`` for the default account,
``config/menu.<name>.toml`` for the others, or ``WX_MENU_FILE``). ``push`` checks it against
WeChat's rules and against the account's handler sets before sending anything: a click key no
handler takes is refused, all such keys named in one error. A catch-all event handler, like the
echo set's, takes every key.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from wxserver.cli.common import account_api, pick_account, settings_for
from wxserver.protocol.api_errors import ApiError
from wxserver.protocol.errors import PluginError
from wxserver.protocol.routing import Router
from wxserver.services.menu import MenuError, check_handlers, load_menu, menu_from_api, menu_to_toml
from wxserver.services.plugins import load_handler_sets

MENU_NOT_SET = 46003


@click.group()
def menu() -> None:
    """The custom menu (自定义菜单) as config: push it to WeChat, pull it back."""


@menu.command("push")
@click.option("--env", help="Configuration to use (config/<env>.toml); default: $WX_ENV.")
@click.option("--account", "account_name", default="default", show_default=True)
@click.option("--file", "file_name", type=click.Path(dir_okay=False), help="Menu file to push.")
@click.option("--dry-run", is_flag=True, help="Check and print the JSON; send nothing.")
def push(env: str | None, account_name: str, file_name: str | None, dry_run: bool) -> None:
    """Check the menu file and publish it with /cgi-bin/menu/create.

    Refused when it breaks WeChat's rules or when a click (or scan-code, photo, location) key has
    no handler in the account's handler sets; a catch-all event handler takes every key.
    """
    settings = settings_for(env)
    account = pick_account(settings, account_name)
    path = file_name or account.menu_file
    try:
        sets = load_handler_sets(account.plugins, use_entry_points=settings.load_entry_points)
        checked = load_menu(path)
        check_handlers(checked, Router(sets), path, [s.name for s in sets])
    except MenuError as exc:
        raise click.ClickException(exc.report()) from None
    except PluginError as exc:
        raise click.ClickException(str(exc)) from None
    body = checked.to_api()
    buttons, subs = checked.counts()
    if dry_run:
        click.echo(json.dumps(body, ensure_ascii=False, indent=2))
        click.echo(f"dry run: {path} is valid ({buttons} buttons, {subs} sub-buttons); not sent")
        return
    with account_api(settings, account) as api:
        api.create_menu(body)
    click.echo(f"pushed {path} to account {account.name}: {buttons} buttons, {subs} sub-buttons")
    click.echo("WeChat clients show the new menu within about 5 minutes (re-follow to see it now).")


@menu.command("pull")
@click.option("--env", help="Configuration to use (config/<env>.toml); default: $WX_ENV.")
@click.option("--account", "account_name", default="default", show_default=True)
@click.option("--file", "file_name", type=click.Path(dir_okay=False), help="Where to write it.")
@click.option("--force", is_flag=True, help="Overwrite the file if it exists.")
def pull(env: str | None, account_name: str, file_name: str | None, force: bool) -> None:
    """Fetch the menu set through the API (/cgi-bin/menu/get) and write it as TOML."""
    settings = settings_for(env)
    account = pick_account(settings, account_name)
    path = Path(file_name or account.menu_file)
    if path.exists() and not force:
        raise click.ClickException(f"{path} exists; pass --force to overwrite it")
    with account_api(settings, account) as api:
        try:
            answer = api.get_menu()
        except ApiError as exc:
            if exc.errcode != MENU_NOT_SET:
                raise
            raise click.ClickException(
                f"account {account.name} has no menu set through the API (errcode {exc.errcode}); "
                "a menu edited in the MP console cannot be read this way"
            ) from None
    try:
        pulled = menu_from_api(answer)
    except MenuError as exc:
        raise click.ClickException(exc.report()) from None
    conditional = answer.get("conditionalmenu")
    comment = (
        f"The custom menu of account {account.name}, pulled with `wxserver menu pull`.\n"
        "Publish changes with `wxserver menu push`."
    )
    _write_atomically(path, menu_to_toml(pulled, comment))
    buttons, subs = pulled.counts()
    click.echo(f"wrote {path}: {buttons} buttons, {subs} sub-buttons")
    if isinstance(conditional, list) and conditional:
        click.echo(f"note: {len(conditional)} conditional (personalised) menu(s) were not pulled")


def _write_atomically(path: Path, text: str) -> None:
    # Written beside it, then renamed over it: a crash half-way leaves no truncated menu file.
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary.write_text(text, encoding="utf-8")
        temporary.replace(path)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise click.ClickException(f"cannot write {path}: {exc.strerror or exc}") from None
