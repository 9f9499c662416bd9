"""The errors of WeChat Pay notifications, with the HTTP status each is answered with.

A failed security check (a header missing, a signature that does not verify, a serial no key is
known for, a stale timestamp) is a 401; a body that cannot be read or decrypted is a 400. Every
refusal is answered with WeChat Pay's failure JSON, so WeChat shows the reason in its logs.
"""

from __future__ import annotations

from wxserver.protocol.errors import ProtocolError, WxServerError


class PaySecurityError(ProtocolError):
    """A notification failed a security check: nothing it says is believed."""

    status = 401


class PaySignatureError(PaySecurityError):
    """A ``Wechatpay-*`` header is missing or the signature does not verify."""


class UnknownSerialError(PaySecurityError):
    """No platform certificate or WeChat Pay public key is known for ``Wechatpay-Serial``."""

    def __init__(self, serial: str) -> None:
        self.serial = serial
        super().__init__(
            f"no platform certificate or WeChat Pay public key is known for serial {serial!r}"
        )


class PayStaleError(PaySecurityError):
    """``Wechatpay-Timestamp`` lies outside the 5-minute window around the clock."""


class PayBodyError(ProtocolError):
    """The body is not a notification: not JSON, or without an encrypted resource."""

    status = 400


class PayDecryptError(ProtocolError):
    """The resource does not decrypt and authenticate with the APIv3 key (AEAD_AES_256_GCM)."""

    status = 400


class PayKeyError(WxServerError):
    """A platform certificate, public key or merchant key cannot be read."""
