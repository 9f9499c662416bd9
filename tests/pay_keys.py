"""WeChat Pay keys made in the test: RSA 2048 platform keys, certificates, a random APIv3 key.

Nothing here is WeChat's: every key is generated when the test session first asks for it, and the
certificates are self-signed with the serial the test chooses.
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from Crypto.PublicKey import RSA
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

MCH_ID = "1900000109"
PUBLIC_KEY_ID = "PUB_KEY_ID_0119000001092024052000000000000001"
# A merchant API certificate's serial, as the merchant console shows it.
MERCHANT_SERIAL = "3775B6A45ACD588826D15E583A95F5DD00000000"


def apiv3_key() -> str:
    """A random APIv3 key: 32 letters and digits, as the merchant console takes."""
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(32))


@dataclass(frozen=True)
class Signer:
    """A platform key that signs: its private half, its serial and its public PEM."""

    private: RSA.RsaKey
    serial: str
    pem: bytes  # a certificate, or a public key (PUB_KEY_ID_...)

    def write(self, folder: Path, name: str) -> Path:
        path = folder / name
        path.write_bytes(self.pem)
        return path


def rsa_key() -> tuple[rsa.RSAPrivateKey, RSA.RsaKey]:
    """A fresh RSA 2048 key, as cryptography's and pycryptodome's objects."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return key, RSA.import_key(pem)


def certificate(
    key: rsa.RSAPrivateKey,
    serial: int,
    *,
    valid_from: datetime | None = None,
    valid_days: float = 365,
) -> bytes:
    """A self-signed certificate of ``key`` with serial number ``serial``, in PEM."""
    start = valid_from or datetime.now(UTC) - timedelta(days=1)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Tenpay.com Root CA test")])
    built = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=valid_days))
        .sign(key, hashes.SHA256())
    )
    return built.public_bytes(serialization.Encoding.PEM)


def certificate_signer(serial: int | None = None, **validity: Any) -> Signer:
    """A platform certificate and its private key; the serial as WeChat Pay prints it."""
    number = serial if serial is not None else secrets.randbits(158) | (1 << 156)
    key, private = rsa_key()
    return Signer(private, format(number, "X"), certificate(key, number, **validity))


def public_key_signer(key_id: str = PUBLIC_KEY_ID) -> Signer:
    """A WeChat Pay public key (微信支付公钥) and its private half."""
    _, private = rsa_key()
    pem = private.public_key().export_key("PEM")
    return Signer(private, key_id, pem if isinstance(pem, bytes) else pem.encode())


def private_pem(key: RSA.RsaKey) -> bytes:
    """A private key in PEM (PKCS#8), as apiclient_key.pem holds it."""
    pem = key.export_key("PEM", pkcs=8)
    return pem if isinstance(pem, bytes) else pem.encode()
