"""What every command shares: the configuration, the account, the handler sets, quiet logs."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager

import click

from wxserver.protocol.api_errors import ApiError, ApiUnavailableError
from wxserver.protocol.errors import ConfigError, PluginError, WxServerError
from wxserver.protocol.handlers import HandlerSet
from wxserver.services.api.account import api_client, owner_of
from wxserver.services.api.client import WeChatAPI
from wxserver.services.config import Account, Settings, load_settings
from wxserver.services.config.environment import unknown_names
from wxserver.services.doctor import no_api_reason
from wxserver.services.plugins import load_handler_sets
from wxserver.services.startup import debug_requested, failure_report
from wxserver.services.store import open_store
from wxserver.services.tokens import TokenOwner, TokenUnavailableError

env_option = click.option(
    "--env", help="Configuration to use (config/<env>.toml); default: $WX_ENV."
)
account_option = click.option(
    "--account", "account_name", default="default", show_default=True, help="Account to use."
)


def settings_for(env: str | None, *, warn: bool = True) -> Settings:
    """The configuration as the server reads it, with ``--env`` over $WX_ENV; one-line errors.

    An environment named with ``--env`` must have its file. ``warn``: tell the WX_ variables
    that name no setting, on stderr.
    """
    environ = dict(os.environ)
    if env:
        environ["WX_ENV"] = env
    if warn:
        for note in unknown_names(environ):
            click.echo(f"warning: {note}", err=True)
    try:
        return load_settings(environ, require_file=bool(env))
    except WxServerError as exc:
        raise click.ClickException(f"configuration error: {exc}") from None


@contextmanager
def reported_start() -> Iterator[None]:
    """Stop a start-up that fails on a bad setting or plugin with the one-paragraph report.

    The same paragraph gunicorn and ``flask run`` print (:mod:`wxserver.services.startup`), and
    exit status 1; with WX_DEBUG (``wxserver --debug``) the error goes on, traceback and all.
    """
    try:
        yield
    except WxServerError as exc:
        if debug_requested():
            raise
        click.echo(failure_report(exc), err=True)
        raise SystemExit(1) from None


def handler_sets(settings: Settings, account: Account) -> list[HandlerSet]:
    """The account's handler sets; a plugin that fails to load is a one-line CLI error."""
    try:
        return load_handler_sets(
            account.plugins,
            use_entry_points=settings.load_entry_points,
            search_path=settings.plugin_path,
        )
    except PluginError as exc:
        raise click.ClickException(str(exc)) from None


def pick_account(settings: Settings, name: str) -> Account:
    """The account called ``name``, or a one-line error naming the accounts there are."""
    try:
        return settings.account(name)
    except KeyError:
        names = ", ".join(account.name for account in settings.accounts)
        raise click.ClickException(f"no account named {name!r} (accounts: {names})") from None


def quiet_logs() -> None:
    """Keep the client's log lines off the terminal: the commands report failures themselves.

    Without a handler, Python prints warnings to stderr, which would repeat every error above
    the command's own explanation of it.
    """
    logger = logging.getLogger("wxserver")
    if not logger.handlers:
        logger.addHandler(logging.NullHandler())


@contextmanager
def account_api(settings: Settings, account: Account) -> Iterator[WeChatAPI]:
    """The account's API client on the configured store; API failures become one-line errors."""
    quiet_logs()
    try:
        store = open_store(settings.store_url.reveal())
    except ConfigError as exc:
        raise click.ClickException(f"configuration error: {exc}") from None
    api = api_client(settings, account, store)
    if api is None:
        raise click.ClickException(no_api_reason(account))
    try:
        yield api
    except (ApiError, ApiUnavailableError, TokenUnavailableError) as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        api.close()


def token_owner(api: WeChatAPI) -> TokenOwner:
    """The TokenOwner behind ``api``; a one-line error if it has none."""
    try:
        return owner_of(api)
    except TypeError as exc:
        raise click.ClickException(str(exc)) from None
