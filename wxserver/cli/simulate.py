"""``wxserver simulate``: play WeChat against a running server, over HTTP."""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path
from typing import Any

import click
import httpx

from wxserver.cli.common import settings_for
from wxserver.cli.simulate_web import DEFAULT_PORT, serve_page
from wxserver.protocol.callback import Mode
from wxserver.protocol.errors import WxServerError
from wxserver.protocol.simulate import (
    build_event,
    build_message,
    open_reply,
    sign_handshake,
    sign_request,
)
from wxserver.protocol.wire import XML_WIRE, wire_of

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


@click.command()
@click.option("--url", help="The server's callback URL; default: http://<bind><account path>.")
@click.option("--env", help="Configuration holding the account's credentials; default: $WX_ENV.")
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="TOML file to read instead of config/<env>.toml; default: $WX_CONFIG.",
)
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
@click.option("--field", "extra", multiple=True, metavar="NAME=VALUE", help="Extra fields.")
@click.option("--handshake", is_flag=True, help="Send the GET handshake instead of a message.")
@click.option("--web", is_flag=True, help="Serve a WeChat chat page on 127.0.0.1 instead.")
@click.option(
    "--port",
    default=DEFAULT_PORT,
    show_default=True,
    type=click.IntRange(1, 65535),
    help="The page's port on 127.0.0.1 (--web).",
)
@click.option(
    "--server-log",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The file the server logs to, where the page reads which handler answered (--web).",
)
def simulate(
    url: str | None,
    env: str | None,
    config_file: Path | None,
    account_name: str,
    mode: str | None,
    msg_type: str,
    content: str,
    event: str,
    event_key: str | None,
    from_user: str,
    extra: tuple[str, ...],
    handshake: bool,
    web: bool,
    port: int,
    server_log: Path | None,
) -> None:
    """Send a correctly signed message to a running server and print the decrypted reply.

    With --web, serve a WeChat chat page on 127.0.0.1 that plays WeChat against the server.
    """
    if config_file is not None:
        os.environ["WX_CONFIG"] = str(config_file)
    settings = settings_for(env)
    try:
        account = settings.account(account_name)
    except KeyError:
        raise click.ClickException(f"no account named {account_name!r}") from None
    url = url or f"http://{settings.bind}{account.path}"
    if web:
        serve_page(settings, account, url, port, server_log, openid=from_user, mode=mode)
        return
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
        wire = wire_of(account.format)
        if msg_type == "event":
            body = build_event(event, event_key, from_user=from_user, format=wire.format, **fields)
        else:
            body = build_message(msg_type, from_user=from_user, format=wire.format, **fields)
        signed = sign_request(account, body, mode or account.mode)
        response = httpx.post(
            url,
            params=signed.query,
            content=signed.body,
            headers={"Content-Type": "text/xml" if wire is XML_WIRE else wire.content_type},
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
