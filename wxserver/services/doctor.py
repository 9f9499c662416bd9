"""The checks of ``wxserver doctor``: the store, each account's plugins, token and menu, the URL.

Each check reports one ✓ or ✗ line on a ``Checklist``; a failure says what it means and how to fix
it. The checks print through the checklist's ``echo`` and build API clients through the function
they are given, so the command line decides how both are done.
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from wxserver.protocol.api_errors import ApiError, ApiUnavailableError
from wxserver.protocol.errors import PluginError
from wxserver.protocol.routing import Router
from wxserver.protocol.simulate import sign_handshake
from wxserver.services import heartbeat
from wxserver.services.api.account import api_client, owner_of
from wxserver.services.config import Account, Kind, Settings
from wxserver.services.menu import MenuError, check_handlers, load_menu
from wxserver.services.plugins import load_handler_sets
from wxserver.services.queue import make_huey
from wxserver.services.store import Store, open_store
from wxserver.services.tokens import TokenUnavailableError

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


def masked_url(url: str) -> str:
    """``url`` with the password (of a redis:// store, say) replaced by ***."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return parts._replace(netloc=f"{parts.username or ''}:***@{host}").geturl()


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


def when(timestamp: float) -> str:
    """A local date and time with its UTC offset, to the second."""
    return datetime.fromtimestamp(timestamp).astimezone().isoformat(sep=" ", timespec="seconds")


class Checklist:
    """Prints ✓/✗ lines through ``echo`` and counts the failures."""

    def __init__(self, echo: Callable[[str], None]) -> None:
        self.echo = echo
        self.passed = 0
        self.failed = 0
        self.indent = ""  # two spaces inside an account's or the URL's section

    def ok(self, text: str) -> None:
        self.passed += 1
        self.echo(f"{self.indent}✓ {text}")

    def fail(self, text: str, *details: str) -> None:
        self.failed += 1
        self.echo(f"{self.indent}✗ {text}")
        for line in details:
            self.echo(f"{self.indent}    {line}")

    def note(self, text: str) -> None:
        self.echo(f"{self.indent}· {text}")

    def section(self, title: str) -> None:
        self.echo(title)
        self.indent = "  "


def check_store(settings: Settings, checks: Checklist) -> Store | None:
    """Write, read back and delete a value in the configured store; the store, or None."""
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


def check_worker(
    settings: Settings, store: Store | None, routers: Mapping[str, Router], checks: Checklist
) -> None:
    """Whether a job worker runs for the background work, with this server's handler sets."""
    if store is None:
        return
    huey = make_huey(settings.store_url.reveal())
    if huey is None:
        checks.note("job worker: none needed; jobs run in the server's process (memory:// store)")
        return
    needed = any(rule.background for router in routers.values() for rule in router.rules)
    # A WeChat Pay handler with background=True is a job of the worker too.
    needed = needed or any(
        rule.background
        for router in routers.values()
        for handler_set in router.handler_sets
        for rule in handler_set.pay_rules
    )
    try:
        needed = needed or bool(huey.pending_count())
    except Exception as exc:  # the queue is unreachable: the store check says why
        checks.fail(f"job queue: {type(exc).__name__}: {exc}")
        return
    expected = {name: [hs.name for hs in router.handler_sets] for name, router in routers.items()}
    found = heartbeat.problems(store, expected, needed=needed, now=time.time())
    for problem in found:
        sentence, _, fix = problem.rpartition(": ")
        checks.fail(f"job worker: {sentence}", f"fix: {fix}")
    if not found:
        running = heartbeat.read(store)
        checks.ok(
            "job worker running with the same handler sets"
            if running is not None and time.time() - running.at <= heartbeat.STALE_AFTER
            else "job worker: none running, and no background work needs one"
        )


def check_plugins(settings: Settings, account: Account, checks: Checklist) -> Router | None:
    """Load the account's handler sets; their router, or None."""
    try:
        sets = load_handler_sets(account.plugins, use_entry_points=settings.load_entry_points)
    except PluginError as exc:
        checks.fail(f"handler sets: {exc}")
        return None
    checks.ok(f"handler sets load: {', '.join(s.name for s in sets) or '(none)'}")
    return Router(sets)


def check_token(
    settings: Settings,
    account: Account,
    store: Store | None,
    retry: bool,
    checks: Checklist,
) -> None:
    """Get the account's access_token through its token owner (``retry``: forget a failure)."""
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
    owner = owner_of(api)
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


def check_menu(account: Account, router: Router | None, checks: Checklist) -> None:
    """Check the account's menu file, if any, against WeChat's rules and its handler sets."""
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


def _resolve(host: str, port: int, timeout: float) -> list[str]:
    # getaddrinfo has no timeout of its own: run it in a daemon thread and stop waiting after
    # the timeout, so a dead resolver can neither hang doctor nor keep the process alive.
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
    worker.join(timeout)
    if worker.is_alive():
        raise TimeoutError(f"no answer from the resolver within {timeout:.0f} s")
    if errors:
        raise errors[0]
    if not found:
        raise OSError(f"{host} has no address")
    return found


def check_url(url: str, account: Account, checks: Checklist, *, timeout: float = TIMEOUT) -> None:
    """Check the public callback URL as WeChat reaches it: DNS, TCP, then a signed handshake."""
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
        addresses = _resolve(host, port, timeout)
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
        socket.create_connection((addresses[0], port), timeout=timeout).close()
    except OSError as exc:
        checks.fail(
            f"TCP: cannot connect to {host}:{port} ({exc})",
            "WeChat reports this as the alarm '连接超时'.",
            "fix: open the port to WeChat's callback IPs (wxserver callback-ip) in the firewall "
            "and the cloud security group, and check that nginx listens on it.",
        )
        return
    checks.ok(f"TCP: connected to {host}:{port} in {(time.monotonic() - started) * 1000:.0f} ms")
    _check_handshake(url, account, checks, timeout)


def _check_handshake(url: str, account: Account, checks: Checklist, timeout: float) -> None:
    echostr = str(secrets.randbelow(10**18))
    started = time.monotonic()
    try:
        with httpx.Client(timeout=timeout, trust_env=False) as client:
            response = client.get(url, params=sign_handshake(account, echostr))
    except httpx.TimeoutException:
        checks.fail(
            f"handshake: no answer within {timeout:.0f} s",
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
