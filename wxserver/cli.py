"""The ``wxserver`` command: run the server, simulate WeChat, check the configuration."""

from __future__ import annotations

import base64
import logging
import os
import secrets
import string
import sys
from typing import Any

import click
import httpx

from wxserver.app import create_app
from wxserver.errors import PluginError, WxServerError
from wxserver.jobs import consumer_options
from wxserver.plugins import load_handler_sets
from wxserver.routing import HandlerSet
from wxserver.server import serve
from wxserver.settings import Account, Mode, Settings, load_settings
from wxserver.testing import build_event, build_message, open_reply, sign_handshake, sign_request

# Plausible fields for each message type, so `simulate --type image` needs no more options.
SAMPLE_FIELDS: dict[str, dict[str, Any]] = {
    "text": {"Content": "hello"},
    "image": {"PicUrl": "http://mmbiz.qpic.cn/sample.jpg", "MediaId": "sample_media_id"},
    "voice": {"MediaId": "sample_media_id", "Format": "amr"},
    "video": {"MediaId": "sample_media_id", "ThumbMediaId": "sample_thumb_id"},
    "shortvideo": {"MediaId": "sample_media_id", "ThumbMediaId": "sample_thumb_id"},
    "location": {
        "Location_X": 23.134521,
        "Location_Y": 113.358803,
        "Scale": 20,
        "Label": "Guangzhou",
    },
    "link": {"Title": "wxserver", "Description": "a link", "Url": "https://example.com/"},
}


def _settings(env: str | None) -> Settings:
    environ = dict(os.environ)
    if env:
        environ["WX_ENV"] = env
    try:
        return load_settings(environ)
    except WxServerError as exc:
        raise click.ClickException(f"configuration error: {exc}") from None


def _handler_sets(settings: Settings, account: Account) -> list[HandlerSet]:
    """The account's handler sets; a plugin that fails to load is a one-line CLI error."""
    try:
        return load_handler_sets(account.plugins, use_entry_points=settings.load_entry_points)
    except PluginError as exc:
        raise click.ClickException(str(exc)) from None


@click.group()
@click.version_option(package_name="wxserver")
def main() -> None:
    """wxserver: a webhook server for WeChat Official Accounts."""


@main.command()
@click.option("--env", help="Configuration to use (config/<env>.toml); default: $WX_ENV.")
@click.option("--bind", help="host:port to listen on; default: the 'bind' setting.")
@click.option("--workers", type=int, help="gunicorn worker processes; default: the config file's.")
def run(env: str | None, bind: str | None, workers: int | None) -> None:
    """Serve with gunicorn, as the Procfile does, on the configured address."""
    if env:
        os.environ["WX_ENV"] = env
    settings = _settings(env)
    # Checked here too, so a bad plugin is one clear line rather than gunicorn's boot traceback.
    for account in settings.accounts:
        _handler_sets(settings, account)
    serve(bind or settings.bind, workers=workers)


@main.command()
@click.option("--env", help="Configuration to use (config/<env>.toml); default: $WX_ENV.")
@click.option("--threads", default=32, show_default=True, help="Jobs run at once.")
def worker(env: str | None, threads: int) -> None:
    """Run deferred handlers (the Procfile's worker): consume the job queue beside the store."""
    if env:
        os.environ["WX_ENV"] = env
    _settings(env)
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


@main.command("check-config")
@click.option("--env", help="Configuration to check; default: $WX_ENV.")
def check_config(env: str | None) -> None:
    """Validate the configuration and the plugins, and print it with secrets masked."""
    settings = _settings(env)
    click.echo(
        f"env: {settings.env}  bind: {settings.bind}  max_body_size: {settings.max_body_size}"
    )
    for account in settings.accounts:
        sets = _handler_sets(settings, account)
        click.echo(
            f"account {account.name}: path={account.path} mode={account.mode} "
            f"app_id={account.app_id or '-'} token={account.token} "
            f"encoding_aes_key={account.encoding_aes_key} "
            f"handler sets={', '.join(hs.name for hs in sets) or '(none)'}"
        )
    click.echo("configuration OK")


