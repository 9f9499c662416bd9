"""Diagnostics on the command line: token, callback-ip, api-ip, net-check and doctor.

Each command reads the configuration like the server does, talks to WeChat through the account's
``WeChatAPI`` and its ``TokenOwner`` on the shared store (so it reuses the server's token rather
than fetching its own), and turns every failure into one line, exit code 1, no traceback. Secrets
are never printed: the token value only with ``token --show``.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

import click
import httpx

from wxserver.api import WeChatAPI
from wxserver.api_errors import ApiError, ApiUnavailableError
from wxserver.app import api_client
from wxserver.cli import _settings, main
from wxserver.errors import ConfigError, PluginError, WxServerError
from wxserver.menu import MenuError, check_handlers, load_menu
from wxserver.plugins import load_handler_sets
from wxserver.routing import Router
from wxserver.settings import Account, Kind, Settings, load_settings
from wxserver.store import Store, open_store
from wxserver.testing import sign_handshake
from wxserver.tokens import TokenOwner, TokenUnavailableError

OPERATORS = ("DEFAULT", "CHINANET", "UNICOM", "CAP")
NO_CALLBACK_URL = 40201


def masked_url(url: str) -> str:
    """``url`` with the password (of a redis:// store, say) replaced by ***."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return parts._replace(netloc=f"{parts.username or ''}:***@{host}").geturl()


def pick_account(settings: Settings, name: str) -> Account:
    """The account called ``name``, or a one-line error naming the accounts there are."""
    try:
        return settings.account(name)
    except KeyError:
        names = ", ".join(account.name for account in settings.accounts)
        raise click.ClickException(f"no account named {name!r} (accounts: {names})") from None


def no_api_reason(account: Account) -> str:
    """Why ``api_client`` gave no client for ``account``, and the fix."""
    if account.kind is Kind.WECOM:
        return f"account {account.name} is a WeCom app; these commands use the Official Account API"
    variable = (
        "WX_APPSECRET"
        if account.name == "default"
        else f"WX__ACCOUNTS__{account.name.upper()}__APP_SECRET"
    )
    return (
        f"account {account.name} has no AppSecret: copy it from the MP console "
        f"(设置与开发 > 基本配置 > 开发者密码) into {variable}"
    )


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
    """The TokenOwner behind ``api`` (``api_client`` always gives it one)."""
    owner = api.tokens
    if not isinstance(owner, TokenOwner):
        raise click.ClickException("this API client has no TokenOwner")
    return owner


def when(timestamp: float) -> str:
    """A local date and time with its UTC offset, to the second."""
    return datetime.fromtimestamp(timestamp).astimezone().isoformat(sep=" ", timespec="seconds")


_env_option = click.option(
    "--env", help="Configuration to use (config/<env>.toml); default: $WX_ENV."
)
_account_option = click.option(
    "--account", "account_name", default="default", show_default=True, help="Account to use."
)


@main.command()
@_env_option
@_account_option
@click.option("--show", is_flag=True, help="Also print the token itself (a secret).")
@click.option("--retry", is_flag=True, help="Forget a recorded failure first (after fixing it).")
def token(env: str | None, account_name: str, show: bool, retry: bool) -> None:
    """Where the access_token comes from and when it expires; the value only with --show.

    Reads the token the server shares through the store, fetching one only when none is valid.
    """
    settings = _settings(env)
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


@main.command("callback-ip")
@_env_option
@_account_option
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
def callback_ip(env: str | None, account_name: str, as_json: bool) -> None:
    """The IPs WeChat calls this server from: allow them in the firewall (refresh daily)."""
    settings = _settings(env)
    with account_api(settings, pick_account(settings, account_name)) as api:
        _print_ips(api.callback_ips(), as_json)


@main.command("api-ip")
@_env_option
@_account_option
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
def api_ip(env: str | None, account_name: str, as_json: bool) -> None:
    """The IPs behind api.weixin.qq.com, for an outbound firewall (refresh daily)."""
    settings = _settings(env)
    with account_api(settings, pick_account(settings, account_name)) as api:
        _print_ips(api.api_domain_ips(), as_json)


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


@main.command("net-check")
@_env_option
@_account_option
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
    settings = _settings(env)
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

REFUSED_APPSECRET = (
    "WeChat refused the AppSecret: it is mistyped, belongs to another account, or was reset in "
    "the MP console since."
)
# What each errcode of a token fetch means for the person reading the checklist; the fix itself
# is the error's ``action``.
PLAIN_WORDS: dict[int, str] = {
    40164: "WeChat hands tokens only to the IPs listed in the account's IP whitelist, and this "
    "server's outgoing IP is not one of them.",
    89503: "WeChat found this IP risky and sent the account's administrator a message asking "
    "them to confirm it; until they do, no token is issued to it.",
    89501: "The administrator has not yet answered WeChat's request to confirm this IP.",
    89506: "The administrator refused this IP twice in 24 hours; WeChat blocks it for a day.",
    89507: "The administrator refused this IP; WeChat blocks it for an hour.",
    40125: REFUSED_APPSECRET,
    40001: REFUSED_APPSECRET,
    40013: "WeChat does not know this AppID.",
    45009: "Today's quota of token fetches (2000 a day) is used up, usually by something "
    "fetching a token per request instead of sharing one.",
    48001: "This account may not call this API.",
    -1: "WeChat was busy and stayed busy through the retries.",
}
GENERIC_FIX = "look the errcode up in WeChat's global return codes (全局返回码说明)."
TIMEOUT = 5.0  # seconds: WeChat itself gives up on a callback after 5


class _Checklist:
    """Prints ✓/✗ lines and counts the failures."""

    def __init__(self) -> None:
        self.passed = 0
        self.failed = 0
        self.indent = ""  # two spaces inside an account's or the URL's section

    def ok(self, text: str) -> None:
        self.passed += 1
        click.echo(f"{self.indent}✓ {text}")

    def fail(self, text: str, *details: str) -> None:
        self.failed += 1
        click.echo(f"{self.indent}✗ {text}")
        for line in details:
            click.echo(f"{self.indent}    {line}")

    def note(self, text: str) -> None:
        click.echo(f"{self.indent}· {text}")

    def section(self, title: str) -> None:
        click.echo(title)
        self.indent = "  "


def _check_store(settings: Settings, checks: _Checklist) -> Store | None:
    shown = masked_url(settings.store_url.reveal())
    key = f"doctor:probe:{os.getpid()}"
    value = secrets.token_hex(8).encode()
    try:
        store = open_store(settings.store_url.reveal())
        store.set(key, value, ttl=30)
        read = store.get(key)
        store.delete(key)
    except Exception as exc:  # any backend failure (sqlite3, redis, OS) is the finding itself
        checks.fail(
            f"store {shown}: {type(exc).__name__}: {exc}",
            "fix: check WX_STORE_URL: SQLite needs a writable folder, Redis a running server.",
        )
        return None
    if read != value:
        checks.fail(f"store {shown}: a value written was not read back")
        return None
    checks.ok(f"store reachable: {shown} (write and read back)")
    return store


def _check_plugins(settings: Settings, account: Account, checks: _Checklist) -> Router | None:
    try:
        sets = load_handler_sets(account.plugins, use_entry_points=settings.load_entry_points)
    except PluginError as exc:
        checks.fail(f"handler sets: {exc}")
        return None
    checks.ok(f"handler sets load: {', '.join(s.name for s in sets) or '(none)'}")
    return Router(sets)


def _check_token(
    settings: Settings, account: Account, store: Store | None, retry: bool, checks: _Checklist
) -> None:
    if account.kind is Kind.WECOM:
        checks.note("access_token: not checked for a WeCom app")
        return
    if not account.app_secret:
        checks.fail("AppSecret not set", f"fix: {no_api_reason(account).split(': ', 1)[1]}")
        return
    checks.ok("AppSecret set")
    api = api_client(settings, account, store) if store is not None else None
    if api is None:
        checks.note("access_token: not checked without a store")
        return
    owner = token_owner(api)
    if retry:
        owner.clear_failure()
    recorded = owner.last_failure()
    try:
        owner.current()
    except ApiError as exc:
        lines = [f"{PLAIN_WORDS.get(exc.errcode, exc.meaning)} (WeChat said: {exc.errmsg})"]
        lines.append(f"fix: {exc.action or GENERIC_FIX}")
        if recorded is not None and time.time() < recorded.until:
            lines.append(
                f"(the failure recorded at {when(recorded.at)}: WeChat is not asked again until "
                f"{when(recorded.until)}; after fixing it, run doctor --retry)"
            )
        checks.fail(f"access_token: WeChat answered errcode {exc.errcode}", *lines)
    except (ApiUnavailableError, TokenUnavailableError) as exc:
        checks.fail(
            "access_token: no answer from the WeChat API",
            str(exc),
            "fix: allow outbound HTTPS to api.weixin.qq.com (firewall, proxy, DNS here).",
        )
    else:
        record = owner.record()
        left = (record.expires_at - time.time()) / 60 if record else 0.0
        kind = "stable_token" if owner.stable else "classic token"
        checks.ok(f"access_token available ({kind}; expires in {left:.0f} min)")
    finally:
        api.close()


def _check_menu(account: Account, router: Router | None, checks: _Checklist) -> None:
    path = Path(account.menu_file)
    if not path.is_file():
        checks.note(f"menu: no {path}, nothing to check")
        return
    try:
        menu = load_menu(path)
        if router is not None:
            check_handlers(menu, router, str(path), [s.name for s in router.handler_sets])
    except MenuError as exc:
        checks.fail(f"menu {path} cannot be pushed", *exc.problems)
        return
    buttons, subs = menu.counts()
    checks.ok(f"menu {path}: {buttons} buttons, {subs} sub-buttons, every key has a handler")


def _resolve(host: str, port: int) -> list[str]:
    # getaddrinfo has no timeout of its own: run it in a daemon thread and stop waiting after
    # TIMEOUT, so a dead resolver can neither hang doctor nor keep the process alive.
    found: list[str] = []
    errors: list[BaseException] = []

    def lookup() -> None:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            found.extend(dict.fromkeys(str(info[4][0]) for info in infos))
        except OSError as exc:
            errors.append(exc)

    worker = threading.Thread(target=lookup, daemon=True)
    worker.start()
    worker.join(TIMEOUT)
    if worker.is_alive():
        raise TimeoutError(f"no answer from the resolver within {TIMEOUT:.0f} s")
    if errors:
        raise errors[0]
    if not found:
        raise OSError(f"{host} has no address")
    return found


def _check_url(url: str, account: Account, checks: _Checklist) -> None:
    parts = urlsplit(url)
    host = parts.hostname
    if parts.scheme not in ("http", "https") or not host:
        checks.fail(
            f"URL {url!r}: use http:// or https://, a host and the path, e.g. https://your.domain/wechat"
        )
        return
    port = parts.port or (443 if parts.scheme == "https" else 80)
    if port not in (80, 443):
        checks.note(f"port {port}: WeChat calls only ports 80 and 443; put nginx in front of it")
    try:
        addresses = _resolve(host, port)
    except OSError as exc:
        checks.fail(
            f"DNS: {host} does not resolve ({exc})",
            "WeChat reports this as the alarm 'DNS失败'.",
            "fix: check the domain in the URL, its DNS records, and that it has not expired.",
        )
        return
    checks.ok(f"DNS: {host} resolves to {', '.join(addresses)}")
    started = time.monotonic()
    try:
        # The address just resolved: connecting by name would resolve again, unbounded.
        socket.create_connection((addresses[0], port), timeout=TIMEOUT).close()
    except OSError as exc:
        checks.fail(
            f"TCP: cannot connect to {host}:{port} ({exc})",
            "WeChat reports this as the alarm '连接超时'.",
            "fix: open the port to WeChat's callback IPs (wxserver callback-ip) in the firewall "
            "and the cloud security group, and check that nginx listens on it.",
        )
        return
    checks.ok(f"TCP: connected to {host}:{port} in {(time.monotonic() - started) * 1000:.0f} ms")
    _check_handshake(url, account, checks)


def _check_handshake(url: str, account: Account, checks: _Checklist) -> None:
    echostr = str(secrets.randbelow(10**18))
    started = time.monotonic()
    try:
        with httpx.Client(timeout=TIMEOUT, trust_env=False) as client:
            response = client.get(url, params=sign_handshake(account, echostr))
    except httpx.TimeoutException:
        checks.fail(
            f"handshake: no answer within {TIMEOUT:.0f} s",
            "WeChat reports this as the alarm '请求超时'.",
            "fix: check that gunicorn runs and that nginx proxies this path to it.",
        )
        return
    except httpx.HTTPError as exc:
        checks.fail(
            f"handshake: {type(exc).__name__}: {exc}",
            "fix: for https, the certificate must match the domain and include its full chain.",
        )
        return
    took = (time.monotonic() - started) * 1000
    if response.status_code == 200 and response.text == echostr:
        checks.ok(
            f"handshake: signed GET answered the echostr in {took:.0f} ms (account {account.name})"
        )
        return
    answer = response.text.strip()[:120]
    fixes = {
        403: "the signature was refused: the Token differs between this machine's account "
        f"{account.name} and the server (or the MP console's 服务器配置).",
        404: f"nothing answers at {urlsplit(url).path or '/'}: the path must be the account's "
        f"path ({account.path}).",
    }
    checks.fail(
        f"handshake: HTTP {response.status_code} {answer!r} instead of the echostr",
        "WeChat reports this as the alarm '回应不合法'.",
        f"fix: {fixes.get(response.status_code, 'check the server log for this request.')}",
    )


@main.command()
@_env_option
@click.option("--account", "account_name", default=None, help="Check this account only.")
@click.option("--url", help="Also check this public callback URL: DNS, TCP, signed handshake.")
@click.option("--retry", is_flag=True, help="Forget a recorded token failure first.")
def doctor(env: str | None, account_name: str | None, url: str | None, retry: bool) -> None:
    """Check the configuration, the store, each account's token and menu, and the URL.

    One ✓ or ✗ line per check; a failure says what it means and how to fix it. Exit code 1 when
    anything failed.
    """
    quiet_logs()
    checks = _Checklist()
    environ = dict(os.environ) | ({"WX_ENV": env} if env else {})
    try:
        settings = load_settings(environ)
    except WxServerError as exc:
        checks.fail(f"configuration: {exc}")
        raise SystemExit(1) from None
    names = ", ".join(a.name for a in settings.accounts)
    checks.ok(f"configuration valid (env {settings.env}; accounts: {names})")
    store = _check_store(settings, checks)
    accounts = [pick_account(settings, account_name)] if account_name else list(settings.accounts)
    for account in accounts:
        checks.section(
            f"account {account.name} (path {account.path}, AppID {account.app_id or '-'})"
        )
        router = _check_plugins(settings, account, checks)
        _check_token(settings, account, store, retry, checks)
        _check_menu(account, router, checks)
    if url:
        target = next((a for a in accounts if a.path == urlsplit(url).path), accounts[0])
        checks.section(f"callback URL {url}")
        _check_url(url, target, checks)
    if checks.failed:
        click.echo(f"{checks.failed} problem(s) found, {checks.passed} check(s) passed.")
        raise SystemExit(1)
    click.echo(f"all {checks.passed} checks passed.")
