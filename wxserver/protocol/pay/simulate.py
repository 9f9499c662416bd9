"""Play WeChat Pay: notifications built, encrypted and signed as WeChat Pay sends them.

Sans-IO: used by the tests, by ``wxserver pay simulate`` (which signs with a local test key that
the server is configured to trust) and by plugin authors' own tests.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from Crypto.PublicKey import RSA

from wxserver.protocol.pay.crypto import encrypt_resource, new_nonce, sign, signed_message
from wxserver.protocol.pay.notifications import CHINA

__all__ = [
    "build_notification",
    "rfc3339",
    "sample_refund",
    "sample_transaction",
    "sign_notification",
]

_SUMMARIES = {
    "TRANSACTION.SUCCESS": "支付成功",
    "REFUND.SUCCESS": "退款成功",
    "REFUND.ABNORMAL": "退款异常",
    "REFUND.CLOSED": "退款关闭",
}


def rfc3339(moment: float | None = None) -> str:
    """A time as WeChat Pay writes it: ``2024-05-20T13:29:35+08:00``."""
    when = datetime.fromtimestamp(time.time() if moment is None else moment, CHINA)
    return when.isoformat(timespec="seconds")


def sample_transaction(
    mchid: str,
    *,
    out_trade_no: str | None = None,
    total: int = 100,
    appid: str = "wx0000000000testapp",
    openid: str = "oWxServerSimulatedPayer0000",
    attach: str = "",
) -> dict[str, Any]:
    """The decrypted resource of a TRANSACTION.SUCCESS for order ``out_trade_no``."""
    return {
        "appid": appid,
        "mchid": mchid,
        "out_trade_no": out_trade_no or f"wxsim{secrets.token_hex(8)}",
        "transaction_id": f"4200{secrets.randbelow(10**24):024d}",
        "trade_type": "JSAPI",
        "trade_state": "SUCCESS",
        "trade_state_desc": "支付成功",
        "bank_type": "OTHERS",
        "attach": attach,
        "success_time": rfc3339(),
        "payer": {"openid": openid},
        "amount": {
            "total": total,
            "payer_total": total,
            "currency": "CNY",
            "payer_currency": "CNY",
        },
    }


def sample_refund(
    mchid: str,
    *,
    out_trade_no: str,
    refund: int,
    total: int,
    out_refund_no: str | None = None,
    status: str = "SUCCESS",
) -> dict[str, Any]:
    """The decrypted resource of a REFUND.* notification of order ``out_trade_no``."""
    return {
        "mchid": mchid,
        "out_trade_no": out_trade_no,
        "transaction_id": f"4200{secrets.randbelow(10**24):024d}",
        "out_refund_no": out_refund_no or f"wxsimrefund{secrets.token_hex(6)}",
        "refund_id": f"5030{secrets.randbelow(10**25):025d}",
        "refund_status": status,
        "success_time": rfc3339(),
        "user_received_account": "支付用户零钱",
        "amount": {"total": total, "refund": refund, "payer_total": total, "payer_refund": refund},
    }


def build_notification(
    event_type: str,
    resource: Mapping[str, Any],
    apiv3_key: bytes,
    *,
    notification_id: str | None = None,
    create_time: float | None = None,
    associated_data: str | None = None,
) -> bytes:
    """The JSON body of a notification, its ``resource`` encrypted with ``apiv3_key``."""
    original_type = event_type.partition(".")[0].lower()
    associated = original_type if associated_data is None else associated_data
    nonce = new_nonce(12)
    plaintext = json.dumps(resource, ensure_ascii=False).encode("utf-8")
    body = {
        "id": notification_id or f"EV-{secrets.token_hex(12)}",
        "create_time": rfc3339(create_time),
        "resource_type": "encrypt-resource",
        "event_type": event_type,
        "summary": _SUMMARIES.get(event_type, event_type),
        "resource": {
            "original_type": original_type,
            "algorithm": "AEAD_AES_256_GCM",
            "ciphertext": encrypt_resource(apiv3_key, nonce, associated, plaintext),
            "associated_data": associated,
            "nonce": nonce,
        },
    }
    return json.dumps(body, ensure_ascii=False).encode("utf-8")


def sign_notification(
    body: bytes,
    private_key: RSA.RsaKey,
    serial: str,
    *,
    timestamp: int | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """The ``Wechatpay-*`` headers of ``body`` signed by the platform key ``serial``."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    nonce = nonce or new_nonce()
    return {
        "Wechatpay-Timestamp": stamp,
        "Wechatpay-Nonce": nonce,
        "Wechatpay-Signature": sign(private_key, signed_message(stamp, nonce, body)),
        "Wechatpay-Serial": serial,
        "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
    }
