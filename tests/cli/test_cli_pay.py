"""``wxserver pay test-key`` and ``pay simulate`` against a real gunicorn; doctor's pay checks."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from Crypto.PublicKey import RSA

from tests.cli.commands import Cli
from tests.fakewechat import FakeWeChat
from tests.pay_handlers import runs
from tests.pay_keys import MCH_ID, MERCHANT_SERIAL, private_pem
from tests.pay_support import Merchant
from tests.servers import gunicorn
from tests.support import TOKEN
from wxserver.cli.pay import TEST_KEY_ID

PATH = "/wechat/pay/notify"


def _served_env(merchant: Merchant, public_key_file: Path) -> dict[str, str]:
    return {
        "WX_ENV": "test",
        "WX_TOKEN": TOKEN,
        "WX_PLUGINS": "tests.pay_handlers:handlers",
        "WX_LOAD_ENTRY_POINTS": "false",
        "WX_PAY_MCH_ID": MCH_ID,
        "WX_PAY_APIV3_KEY": merchant.apiv3,
        "WX_PAY_PUBLIC_KEY_ID": TEST_KEY_ID,
        "WX_PAY_PUBLIC_KEY_FILE": str(public_key_file),
        "WXTEST_PAY_DIR": str(merchant.folder),
    }


def test_cli_pay_test_key_then_simulate_against_a_running_server(
    wx: Cli, merchant: Merchant, tmp_path: Path
) -> None:
    made = wx("pay", "test-key")
    assert made.returncode == 0, made.stderr
    private, public = (
        tmp_path / "instance/wxpay-test-private.pem",
        tmp_path / "instance/wxpay-test-public.pem",
    )
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert f"WX_PAY_PUBLIC_KEY_ID={TEST_KEY_ID}" in made.stdout
    assert "WX_PAY_PUBLIC_KEY_FILE=instance/wxpay-test-public.pem" in made.stdout
    assert wx("pay", "test-key").returncode == 1  # never overwrites a key
    env = _served_env(merchant, public)
    with gunicorn(env, workers=1, capture=False) as server:
        sent = wx(
            "pay", "simulate", "--url", server.url + PATH, "--repeat", "3", "--amount", "250", **env
        )
        assert sent.returncode == 0, sent.stdout + sent.stderr
        assert sent.stdout.count("(TRANSACTION.SUCCESS id=EV-") == 3
        assert sent.stdout.count("-> 200") == 3
        assert len(runs(merchant.folder)) == 1
        failed = wx("pay", "simulate", "--url", server.url + PATH, "--attach", "fail", **env)
        assert failed.returncode == 1
        assert "-> 500" in failed.stdout
        assert '"code": "FAIL"' in failed.stdout
        refund = wx(
            "pay", "simulate", "--url", server.url + PATH, "--event", "REFUND.SUCCESS", **env
        )
        assert "-> 200" in refund.stdout
        assert runs(merchant.folder)[-1][1] == "REFUND.SUCCESS"


def test_cli_pay_simulate_with_a_key_the_server_does_not_trust(
    wx: Cli, merchant: Merchant, tmp_path: Path
) -> None:
    key_file = tmp_path / "other.pem"
    key_file.write_bytes(private_pem(merchant.signers.stranger.private))
    env = _served_env(merchant, merchant.public_key_file)
    with gunicorn(env, workers=1, capture=False) as server:
        done = wx(
            "pay", "simulate", "--url", server.url + PATH, "--private-key", str(key_file), **env
        )
    assert done.returncode == 1
    assert "-> 401" in done.stdout
    assert runs(merchant.folder) == []


def test_cli_check_config_shows_the_merchant_without_its_key(wx: Cli, merchant: Merchant) -> None:
    done = wx("check-config", **merchant.environment())
    assert done.returncode == 0, done.stderr
    assert f"pay merchant {MCH_ID}: path={PATH} apiv3_key=Secret('********')" in done.stdout
    assert merchant.apiv3 not in done.stdout


def test_cli_pay_simulate_needs_a_merchant_and_a_key(wx: Cli, merchant: Merchant) -> None:
    done = wx("pay", "simulate")
    assert done.returncode == 1
    assert "no WeChat Pay merchant is configured" in done.stderr
    env = _served_env(merchant, merchant.public_key_file)
    missing = wx("pay", "simulate", "--private-key", "nowhere.pem", **env)
    assert "make one with: wxserver pay test-key" in missing.stderr


def _doctor_env(merchant: Merchant, fake: FakeWeChat, key_file: Path) -> dict[str, str]:
    return {
        "WX_PAY_MCH_ID": MCH_ID,
        "WX_PAY_APIV3_KEY": merchant.apiv3,
        "WX_PAY_PUBLIC_KEY_ID": merchant.signers.public_key.serial,
        "WX_PAY_PUBLIC_KEY_FILE": str(merchant.public_key_file),
        "WX_PAY_PRIVATE_KEY_FILE": str(key_file),
        "WX_PAY_CERT_SERIAL": MERCHANT_SERIAL,
        "WX_PAY_API_BASE_URL": fake.url,
        "WX_PLUGINS": "wxserver.builtin.echo:handlers,tests.pay_handlers:handlers",
    }


@pytest.mark.usefixtures("fake_pay")
def test_cli_doctor_checks_the_merchant(
    wx: Cli, merchant: Merchant, fake: FakeWeChat, merchant_key: RSA.RsaKey, tmp_path: Path
) -> None:
    key_file = tmp_path / "apiclient_key.pem"
    key_file.write_bytes(private_pem(merchant_key))
    done = wx("doctor", **_doctor_env(merchant, fake, key_file))
    assert done.returncode == 0, done.stdout
    for line in (
        f"WeChat Pay merchant {MCH_ID} (notify URL path {PATH})",
        "✓ APIv3 key set (32 bytes)",
        f"✓ WeChat Pay public key {merchant.signers.public_key.serial} (it does not expire)",
        "✓ downloaded 1 platform certificate(s) from /v3/certificates",
        "✓ pay handlers: paytest.paid (TRANSACTION.SUCCESS), paytest.refunded",
    ):
        assert line in done.stdout


@pytest.mark.usefixtures("fake_pay")
def test_cli_doctor_reports_a_wrong_merchant_key_and_no_handlers(
    wx: Cli, merchant: Merchant, fake: FakeWeChat, tmp_path: Path
) -> None:
    key_file = tmp_path / "apiclient_key.pem"
    key_file.write_bytes(private_pem(merchant.signers.stranger.private))
    env = _doctor_env(merchant, fake, key_file) | {"WX_PLUGINS": "wxserver.builtin.echo:handlers"}
    done = wx("doctor", **env)
    assert done.returncode == 1
    assert "✗ /v3/certificates: WeChat Pay answered HTTP 401 SIGN_ERROR" in done.stdout
    assert "WX_PAY_CERT_SERIAL its certificate's serial" in done.stdout
    assert "✗ no handler set registers @handlers.pay" in done.stdout
