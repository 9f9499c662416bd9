"""``wxserver check-config`` and ``wxserver new-keys``: the configuration and its secrets."""

from __future__ import annotations

import base64
import secrets
import string

import click

from wxserver.cli.common import handler_sets, settings_for


@click.command("check-config")
@click.option("--env", help="Configuration to check; default: $WX_ENV.")
def check_config(env: str | None) -> None:
    """Validate the configuration and the plugins, and print it with secrets masked."""
    settings = settings_for(env)
    click.echo(
        f"env: {settings.env}  bind: {settings.bind}  max_body_size: {settings.max_body_size}"
    )
    for account in settings.accounts:
        sets = handler_sets(settings, account)
        click.echo(
            f"account {account.name}: path={account.path} mode={account.mode} "
            f"app_id={account.app_id or '-'} token={account.token} "
            f"encoding_aes_key={account.encoding_aes_key} "
            f"handler sets={', '.join(hs.name for hs in sets) or '(none)'}"
        )
    if settings.pay is not None:
        merchant = settings.pay
        click.echo(
            f"pay merchant {merchant.mch_id}: path={merchant.path} "
            f"apiv3_key={merchant.apiv3_key} public_key_id={merchant.public_key_id or '-'} "
            f"platform_cert_files={len(merchant.platform_cert_files)} "
            f"certificate download={'on' if merchant.private_key_file else 'off'}"
        )
    component = settings.component
    if component is not None:
        sets = handler_sets(settings, component.authorizers_account())
        click.echo(
            f"component {component.app_id}: events={component.path} "
            f"messages={component.message_path} format={component.format} "
            f"token={component.token} encoding_aes_key={component.encoding_aes_key} "
            f"app_secret={component.app_secret} "
            f"handler sets={', '.join(hs.name for hs in sets) or '(none)'}"
        )
    click.echo("configuration OK")


@click.command("new-keys")
def new_keys() -> None:
    """Generate a Token and an EncodingAESKey to paste into the MP console."""
    alphabet = string.ascii_letters + string.digits
    token = "".join(secrets.choice(alphabet) for _ in range(32))
    aes_key = base64.b64encode(secrets.token_bytes(32)).decode()[:43]
    while not aes_key.isalnum():
        aes_key = base64.b64encode(secrets.token_bytes(32)).decode()[:43]
    click.echo(f"WX_TOKEN={token}\nWX_ENCODING_AES_KEY={aes_key}")
