"""The merchant API's ``GET /v3/certificates`` (api.mch.weixin.qq.com), as the fake serves it.

It checks the request's ``Authorization`` against the merchant's public key, answers the platform
certificates it holds, each encrypted with the merchant's APIv3 key, and signs the answer with the
newest certificate's key, as WeChat Pay does. Tests swap ``certificates`` to rotate them.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from Crypto.PublicKey import RSA

from wxserver.protocol.pay.crypto import encrypt_resource, new_nonce, verify
from wxserver.protocol.pay.crypto import signed_message as lines
from wxserver.protocol.pay.simulate import rfc3339, sign_notification


class PlatformSigner(Protocol):
    @property
    def private(self) -> RSA.RsaKey: ...
    @property
    def serial(self) -> str: ...
    @property
    def pem(self) -> bytes: ...


@dataclass(frozen=True)
class Raw:
    """An answer with its own status, body and headers."""

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class FakePay:
    """The merchant API of one merchant."""

    mch_id: str
    merchant_serial: str
    merchant_key: RSA.RsaKey  # the public half of apiclient_key.pem
    apiv3_key: bytes
    certificates: list[PlatformSigner]
    requests: int = 0

    def handle(self, method: str, path: str, headers: Any, raw: bytes) -> Raw:
        self.requests += 1
        if (method, path) != ("GET", "/v3/certificates"):
            return _error(404, "NOT_FOUND", f"no such fake endpoint {method} {path}")
        problem = self._check_authorization(headers.get("Authorization") or "", method, path, raw)
        if problem:
            return _error(401, "SIGN_ERROR", problem)
        data = [self._entry(signer) for signer in self.certificates]
        body = json.dumps({"data": data}).encode()
        newest = self.certificates[-1]
        signed = sign_notification(body, newest.private, newest.serial)
        return Raw(200, body, {"Content-Type": "application/json", "Request-ID": "fake", **signed})

    def _check_authorization(self, header: str, method: str, path: str, raw: bytes) -> str:
        scheme, _, rest = header.partition(" ")
        if scheme != "WECHATPAY2-SHA256-RSA2048":
            return f"unknown authorization scheme {scheme!r}"
        values = dict(re.findall(r'(\w+)="([^"]*)"', rest))
        if values.get("mchid") != self.mch_id:
            return "mchid differs"
        if values.get("serial_no") != self.merchant_serial:
            return "serial_no is not the merchant's certificate"
        if abs(time.time() - int(values.get("timestamp", "0"))) > 300:
            return "timestamp expired"
        message = lines(method, path, values.get("timestamp", ""), values.get("nonce_str", ""), raw)
        if not verify(self.merchant_key, message, values.get("signature", "")):
            return "signature does not verify"
        return ""

    def _entry(self, signer: PlatformSigner) -> dict[str, Any]:
        nonce = new_nonce(12)
        return {
            "serial_no": signer.serial,
            "effective_time": rfc3339(time.time() - 86400),
            "expire_time": rfc3339(time.time() + 365 * 86400),
            "encrypt_certificate": {
                "algorithm": "AEAD_AES_256_GCM",
                "nonce": nonce,
                "associated_data": "certificate",
                "ciphertext": encrypt_resource(self.apiv3_key, nonce, "certificate", signer.pem),
            },
        }


def _error(status: int, code: str, message: str) -> Raw:
    body = json.dumps({"code": code, "message": message}).encode()
    return Raw(status, body, {"Content-Type": "application/json"})
