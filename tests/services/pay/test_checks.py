"""The merchant's doctor checks, on a checklist of their own: keys, their expiry, handlers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.pay_keys import certificate, rsa_key
from tests.pay_support import Merchant
from tests.support import TOKEN
from wxserver import HandlerSet
from wxserver.services.config import load_settings
from wxserver.services.doctor import Checklist
from wxserver.services.pay.checks import check_pay


def _run(
    merchant: Merchant, handler_sets: list[HandlerSet], **pay: object
) -> tuple[Checklist, str]:
    settings = load_settings(
        {"WX_ENV": "test", "WX_TOKEN": TOKEN}, {"pay": merchant.pay_settings(**pay)}
    )
    assert settings.pay is not None
    lines: list[str] = []
    checks = Checklist(lines.append)
    check_pay(settings.pay, handler_sets, checks)
    return checks, "\n".join(lines)


def test_checks_pay_all_good(merchant: Merchant) -> None:
    handlers = HandlerSet("shop")
    handlers.pay("TRANSACTION.SUCCESS")(lambda notification: None)
    checks, text = _run(merchant, [handlers])
    assert checks.failed == 0
    assert f"✓ platform certificate {merchant.signers.certificate.serial} valid until" in text
    assert f"✓ WeChat Pay public key {merchant.signers.public_key.serial}" in text
    assert "✓ pay handlers: shop.<lambda> (TRANSACTION.SUCCESS)" in text


def test_checks_pay_expired_certificate_and_nothing_else(
    merchant: Merchant, tmp_path: Path
) -> None:
    key, _ = rsa_key()
    start = datetime.now(UTC) - timedelta(days=100)
    expired = tmp_path / "old.pem"
    expired.write_bytes(certificate(key, 0xABC, valid_from=start, valid_days=90))
    soon = tmp_path / "soon.pem"
    soon.write_bytes(certificate(key, 0xDEF, valid_days=10))
    checks, text = _run(
        merchant, [], public_key_id="", public_key_file="", platform_cert_files=[str(expired)]
    )
    assert checks.failed == 3
    assert "✗ platform certificate ABC expired on" in text
    assert "✗ no key can verify WeChat Pay's signatures" in text
    assert "✗ no handler set registers @handlers.pay" in text
    checks, text = _run(merchant, [], platform_cert_files=[str(soon)])
    assert "· certificate DEF expires within 30 days" in text
