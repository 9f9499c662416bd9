"""WeChat Pay's primitives: SHA256-with-RSA over the signed lines, and AEAD_AES_256_GCM."""

from __future__ import annotations

import base64
import re

import pytest
from Crypto.Hash import SHA256
from Crypto.Signature import pkcs1_15

from tests.pay_support import Signers
from wxserver.protocol.pay.crypto import (
    apiv3_key,
    authorization,
    decrypt_resource,
    encrypt_resource,
    sign,
    signed_message,
    verify,
)
from wxserver.protocol.pay.errors import PayDecryptError, PayKeyError

KEY = b"0123456789abcdefghijABCDEFGHIJ01"


def test_signed_message_ends_every_line_with_a_newline() -> None:
    body = b'{"id":"EV-1"}'
    assert signed_message("1700000000", "nonce", body) == b'1700000000\nnonce\n{"id":"EV-1"}\n'


def test_sign_is_pkcs1_v15_over_sha256(pay_signers: Signers) -> None:
    key = pay_signers.certificate.private
    message = signed_message("1700000000", "abc", b"{}")
    expected = pkcs1_15.new(key).sign(SHA256.new(message))
    assert base64.b64decode(sign(key, message)) == expected
    assert verify(key.public_key(), message, sign(key, message))


@pytest.mark.parametrize(
    "change",
    [
        lambda m, s: (m + b"x", s),
        lambda m, s: (m.replace(b"abc", b"abd"), s),
        lambda m, s: (m, s[:-4] + "AAA="),
        lambda m, s: (m, "not base64!"),
        lambda m, s: (m, ""),
    ],
    ids=["body-appended", "nonce-changed", "signature-changed", "not-base64", "empty"],
)
def test_verify_refuses_any_change(pay_signers: Signers, change: object) -> None:
    key = pay_signers.certificate.private
    message = signed_message("1700000000", "abc", b'{"a":1}')
    changed_message, changed_signature = change(message, sign(key, message))  # type: ignore[operator]
    assert not verify(key.public_key(), changed_message, changed_signature)


def test_verify_refuses_another_key(pay_signers: Signers) -> None:
    message = signed_message("1700000000", "abc", b"{}")
    signature = sign(pay_signers.stranger.private, message)
    assert not verify(pay_signers.certificate.private.public_key(), message, signature)


def test_resource_round_trip_with_tag_appended() -> None:
    sealed = encrypt_resource(KEY, "0123456789ab", "transaction", b'{"x":1}')
    assert len(base64.b64decode(sealed)) == len(b'{"x":1}') + 16
    assert decrypt_resource(KEY, "0123456789ab", "transaction", sealed) == b'{"x":1}'


@pytest.mark.parametrize(
    ("key", "nonce", "associated", "tamper"),
    [
        (b"X" * 32, "0123456789ab", "transaction", False),
        (KEY, "0123456789ac", "transaction", False),
        (KEY, "0123456789ab", "refund", False),
        (KEY, "0123456789ab", "transaction", True),
    ],
    ids=["other-key", "other-nonce", "other-associated-data", "ciphertext-flipped"],
)
def test_resource_that_was_altered_does_not_decrypt(
    key: bytes, nonce: str, associated: str, tamper: bool
) -> None:
    sealed = encrypt_resource(KEY, "0123456789ab", "transaction", b'{"x":1}')
    if tamper:
        raw = bytearray(base64.b64decode(sealed))
        raw[0] ^= 1
        sealed = base64.b64encode(bytes(raw)).decode()
    with pytest.raises(PayDecryptError, match="does not authenticate"):
        decrypt_resource(key, nonce, associated, sealed)


@pytest.mark.parametrize(
    ("ciphertext", "nonce", "match"),
    [
        ("%%%", "n", "base64"),
        ("AAAA", "n", "shorter"),
        (base64.b64encode(b"x" * 20).decode(), "", "nonce"),
    ],
    ids=["not-base64", "shorter-than-tag", "no-nonce"],
)
def test_resource_malformed_is_a_decrypt_error(ciphertext: str, nonce: str, match: str) -> None:
    with pytest.raises(PayDecryptError, match=match):
        decrypt_resource(KEY, nonce, "", ciphertext)


def test_apiv3_key_is_32_bytes() -> None:
    assert apiv3_key("a" * 32) == b"a" * 32
    with pytest.raises(PayKeyError, match="not 31"):
        apiv3_key("a" * 31)


def test_authorization_signs_method_path_timestamp_nonce_body(pay_signers: Signers) -> None:
    key = pay_signers.certificate.private
    header = authorization(
        "1900000109",
        "ABC123",
        key,
        ("GET", "/v3/certificates", b""),
        timestamp=1700000000,
        nonce="n1",
    )
    scheme, _, fields = header.partition(" ")
    values = dict(re.findall(r'(\w+)="([^"]*)"', fields))
    assert scheme == "WECHATPAY2-SHA256-RSA2048"
    assert values["mchid"] == "1900000109"
    assert values["serial_no"] == "ABC123"
    assert (values["timestamp"], values["nonce_str"]) == ("1700000000", "n1")
    signed = signed_message("GET", "/v3/certificates", "1700000000", "n1", b"")
    assert verify(key.public_key(), signed, values["signature"])
