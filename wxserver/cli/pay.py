"""``wxserver pay``: a local test key, and notifications signed with it sent to a running server.

For plugin authors, as ``simulate`` is for messages: ``pay test-key`` makes an RSA key pair and
prints the settings that make a development server trust its public half as a WeChat Pay public
key; ``pay simulate`` builds a notification as WeChat Pay does (encrypted with the configured
APIv3 key), signs it with the private half and POSTs it to the server's notify URL.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click
import httpx
from Crypto.PublicKey import RSA

from wxserver.cli.common import env_option, settings_for
from wxserver.protocol.pay.crypto import apiv3_key
from wxserver.protocol.pay.errors import PayKeyError
from wxserver.protocol.pay.keys import load_private_key
from wxserver.protocol.pay.simulate import (
    build_notification,
    sample_refund,
    sample_transaction,
    sign_notification,
)

TEST_KEY = "instance/wxpay-test"
TEST_KEY_ID = "PUB_KEY_ID_0000000000000000000000000000LOCALTEST"


@click.group()
def pay() -> None:
    """WeChat Pay notifications: a local test key, and notifications sent with it."""


@pay.command("test-key")
@click.option("--out", default=TEST_KEY, show_default=True, help="Path prefix of the two files.")
@click.option("--key-id", default=TEST_KEY_ID, show_default=True, help="The public key's ID.")
def test_key(out: str, key_id: str) -> None:
    """Make an RSA 2048 key pair standing in for WeChat Pay's, for a development server."""
    private_path, public_path = Path(f"{out}-private.pem"), Path(f"{out}-public.pem")
    if private_path.exists():
        raise click.ClickException(f"{private_path} exists already; remove it or use --out")
    private_path.parent.mkdir(parents=True, exist_ok=True)
    key = RSA.generate(2048)
    private_pem, public_pem = key.export_key("PEM", pkcs=8), key.public_key().export_key("PEM")
    descriptor = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(_bytes(private_pem))
    public_path.write_bytes(_bytes(public_pem))
    click.echo(f"wrote {private_path} (keep it local: it signs as WeChat Pay) and {public_path}")
    click.echo("Start the development server trusting it (never in production):")
    click.echo(f"WX_PAY_PUBLIC_KEY_ID={key_id}")
    click.echo(f"WX_PAY_PUBLIC_KEY_FILE={public_path}")


def _bytes(pem: str | bytes) -> bytes:
    return pem if isinstance(pem, bytes) else pem.encode()


def _resource(event: str, mch_id: str, options: dict[str, Any]) -> dict[str, Any]:
    order, amount = options["out_trade_no"], options["amount"]
    if event.startswith("REFUND."):
        status = event.partition(".")[2]
        return sample_refund(
            mch_id, out_trade_no=order or "wxsim-order", refund=amount, total=amount, status=status
        )
    if event.startswith("TRANSACTION."):
        return sample_transaction(
            mch_id, out_trade_no=order, total=amount, attach=options["attach"]
        )
    return {"mchid": mch_id, "out_trade_no": order or ""}


@pay.command()
@click.option("--url", help="The notify URL; default: http://<bind><pay path>.")
@env_option
@click.option(
    "--private-key",
    default=f"{TEST_KEY}-private.pem",
    show_default=True,
    help="The key that signs (from pay test-key).",
)
@click.option("--serial", help="Wechatpay-Serial to send; default: WX_PAY_PUBLIC_KEY_ID.")
@click.option("--event", default="TRANSACTION.SUCCESS", show_default=True)
@click.option("--out-trade-no", default=None, help="The order's number; default: a random one.")
@click.option("--amount", default=100, show_default=True, help="In fen (分).")
@click.option("--attach", default="", help="The order's attach field.")
@click.option("--repeat", default=1, show_default=True, help="Deliveries of the same notification.")
def simulate(
    url: str | None,
    env: str | None,
    private_key: str,
    serial: str | None,
    event: str,
    out_trade_no: str | None,
    amount: int,
    attach: str,
    repeat: int,
) -> None:
    """Send a signed notification to a running server, as WeChat Pay would, and print the answer."""
    settings = settings_for(env)
    merchant = settings.pay
    if merchant is None:
        raise click.ClickException(
            "no WeChat Pay merchant is configured: set WX_PAY_MCH_ID and WX_PAY_APIV3_KEY, and "
            "trust a test key (wxserver pay test-key prints how)"
        )
    try:
        signer = load_private_key(Path(private_key).read_bytes(), origin=private_key)
    except OSError as exc:
        raise click.ClickException(
            f"cannot read {private_key} ({exc.strerror}); make one with: wxserver pay test-key"
        ) from None
    except PayKeyError as exc:
        raise click.ClickException(str(exc)) from None
    url = url or f"http://{settings.bind}{merchant.path}"
    serial = serial or merchant.public_key_id or TEST_KEY_ID
    options = {"out_trade_no": out_trade_no, "amount": amount, "attach": attach}
    resource = _resource(event, merchant.mch_id, options)
    body = build_notification(event, resource, apiv3_key(merchant.apiv3_key.reveal()))
    identity = json.loads(body)["id"]
    failed = False
    for _ in range(max(1, repeat)):
        headers = sign_notification(body, signer, serial)
        try:
            response = httpx.post(
                url,
                content=body,
                headers={**headers, "Content-Type": "application/json"},
                timeout=10,
            )
        except httpx.HTTPError as exc:
            raise click.ClickException(f"could not reach {url}: {exc}") from None
        click.echo(f"POST {url} ({event} id={identity}) -> {response.status_code}")
        if not response.is_success:
            failed = True
            click.echo(response.text.rstrip())
    sys.exit(1 if failed else 0)
