"""The merchant's part of ``wxserver doctor``: its keys, the certificate download, handlers.

Each check reports one ✓ or ✗ line on the doctor's checklist; a failure says what it means for
the notifications and how to fix it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from wxserver.protocol.api_errors import ApiUnavailableError
from wxserver.protocol.handlers import HandlerSet
from wxserver.protocol.pay.errors import PayKeyError
from wxserver.protocol.pay.keys import KeyRing
from wxserver.services.config import Merchant
from wxserver.services.doctor import Checklist
from wxserver.services.pay.api import PayApiError
from wxserver.services.pay.merchant import configured_keys, pay_api

__all__ = ["check_pay"]

# A certificate this close to its end is worth a note: WeChat Pay signs with its successor soon.
SOON = timedelta(days=30)


def check_pay(merchant: Merchant, handler_sets: Sequence[HandlerSet], checks: Checklist) -> None:
    """Check the merchant's keys, its certificate download and its pay handlers."""
    checks.section(f"WeChat Pay merchant {merchant.mch_id} (notify URL path {merchant.path})")
    checks.ok("APIv3 key set (32 bytes)")
    configured = configured_keys(merchant)
    usable = _check_keys(configured, checks)
    if merchant.private_key_file:
        usable += _check_download(merchant, configured, checks)
    elif not usable:
        checks.fail(
            "no key can verify WeChat Pay's signatures: every notification would be refused (401)",
            "fix: configure the 微信支付公钥 (WX_PAY_PUBLIC_KEY_ID, WX_PAY_PUBLIC_KEY_FILE), "
            "current platform certificates, or the merchant API key to download them "
            "(WX_PAY_PRIVATE_KEY_FILE, WX_PAY_CERT_SERIAL).",
        )
    rules = [rule for handler_set in handler_sets for rule in handler_set.pay_rules]
    if not rules:
        checks.fail(
            "no handler set registers @handlers.pay: every notification is answered FAIL (503)",
            'fix: add a handler set with @handlers.pay("TRANSACTION.SUCCESS") to WX_PLUGINS.',
        )
        return
    described = ", ".join(
        f"{rule.name} ({', '.join(sorted(rule.event_types)) or 'every type'})" for rule in rules
    )
    checks.ok(f"pay handlers: {described}")


def _check_keys(configured: KeyRing, checks: Checklist) -> int:
    now = datetime.now(UTC)
    usable = 0
    for key in configured:
        if key.is_public_key:
            checks.ok(f"WeChat Pay public key {key.serial} (it does not expire)")
            usable += 1
        elif key.not_after is not None and key.not_after < now:
            checks.fail(
                f"platform certificate {key.serial} expired on {key.not_after:%Y-%m-%d}: "
                "notifications signed with its successor are refused (401)",
                "fix: replace it with the current platform certificates, or switch to the "
                "微信支付公钥.",
            )
        else:
            usable += 1
            left = "" if key.not_after is None else f" until {key.not_after:%Y-%m-%d}"
            checks.ok(f"platform certificate {key.serial} valid{left}")
            if key.not_after is not None and key.not_after - now < SOON:
                checks.note(f"certificate {key.serial} expires within 30 days: add its successor")
    return usable


def _check_download(merchant: Merchant, configured: KeyRing, checks: Checklist) -> int:
    try:
        api = pay_api(merchant, configured)
    except PayKeyError as exc:
        checks.fail(
            f"merchant API key: {exc}", "fix: point WX_PAY_PRIVATE_KEY_FILE at apiclient_key.pem."
        )
        return 0
    if api is None:
        return 0
    try:
        with api:
            pems = api.certificates()
    except PayApiError as exc:
        checks.fail(
            f"/v3/certificates: WeChat Pay answered HTTP {exc.status} {exc.code}: {exc.message}",
            "fix: WX_PAY_PRIVATE_KEY_FILE must be the merchant's apiclient_key.pem and "
            "WX_PAY_CERT_SERIAL its certificate's serial (商户API证书序列号); WX_PAY_APIV3_KEY the "
            "APIv3密钥.",
        )
        return 0
    except ApiUnavailableError as exc:
        checks.fail(
            "/v3/certificates: no answer from the merchant API",
            str(exc),
            "fix: allow outbound HTTPS to api.mch.weixin.qq.com (firewall, proxy, DNS here).",
        )
        return 0
    checks.ok(f"downloaded {len(pems)} platform certificate(s) from /v3/certificates")
    return len(pems)
