"""Verifying a notification's headers: present, fresh, a known serial, a signature that holds."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from tests.pay_support import Signers
from wxserver.protocol.pay.errors import PaySignatureError, PayStaleError, UnknownSerialError
from wxserver.protocol.pay.keys import KeyRing, PlatformKey, load_certificates, load_public_key
from wxserver.protocol.pay.notify import HEADERS, SignedHeaders, read_headers, verify_notification
from wxserver.protocol.pay.simulate import sign_notification

BODY = b'{"id":"EV-1","resource":{}}'
NOW = 1_700_000_000


@pytest.fixture
def ring(pay_signers: Signers) -> KeyRing:
    return KeyRing(
        [
            *load_certificates(pay_signers.certificate.pem),
            load_public_key(pay_signers.public_key.serial, pay_signers.public_key.pem),
        ]
    )


def _find(ring: KeyRing) -> Callable[[str], PlatformKey | None]:
    return lambda serial: ring.find(serial, datetime.now(UTC))


def _headers(pay_signers: Signers, which: str = "certificate") -> SignedHeaders:
    signer = getattr(pay_signers, which)
    signed = sign_notification(BODY, signer.private, signer.serial, timestamp=NOW)
    return read_headers(signed.get)


@pytest.mark.parametrize("which", ["certificate", "public_key"])
def test_verify_accepts_either_kind_of_key(pay_signers: Signers, ring: KeyRing, which: str) -> None:
    key = verify_notification(_headers(pay_signers, which), BODY, NOW + 10, _find(ring))
    assert isinstance(key, PlatformKey)
    assert key.serial == getattr(pay_signers, which).serial


@pytest.mark.parametrize("missing", HEADERS)
def test_read_headers_names_the_missing_one(pay_signers: Signers, missing: str) -> None:
    signer = pay_signers.certificate
    signed = sign_notification(BODY, signer.private, signer.serial)
    del signed[missing]
    with pytest.raises(PaySignatureError, match=missing):
        read_headers(signed.get)


@pytest.mark.parametrize("skew", [-301, 301], ids=["past", "future"])
def test_verify_refuses_a_stale_timestamp(pay_signers: Signers, ring: KeyRing, skew: int) -> None:
    with pytest.raises(PayStaleError, match="outside the 300 s window"):
        verify_notification(_headers(pay_signers), BODY, NOW - skew, _find(ring))


def test_verify_refuses_an_unknown_serial(pay_signers: Signers, ring: KeyRing) -> None:
    with pytest.raises(UnknownSerialError) as caught:
        verify_notification(_headers(pay_signers, "stranger"), BODY, NOW, _find(ring))
    assert caught.value.serial == pay_signers.stranger.serial
    assert caught.value.status == 401


def test_verify_refuses_a_signature_by_another_key(pay_signers: Signers, ring: KeyRing) -> None:
    stranger = pay_signers.stranger
    signed = sign_notification(
        BODY, stranger.private, pay_signers.certificate.serial, timestamp=NOW
    )
    with pytest.raises(PaySignatureError, match="does not verify"):
        verify_notification(read_headers(signed.get), BODY, NOW, _find(ring))


def test_verify_refuses_a_changed_body_and_a_bad_timestamp(
    pay_signers: Signers, ring: KeyRing
) -> None:
    headers = _headers(pay_signers)
    with pytest.raises(PaySignatureError, match="does not verify"):
        verify_notification(headers, BODY + b" ", NOW, _find(ring))
    bad = SignedHeaders("soon", headers.nonce, headers.signature, headers.serial)
    with pytest.raises(PaySignatureError, match="not a number"):
        verify_notification(bad, BODY, NOW, _find(ring))