@main.command("new-keys")
def new_keys() -> None:
    """Generate a Token and an EncodingAESKey to paste into the MP console."""
    alphabet = string.ascii_letters + string.digits
    token = "".join(secrets.choice(alphabet) for _ in range(32))
    aes_key = base64.b64encode(secrets.token_bytes(32)).decode()[:43]
    while not aes_key.isalnum():
        aes_key = base64.b64encode(secrets.token_bytes(32)).decode()[:43]
    click.echo(f"WX_TOKEN={token}\nWX_ENCODING_AES_KEY={aes_key}")


@main.command()
@click.option("--url", help="The server's callback URL; default: http://<bind><account path>.")
@click.option("--env", help="Configuration holding the account's credentials; default: $WX_ENV.")
@click.option("--account", "account_name", default="default", show_default=True)
@click.option("--mode", type=click.Choice([m.value for m in Mode]), help="Default: the account's.")
@click.option(
    "--type",
    "msg_type",
    default="text",
    show_default=True,
    type=click.Choice([*SAMPLE_FIELDS, "event"]),
)
@click.option("--content", default="hello", show_default=True, help="Text of a text message.")
@click.option("--event", default="subscribe", show_default=True, help="Event name (--type event).")
@click.option("--event-key", default=None, help="EventKey of the event.")
@click.option("--from-user", default="oWxServerSimulatedUser00000", show_default=True)
@click.option("--field", "extra", multiple=True, metavar="NAME=VALUE", help="Extra XML fields.")
@click.option("--handshake", is_flag=True, help="Send the GET handshake instead of a message.")
def simulate(
    url: str | None,
    env: str | None,
    account_name: str,
    mode: str | None,
    msg_type: str,
    content: str,
    event: str,
    event_key: str | None,
    from_user: str,
    extra: tuple[str, ...],
    handshake: bool,
) -> None:
    """Send a correctly signed message to a running server and print the decrypted reply."""
    settings = _settings(env)
    try:
        account = settings.account(account_name)
    except KeyError:
        raise click.ClickException(f"no account named {account_name!r}") from None
    url = url or f"http://{settings.bind}{account.path}"
    fields: dict[str, Any] = dict(SAMPLE_FIELDS.get(msg_type, {}))
    if msg_type == "text":
        fields["Content"] = content
    for item in extra:
        name, sep, value = item.partition("=")
        if not sep:
            raise click.BadParameter(f"{item!r} is not NAME=VALUE", param_hint="--field")
        fields[name] = value
    try:
        if handshake:
            echostr = str(secrets.randbelow(10**18))
            response = httpx.get(url, params=sign_handshake(account, echostr), timeout=10)
            ok = response.status_code == 200 and response.content == echostr.encode()
            click.echo(f"GET {url} -> {response.status_code} {response.text.strip()!r}")
            click.echo("handshake OK" if ok else "handshake FAILED")
            sys.exit(0 if ok else 1)
        if msg_type == "event":
            xml = build_event(event, event_key, from_user=from_user, **fields)
        else:
            xml = build_message(msg_type, from_user=from_user, **fields)
        signed = sign_request(account, xml, mode or account.mode)
        response = httpx.post(
            url,
            params=signed.query,
            content=signed.body,
            headers={"Content-Type": "text/xml"},
            timeout=10,
        )
    except httpx.HTTPError as exc:
        raise click.ClickException(f"could not reach {url}: {exc}") from None
    click.echo(f"POST {url} ({mode or account.mode} mode) -> {response.status_code}")
    if response.status_code != 200:
        click.echo(response.text.rstrip())
        sys.exit(1)
    try:
        result = open_reply(
            account,
            response.status_code,
            response.content,
            response.headers.get("content-type", ""),
        )
    except WxServerError as exc:
        raise click.ClickException(f"the reply could not be read as WeChat would: {exc}") from None
    if result.is_success:
        click.echo("success (no reply)")
        return
    click.echo("encrypted reply, decrypted:" if result.encrypted else "plaintext reply:")
    click.echo(result.xml.decode())


# The diagnostics and menu commands register themselves on `main`.
from wxserver import cli_diagnostics, cli_menu  # noqa: E402, F401
