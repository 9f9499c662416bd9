"""The WeChat Pay merchant's settings: the WX_PAY_* variables, and errors naming the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.pay_keys import MCH_ID, MERCHANT_SERIAL, private_pem
from tests.pay_support import Merchant
from tests.support import TOKEN
from wxserver.protocol.errors import ConfigError
from wxserver.services.config import load_settings

BASE = {"WX_ENV": "test", "WX_TOKEN": TOKEN}


def test_settings_pay_is_off_without_a_merchant() -> None:
    assert load_settings(BASE).pay is None


def test_settings_pay_from_the_environment(merchant: Merchant) -> None:
    settings = load_settings(BASE | merchant.environment())
    pay = settings.pay
    assert pay is not None
    assert pay.mch_id == MCH_ID
    assert pay.apiv3_key.reveal() == merchant.apiv3
    assert merchant.apiv3 not in repr(settings)
    assert pay.public_key_id == merchant.signers.public_key.serial
    assert pay.public_key_file == str(merchant.public_key_file)
    assert pay.platform_cert_files == (str(merchant.certificate_file),)
    assert pay.path == "/wechat/pay/notify"
    assert pay.budget == 4.0


def test_settings_pay_path_and_private_key(merchant: Merchant, tmp_path: Path) -> None:
    key_file = tmp_path / "apiclient_key.pem"
    key_file.write_bytes(private_pem(merchant.signers.stranger.private))
    env = BASE | {
        "WX_PAY_MCH_ID": MCH_ID,
        "WX_PAY_APIV3_KEY": merchant.apiv3,
        "WX_PAY_PRIVATE_KEY_FILE": str(key_file),
        "WX_PAY_CERT_SERIAL": MERCHANT_SERIAL,
        "WX_PAY_PATH": "/shop/pay",
        "WX_PAY_API_BASE_URL": "http://127.0.0.1:9/",
    }
    pay = load_settings(env).pay
    assert pay is not None
    assert (pay.path, pay.cert_serial, pay.api_base_url) == (
        "/shop/pay",
        MERCHANT_SERIAL,
        "http://127.0.0.1:9",
    )


@pytest.mark.parametrize(
    ("change", "key", "problem"),
    [
        ({"WX_PAY_MCH_ID": ""}, "WX_PAY_MCH_ID", "other pay settings are"),
        ({"WX_PAY_MCH_ID": "shop"}, "WX_PAY_MCH_ID", "not a 商户号"),
        ({"WX_PAY_APIV3_KEY": "short"}, "WX_PAY_APIV3_KEY", "not 5"),
        ({"WX_PAY_PUBLIC_KEY_FILE": ""}, "WX_PAY_PUBLIC_KEY_FILE", "needed with the other"),
        ({"WX_PAY_PUBLIC_KEY_ID": "ABC"}, "WX_PAY_PUBLIC_KEY_ID", "starts with PUB_KEY_ID_"),
        ({"WX_PAY_PUBLIC_KEY_FILE": "/nonexistent.pem"}, "WX_PAY_PUBLIC_KEY_FILE", "cannot read"),
        ({"WX_PAY_PLATFORM_CERT_FILES": "@key"}, "WX_PAY_PLATFORM_CERT_FILES", "no readable PEM"),
        ({"WX_PAY_CERT_SERIAL": "ABC"}, "WX_PAY_PRIVATE_KEY_FILE", "needed with the other"),
        (
            {
                "WX_PAY_PUBLIC_KEY_ID": "",
                "WX_PAY_PUBLIC_KEY_FILE": "",
                "WX_PAY_PLATFORM_CERT_FILES": "",
            },
            "pay",
            "no key to verify",
        ),
        ({"WX_PAY_PATH": "/wechat"}, "WX_PAY_PATH", "an account's path too"),
        ({"WX_PAY_API_BASE_URL": "mch.example"}, "WX_PAY_API_BASE_URL", "is 'mch.example'"),
    ],
    ids=[
        "mch-id-missing",
        "mch-id-not-digits",
        "apiv3-key-short",
        "public-key-without-file",
        "public-key-id-prefix",
        "public-key-file-missing",
        "certificate-not-pem",
        "serial-without-private-key",
        "no-key-at-all",
        "path-taken",
        "base-url",
    ],
)
def test_settings_pay_errors_name_the_variable(
    merchant: Merchant, change: dict[str, str], key: str, problem: str
) -> None:
    env = BASE | merchant.environment()
    for name, value in change.items():
        env[name] = str(merchant.public_key_file) if value == "@key" else value
    with pytest.raises(ConfigError) as caught:
        load_settings(env)
    assert caught.value.key.startswith(key)
    assert problem in str(caught.value)


def test_settings_pay_table_refuses_unknown_keys(merchant: Merchant) -> None:
    with pytest.raises(ConfigError, match=r"pay\.mchid: is not a pay setting"):
        load_settings(BASE, {"pay": {"mchid": MCH_ID}})
    with pytest.raises(ConfigError, match=r"from 0\.5 to 4\.5 seconds"):
        load_settings(BASE, {"pay": merchant.pay_settings(budget=5)})
