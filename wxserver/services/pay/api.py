"""The merchant API client (api.mch.weixin.qq.com): requests signed with the merchant's key.

APIv3 differs from the Official Account API in three ways, so it has a client of its own on the
same transport (connection lanes per process, failover between hosts): each request carries an
``Authorization`` signed with the merchant's API private key; each answer is signed by WeChat Pay
(the ``Wechatpay-*`` headers, verified here); an error is an HTTP 4xx with ``{"code", "message"}``
rather than an ``errcode``. The one call the server needs is ``GET /v3/certificates``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx
from Crypto.PublicKey import RSA

from wxserver.protocol.api_errors import ApiUnavailableError
from wxserver.protocol.errors import ProtocolError, WxServerError
from wxserver.protocol.pay.crypto import authorization, new_nonce
from wxserver.protocol.pay.keys import KeyRing, downloaded_certificates, load_certificates
from wxserver.protocol.pay.notify import read_headers, verify_notification
from wxserver.services.api.transport import Transport

__all__ = ["DEFAULT_PAY_BASE_URLS", "PayAPI", "PayApiError"]

log = logging.getLogger("wxserver.pay")

# The merchant API and its disaster-recovery host.
DEFAULT_PAY_BASE_URLS = ("https://api.mch.weixin.qq.com", "https://api2.mch.weixin.qq.com")
CERTIFICATES = "/v3/certificates"


class PayApiError(WxServerError):
    """The merchant API refused a request, or its answer was not WeChat Pay's."""

    def __init__(self, path: str, status: int, code: str, message: str) -> None:
        self.path = path
        self.status = status
        self.code = code
        self.message = message
        super().__init__(f"{path}: HTTP {status} {code}: {message}")


class PayAPI(Transport):
    """A client of the merchant API for one merchant (商户号)."""

    def __init__(
        self,
        mch_id: str,
        cert_serial: str,
        private_key: RSA.RsaKey,
        apiv3_key: bytes,
        *,
        base_urls: str | Sequence[str] = DEFAULT_PAY_BASE_URLS,
        trusted: Callable[[], KeyRing] = KeyRing,
        connect_timeout: float = 3.0,
        read_timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        urls = [base_urls] if isinstance(base_urls, str) else list(base_urls)
        super().__init__(
            tuple(url.rstrip("/") for url in urls),
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            busy_retries=0,
            backoff=0.0,
            max_connections=4,
            on_error=None,
        )
        self.mch_id = mch_id
        self.cert_serial = cert_serial
        self._private_key = private_key
        self._apiv3_key = apiv3_key
        # Keys already trusted to verify answers (configured, or downloaded before).
        self._trusted = trusted
        self._clock = clock

    def __repr__(self) -> str:
        return f"PayAPI(mch_id={self.mch_id!r}, base_urls={self.base_urls!r})"

    def __enter__(self) -> PayAPI:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def certificates(self) -> list[str]:
        """The platform certificates in force (PEM), decrypted and checked; the answer verified.

        The answer is verified with a key already trusted or, the first time, with one of the
        certificates it carries: those are trusted because they decrypted with the APIv3 key.
        """
        answer, response = self._get(CERTIFICATES)
        pems = downloaded_certificates(answer, self._apiv3_key)
        carried = KeyRing(key for pem in pems for key in load_certificates(pem.encode()))
        ring = self._trusted() | carried
        try:
            verify_notification(
                read_headers(response.headers.get),
                response.content,
                self._clock(),
                lambda serial: ring.find(serial, datetime.now(UTC)),
            )
        except ProtocolError as exc:
            raise PayApiError(CERTIFICATES, response.status_code, "SIGN_ERROR", str(exc)) from None
        return pems

    def _get(self, path: str) -> tuple[dict[str, Any], httpx.Response]:
        attempts: list[str] = []
        for base in self.base_urls:
            nonce, stamp = new_nonce(), int(self._clock())
            signed = authorization(
                self.mch_id,
                self.cert_serial,
                self._private_key,
                ("GET", path, b""),
                timestamp=stamp,
                nonce=nonce,
            )
            headers = {"Authorization": signed, "Accept": "application/json"}
            try:
                response = self._request("api", "GET", base, path, dict, headers=headers)
            except httpx.TransportError as exc:
                attempts.append(f"{base}: {type(exc).__name__} {exc}".rstrip())
                log.warning("%s%s failed (%s); trying the next base URL", base, path, attempts[-1])
                continue
            if response.status_code >= 500:
                attempts.append(f"{base}: HTTP {response.status_code}")
                continue
            data = _json(response)
            if response.status_code >= 400 or data is None:
                error = data or {}
                raise PayApiError(
                    path,
                    response.status_code,
                    str(error.get("code", "")),
                    str(error.get("message", "the answer is not JSON")),
                )
            return data, response
        raise ApiUnavailableError(path, attempts)


def _json(response: httpx.Response) -> dict[str, Any] | None:
    try:
        data = json.loads(response.content)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None
