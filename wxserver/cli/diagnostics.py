"""Diagnostics on the command line: token, callback-ip, api-ip, net-check and doctor.

Each command reads the configuration like the server does, talks to WeChat through the account's
``WeChatAPI`` and its ``TokenOwner`` on the shared store (so it reuses the server's token rather
than fetching its own), and turns every failure into one line, exit code 1, no traceback. Secrets
are never printed: the token value only with ``token --show``. The checks ``doctor`` runs are in
``wxserver.services.doctor``.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from urllib.parse import urlsplit

import click

from wxserver.cli.common import (
    account_api,
    account_option,
    env_option,
    pick_account,
    quiet_logs,
    settings_for,
    token_owner,
)
from wxserver.protocol.api_errors import ApiError
from wxserver.protocol.errors import WxServerError
from wxserver.protocol.routing import Router
from wxserver.services.component.checks import check_component
from wxserver.services.config import load_settings
from wxserver.services.doctor import (
    TIMEOUT,
    Checklist,
    check_menu,
    check_plugins,
    check_store,
    check_token,
    check_url,
    check_worker,
    masked_url,
    when,
)
from wxserver.services.pay.checks import check_pay

OPERATORS = ("DEFAULT", "CHINANET", "UNICOM", "CAP")
NO_CALLBACK_URL = 40201


@click.command()
@env_option
@account_option
@click.option("--show", is_flag=True, help="Also print the token itself (a secret).")
@click.option("--retry", is_flag=True, help="Forget a recorded failure first (after fixing it).")
def token(env: str | None, account_name: str, show: bool, retry: bool) -> None:
    """Where the access_token comes from and when it expires; the value only with --show.

    Reads the token the server shares through the store, fetching one only when none is valid.
    """
    settings = settings_for(env)
    account = pick_account(settings, account_name)
    with account_api(settings, account) as api:
        owner = token_owner(api)
        source = (
            "stable_token (POST /cgi-bin/stable_token)"
            if owner.stable
            else "classic (GET /cgi-bin/token)"
        )
        click.echo(f"account: {account.name} (AppID {account.app_id})")
        click.echo(f"source: {source}, shared through {masked_url(settings.store_url.reveal())}")
        if retry:
            owner.clear_failure()
        failure = owner.last_failure()
        if failure is not None:
            click.echo(f"last failure: {when(failure.at)}: {failure.message}")
        value = owner.current()
        record = owner.record()
        if record is not None:
            minutes = (record.expires_at - datetime.now().timestamp()) / 60
            click.echo(f"fetched: {when(record.fetched_at)}")
            click.echo(f"expires: {when(record.expires_at)} (in {minutes:.0f} min)")
            click.echo(f"next refresh: {when(record.refresh_at)}")
        click.echo(
            f"value: {value}"
            if show
            else f"value: hidden ({len(value)} characters; --show prints it)"
        )


def _print_ips(ips: list[str], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(ips))
    else:
        for ip in ips:
            click.echo(ip)


@click.command("callback-ip")
@env_option
@account_option
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
def callback_ip(env: str | None, account_name: str, as_json: bool) -> None:
    """The IPs WeChat calls this server from: allow them in the firewall (refresh daily)."""
    settings = settings_for(env)
    with account_api(settings, pick_account(settings, account_name)) as api:
        _print_ips(api.callback_ips(), as_json)


@click.command("api-ip")
@env_option
@account_option
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
def api_ip(env: str | None, account_name: str, as_json: bool) -> None:
    """The IPs behind api.weixin.qq.com, for an outbound firewall (refresh daily)."""
    settings = settings_for(env)
    with account_api(settings, pick_account(settings, account_name)) as api:
        _print_ips(api.api_domain_ips(), as_json)


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


@click.command("net-check")
@env_option
@account_option
@click.option(
    "--action", type=click.Choice(["all", "dns", "ping"]), default="all", show_default=True
)
@click.option(
    "--operator",
    type=click.Choice(OPERATORS),
    default="DEFAULT",
    show_default=True,
    help="Check from this carrier's network: CHINANET (电信), UNICOM (联通), CAP (腾讯自建).",
)
def net_check(env: str | None, account_name: str, action: str, operator: str) -> None:
    """Ask WeChat to resolve and ping the callback URL of the MP console (callback/check)."""
    settings = settings_for(env)
    with account_api(settings, pick_account(settings, account_name)) as api:
        try:
            result = api.check_callback(action, operator)
        except ApiError as exc:
            if exc.errcode != NO_CALLBACK_URL:
                raise
            raise click.ClickException(
                "no callback URL is configured in the MP console: fill in 设置与开发 > 基本配置 > "
                f"服务器配置 first (errcode {exc.errcode}: {exc.errmsg})"
            ) from None
    dns = [r for r in result.get("dns", []) if isinstance(r, dict)]
    ping = [r for r in result.get("ping", []) if isinstance(r, dict)]
    if action in ("all", "dns"):
        click.echo(f"DNS, as resolved by WeChat ({operator}):")
        rows = [[str(r.get("ip", "")), str(r.get("real_operator", ""))] for r in dns]
        click.echo(
            "\n".join(_table([["IP", "OPERATOR"], *rows]))
            if rows
            else "  no address: check the domain of the URL and its DNS records"
        )
    if action in ("all", "ping"):
        click.echo(f"ping, from WeChat ({operator}):")
        rows = [
            [str(r.get(k, "")) for k in ("ip", "from_operator", "package_loss", "time")]
            for r in ping
        ]
        click.echo(
            "\n".join(_table([["IP", "FROM", "LOSS", "TIME"], *rows]))
            if rows
            else "  no result: WeChat could not ping the URL's addresses"
        )


# --- doctor --------------------------------------------------------------------------------------


@click.command()
@env_option
@click.option("--account", "account_name", default=None, help="Check this account only.")
@click.option("--url", help="Also check this public callback URL: DNS, TCP, signed handshake.")
@click.option("--retry", is_flag=True, help="Forget a recorded token failure first.")
def doctor(env: str | None, account_name: str | None, url: str | None, retry: bool) -> None:
    """Check the configuration, the store, each account's token and menu, and the URL.

    One ✓ or ✗ line per check; a failure says what it means and how to fix it. Exit code 1 when
    anything failed.
    """
    quiet_logs()
    checks = Checklist(click.echo)
    environ = dict(os.environ) | ({"WX_ENV": env} if env else {})
    try:
        settings = load_settings(environ)
    except WxServerError as exc:
        checks.fail(f"configuration: {exc}")
        raise SystemExit(1) from None
    names = ", ".join(a.name for a in settings.accounts)
    checks.ok(f"configuration valid (env {settings.env}; accounts: {names})")
    store = check_store(settings, checks)
    accounts = [pick_account(settings, account_name)] if account_name else list(settings.accounts)
    routers: dict[str, Router] = {}
    for account in accounts:
        checks.section(
            f"account {account.name} (path {account.path}, AppID {account.app_id or '-'})"
        )
        router = check_plugins(settings, account, checks)
        if router is not None:
            routers[account.name] = router
        check_token(settings, account, store, retry, checks)
        check_menu(account, router, checks)
    checks.section("job worker")
    check_worker(settings, store, routers, checks)
    if settings.pay is not None and not account_name:
        sets = [hs for router in routers.values() for hs in router.handler_sets]
        check_pay(settings.pay, sets, checks)
    if store is not None and not account_name:
        check_component(settings, store, checks, retry=retry)
    if url and accounts:
        target = next((a for a in accounts if a.path == urlsplit(url).path), accounts[0])
        checks.section(f"callback URL {url}")
        check_url(url, target, checks, timeout=TIMEOUT)
    if checks.failed:
        click.echo(f"{checks.failed} problem(s) found, {checks.passed} check(s) passed.")
        raise SystemExit(1)
    click.echo(f"all {checks.passed} checks passed.")
