"""The keys that verify WeChat Pay's signatures, each found by the serial that names it.

Two kinds: a platform certificate (平台证书), named by its X.509 serial number in hexadecimal, and
the WeChat Pay public key (微信支付公钥), named by its ID, ``PUB_KEY_ID_...``. During a switch from
certificates to the public key WeChat signs with either, so a :class:`KeyRing` holds both and
:meth:`KeyRing.find` picks by ``Wechatpay-Serial``. The X.509 parsing is the ``cryptography``
package's (pycryptodome cannot read a certificate's serial); signatures are pycryptodome's.
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from Crypto.PublicKey import RSA
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from wxserver.protocol.pay.crypto import decrypt_resource
from wxserver.protocol.pay.errors import PayDecryptError, PayKeyError

__all__ = [
    "PUBLIC_KEY_PREFIX",
    "KeyRing",
    "PlatformKey",
    "canonical_serial",
    "downloaded_certificates",
    "load_certificates",
    "load_private_key",
    "load_public_key",
]

PUBLIC_KEY_PREFIX = "PUB_KEY_ID_"
_HEX = frozenset(string.hexdigits)


def canonical_serial(serial: str) -> str:
    """One spelling per serial: a certificate's hex in capitals without leading zeros.

    WeChat's SDKs print a serial as Java's ``BigInteger.toString(16)`` or Python's ``format``
    does, without leading zeros; a configured or sent one may keep them, or be in lower case.
    """
    text = serial.strip()
    if text.startswith(PUBLIC_KEY_PREFIX) or not text or not set(text) <= _HEX:
        return text
    return format(int(text, 16), "X")


@dataclass(frozen=True, slots=True)
class PlatformKey:
    """A key that verifies WeChat Pay's signatures, and the serial that names it."""

    serial: str
    key: RSA.RsaKey
    # When a certificate stops being valid; None for the public key, which does not expire.
    not_after: datetime | None = None
    not_before: datetime | None = None

    @property
    def is_public_key(self) -> bool:
        """Whether this is the WeChat Pay public key rather than a platform certificate."""
        return self.serial.startswith(PUBLIC_KEY_PREFIX)

    def valid_at(self, now: datetime) -> bool:
        """Whether a signature made at ``now`` may be verified with this key."""
        if self.not_after is not None and now > self.not_after:
            return False
        return self.not_before is None or now >= self.not_before


def _rsa(public_key: object, what: str) -> RSA.RsaKey:
    if not isinstance(public_key, RSAPublicKey):
        raise PayKeyError(f"{what} holds a {type(public_key).__name__}, not an RSA key")
    der = public_key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return RSA.import_key(der)


def load_certificates(pem: bytes, *, origin: str = "the PEM text") -> list[PlatformKey]:
    """Every platform certificate in ``pem`` (one or more), each with its serial and validity."""
    try:
        certificates = x509.load_pem_x509_certificates(pem)
    except ValueError as exc:
        raise PayKeyError(f"{origin} holds no readable PEM certificate ({exc})") from None
    return [
        PlatformKey(
            canonical_serial(format(certificate.serial_number, "X")),
            _rsa(certificate.public_key(), origin),
            not_after=certificate.not_valid_after_utc,
            not_before=certificate.not_valid_before_utc,
        )
        for certificate in certificates
    ]


def load_public_key(key_id: str, pem: bytes, *, origin: str = "the PEM text") -> PlatformKey:
    """The WeChat Pay public key ``key_id`` (``PUB_KEY_ID_...``) from its PEM text."""
    if not key_id.startswith(PUBLIC_KEY_PREFIX):
        raise PayKeyError(f"a WeChat Pay public key ID starts with {PUBLIC_KEY_PREFIX}: {key_id!r}")
    try:
        key = RSA.import_key(pem)
    except (ValueError, IndexError, TypeError):
        raise PayKeyError(f"{origin} holds no readable RSA public key") from None
    if key.has_private():
        key = key.public_key()
    return PlatformKey(key_id.strip(), key)


def load_private_key(pem: bytes, *, origin: str = "the PEM text") -> RSA.RsaKey:
    """A merchant's API private key (apiclient_key.pem), which signs its API requests."""
    try:
        key = RSA.import_key(pem)
    except (ValueError, IndexError, TypeError):
        raise PayKeyError(f"{origin} holds no readable RSA private key") from None
    if not key.has_private():
        raise PayKeyError(f"{origin} holds a public key; the merchant's private key is needed")
    return key


class KeyRing:
    """Platform keys by serial: certificates and the public key side by side."""

    def __init__(self, keys: Iterable[PlatformKey] = ()) -> None:
        self._keys = {key.serial: key for key in keys}

    def find(self, serial: str, now: datetime) -> PlatformKey | None:
        """The key named ``serial`` that is valid at ``now``, or None."""
        key = self._keys.get(canonical_serial(serial))
        return key if key is not None and key.valid_at(now) else None

    def __iter__(self) -> Iterator[PlatformKey]:
        return iter(self._keys.values())

    def __len__(self) -> int:
        return len(self._keys)

    def __or__(self, other: KeyRing) -> KeyRing:
        return KeyRing([*self, *other])


def downloaded_certificates(answer: Mapping[str, Any], apiv3_key: bytes) -> list[str]:
    """The PEM certificates of a ``/v3/certificates`` answer, each decrypted and checked.

    Each is encrypted with the APIv3 key (AEAD_AES_256_GCM, associated data ``certificate``):
    only WeChat Pay and the merchant know that key, so a certificate that decrypts is WeChat
    Pay's. Its serial must be the one the answer names.
    """
    entries = answer.get("data")
    if not isinstance(entries, list):
        raise PayKeyError("the /v3/certificates answer has no data list")
    found: list[str] = []
    for entry in entries:
        sealed = entry.get("encrypt_certificate") if isinstance(entry, Mapping) else None
        if not isinstance(sealed, Mapping):
            raise PayKeyError("a /v3/certificates entry has no encrypt_certificate")
        parts = [sealed.get(name) for name in ("nonce", "associated_data", "ciphertext")]
        if not all(isinstance(part, str) for part in parts):
            raise PayKeyError("a certificate's nonce, associated_data and ciphertext must be text")
        try:
            pem = decrypt_resource(apiv3_key, *(str(part) for part in parts))
        except PayDecryptError as exc:
            raise PayKeyError(f"a downloaded certificate did not decrypt: {exc}") from None
        keys = load_certificates(pem, origin="a downloaded certificate")
        named = canonical_serial(str(entry.get("serial_no", "")))
        if [key.serial for key in keys] != [named]:
            raise PayKeyError(f"a downloaded certificate is not the one named {named!r}")
        found.append(pem.decode("ascii"))
    return found
