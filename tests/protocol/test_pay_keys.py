"""Platform keys by serial: certificates read with their serial, the public key by its ID."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.pay_keys import certificate, certificate_signer, rsa_key
from tests.pay_support import Signers
from wxserver.protocol.pay.crypto import encrypt_resource
from wxserver.protocol.pay.errors import PayKeyError
from wxserver.protocol.pay.keys import (
    KeyRing,
    canonical_serial,
    downloaded_certificates,
    load_certificates,
    load_private_key,
    load_public_key,
)

NOW = datetime.now(UTC)
KEY = b"0123456789abcdefghijABCDEFGHIJ01"


@pytest.mark.parametrize(
    ("serial", "canonical"),
    [
        ("5157f09efdc096de15ebe81a47057a7232f1b8e1", "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"),
        ("0A1B", "A1B"),
        ("PUB_KEY_ID_0114232134912410000000000000", "PUB_KEY_ID_0114232134912410000000000000"),
        ("not-hex", "not-hex"),
    ],
    ids=["lower-case", "leading-zero", "public-key-id", "not-hex"],
)
def test_canonical_serial(serial: str, canonical: str) -> None:
    assert canonical_serial(serial) == canonical


def test_load_certificates_reads_each_serial_and_validity() -> None:
    first, second = certificate_signer(serial=0x5157F09E), certificate_signer(serial=0x0BEEF)
    keys = load_certificates(first.pem + second.pem)
    assert [key.serial for key in keys] == ["5157F09E", "BEEF"]
    assert all(key.not_after is not None and key.not_after > NOW for key in keys)
    assert not keys[0].is_public_key


def test_load_certificates_refuses_other_text() -> None:
    with pytest.raises(PayKeyError, match="no readable PEM certificate"):
        load_certificates(b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")


def test_public_key_is_named_by_its_id(pay_signers: Signers) -> None:
    signer = pay_signers.public_key
    key = load_public_key(signer.serial, signer.pem)
    assert key.is_public_key
    assert key.not_after is None
    with pytest.raises(PayKeyError, match="starts with PUB_KEY_ID_"):
        load_public_key("1234", signer.pem)
    with pytest.raises(PayKeyError, match="no readable RSA public key"):
        load_public_key(signer.serial, b"nonsense")


def test_private_key_must_be_private(pay_signers: Signers) -> None:
    pem = pay_signers.certificate.private.export_key("PEM", pkcs=8)
    assert load_private_key(pem if isinstance(pem, bytes) else pem.encode()).has_private()
    with pytest.raises(PayKeyError, match="holds a public key"):
        load_private_key(pay_signers.public_key.pem)


def test_key_ring_finds_both_kinds_and_skips_expired(pay_signers: Signers) -> None:
    key, _ = rsa_key()
    expired = load_certificates(
        certificate(key, 0xDEAD, valid_from=NOW - timedelta(days=10), valid_days=5)
    )
    ring = KeyRing(
        [
            *load_certificates(pay_signers.certificate.pem),
            load_public_key(pay_signers.public_key.serial, pay_signers.public_key.pem),
            *expired,
        ]
    )
    assert ring.find(pay_signers.certificate.serial.lower(), NOW) is not None
    assert ring.find(pay_signers.public_key.serial, NOW) is not None
    assert ring.find("DEAD", NOW) is None
    assert ring.find("DEAD", NOW - timedelta(days=7)) is not None
    assert ring.find("BEEF", NOW) is None
    assert len(ring) == 3


def _answer(pems: list[tuple[str, bytes]], key: bytes = KEY) -> dict[str, object]:
    return {
        "data": [
            {
                "serial_no": serial,
                "effective_time": "2024-01-01T00:00:00+08:00",
                "expire_time": "2029-01-01T00:00:00+08:00",
                "encrypt_certificate": {
                    "algorithm": "AEAD_AES_256_GCM",
                    "nonce": "61f9c719728a",
                    "associated_data": "certificate",
                    "ciphertext": encrypt_resource(key, "61f9c719728a", "certificate", pem),
                },
            }
            for serial, pem in pems
        ]
    }


def test_downloaded_certificates_decrypt_and_check_their_serial(pay_signers: Signers) -> None:
    signer = pay_signers.certificate
    assert downloaded_certificates(_answer([(signer.serial, signer.pem)]), KEY) == [
        signer.pem.decode()
    ]
    with pytest.raises(PayKeyError, match="not the one named"):
        downloaded_certificates(_answer([("ABCD", signer.pem)]), KEY)
    with pytest.raises(PayKeyError, match="did not decrypt"):
        downloaded_certificates(_answer([(signer.serial, signer.pem)], b"Y" * 32), KEY)
    with pytest.raises(PayKeyError, match="no data list"):
        downloaded_certificates({"code": "X"}, KEY)
